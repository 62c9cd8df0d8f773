import type { Collection } from '../schema/index.ts';
import { option } from './context.ts';

/** One OAuth2 provider as `auth-methods` lists it (PocketBase's field order). */
export interface ProviderMethod {
  name: string;
  displayName: string;
  logo: string;
  state: string;
  authURL: string;
  authUrl: string;
  codeVerifier: string;
  codeChallenge: string;
  codeChallengeMethod: string;
}

/**
 * `GET /api/collections/{c}/auth-methods` in PocketBase's shape, key order included: the four sections,
 * then the fields PocketBase still sends for clients from before v0.23 (`authProviders` without logos,
 * `null` when OAuth2 is off; `usernamePassword`, `emailPassword`). A switched-off method lists nothing.
 */
export function authMethods(
  collection: Collection,
  oauth2: { enabled: boolean; providers: ProviderMethod[] },
) {
  const password = option(collection, 'passwordAuth', { enabled: false, identityFields: [] as string[] });
  const mfa = option(collection, 'mfa', { enabled: false, duration: 0 });
  const otp = option(collection, 'otp', { enabled: false, duration: 0 });
  const passwordOn = password.enabled === true;
  const identityFields = passwordOn && Array.isArray(password.identityFields) ? password.identityFields : [];
  return {
    password: { identityFields, enabled: passwordOn },
    oauth2: { providers: oauth2.providers, enabled: oauth2.enabled },
    mfa: { enabled: mfa.enabled === true, duration: mfa.enabled === true ? Number(mfa.duration) || 0 : 0 },
    otp: { enabled: otp.enabled === true, duration: otp.enabled === true ? Number(otp.duration) || 0 : 0 },
    authProviders: oauth2.enabled ? oauth2.providers.map((p) => ({ ...p, logo: '' })) : null,
    usernamePassword: passwordOn && identityFields.includes('username'),
    emailPassword: passwordOn && identityFields.includes('email'),
  };
}
