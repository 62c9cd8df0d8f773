import { LOGOS } from './logos.ts';

/** What Plinth needs to know about a user from any provider. */
export interface OAuth2User {
  id: string;
  name: string;
  username: string;
  email: string;
  /** Only a provider's explicit statement counts; anything else is unverified. */
  emailVerified: boolean;
  avatarURL: string;
  rawUser: Record<string, unknown>;
}

/** A provider's fixed facts. Collections supply the client id and secret, and may override URLs. */
export interface ProviderPreset {
  displayName: string;
  authURL: string;
  tokenURL: string;
  /** Empty when the identity comes from the ID token alone (Apple). */
  userInfoURL: string;
  scopes: string[];
  /** Extra authorization request parameters the provider needs. */
  authParams?: Record<string, string>;
  /** OpenID Connect: the ID token is verified against these issuers and this key set. */
  oidc?: { issuers: string[]; jwksURL: string };
  mapUser(raw: Record<string, unknown>): OAuth2User;
  /** A second call some providers need for a verified email (GitHub). */
  verifiedEmail?: { url: string; pick(list: unknown): string };
}

const str = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
/** `true` or the string "true" (Apple sends strings), nothing else. */
const yes = (v: unknown) => v === true || v === 'true';

/** The claims every OpenID Connect provider uses. */
export function mapOidcUser(raw: Record<string, unknown>): OAuth2User {
  return {
    id: str(raw.sub),
    name: str(raw.name),
    username: str(raw.preferred_username ?? raw.nickname),
    email: str(raw.email),
    emailVerified: yes(raw.email_verified),
    avatarURL: str(raw.picture),
    rawUser: raw,
  };
}

export const PRESETS: Record<string, ProviderPreset> = {
  google: {
    displayName: 'Google',
    authURL: 'https://accounts.google.com/o/oauth2/v2/auth',
    tokenURL: 'https://oauth2.googleapis.com/token',
    userInfoURL: 'https://openidconnect.googleapis.com/v1/userinfo',
    scopes: ['openid', 'email', 'profile'],
    oidc: {
      issuers: ['https://accounts.google.com', 'accounts.google.com'],
      jwksURL: 'https://www.googleapis.com/oauth2/v3/certs',
    },
    mapUser: mapOidcUser,
  },
  github: {
    displayName: 'GitHub',
    authURL: 'https://github.com/login/oauth/authorize',
    tokenURL: 'https://github.com/login/oauth/access_token',
    userInfoURL: 'https://api.github.com/user',
    scopes: ['read:user', 'user:email'],
    // The profile's public email says nothing about verification: ask for the verified primary one.
    mapUser: (raw) => ({
      id: str(raw.id),
      name: str(raw.name),
      username: str(raw.login),
      email: '',
      emailVerified: false,
      avatarURL: str(raw.avatar_url),
      rawUser: raw,
    }),
    verifiedEmail: {
      url: 'https://api.github.com/user/emails',
      pick: (list) =>
        Array.isArray(list)
          ? str(
              (list as Record<string, unknown>[]).find((e) => e && e.primary === true && e.verified === true)
                ?.email,
            )
          : '',
    },
  },
  gitlab: {
    displayName: 'GitLab',
    authURL: 'https://gitlab.com/oauth/authorize',
    tokenURL: 'https://gitlab.com/oauth/token',
    userInfoURL: 'https://gitlab.com/oauth/userinfo',
    scopes: ['openid', 'email', 'profile'],
    oidc: { issuers: ['https://gitlab.com'], jwksURL: 'https://gitlab.com/oauth/discovery/keys' },
    mapUser: mapOidcUser,
  },
  microsoft: {
    displayName: 'Microsoft',
    authURL: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize',
    tokenURL: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    userInfoURL: 'https://graph.microsoft.com/oidc/userinfo',
    scopes: ['openid', 'email', 'profile'],
    // The "common" endpoint's ID tokens carry each tenant's own issuer; identity comes from userinfo,
    // and Microsoft's email claim is not a verified address (any tenant admin can set it).
    mapUser: (raw) => ({ ...mapOidcUser(raw), emailVerified: false }),
  },
  apple: {
    displayName: 'Apple',
    authURL: 'https://appleid.apple.com/auth/authorize',
    tokenURL: 'https://appleid.apple.com/auth/token',
    userInfoURL: '',
    scopes: ['name', 'email'],
    // Apple sends the code as a form POST when name or email is asked for.
    authParams: { response_mode: 'form_post' },
    oidc: { issuers: ['https://appleid.apple.com'], jwksURL: 'https://appleid.apple.com/auth/keys' },
    mapUser: mapOidcUser,
  },
  discord: {
    displayName: 'Discord',
    authURL: 'https://discord.com/oauth2/authorize',
    tokenURL: 'https://discord.com/api/oauth2/token',
    userInfoURL: 'https://discord.com/api/users/@me',
    scopes: ['identify', 'email'],
    mapUser: (raw) => ({
      id: str(raw.id),
      name: str(raw.global_name),
      username: str(raw.username),
      email: str(raw.email),
      emailVerified: yes(raw.verified),
      avatarURL: raw.avatar ? `https://cdn.discordapp.com/avatars/${str(raw.id)}/${str(raw.avatar)}.png` : '',
      rawUser: raw,
    }),
  },
};

/** Generic OpenID Connect slots (PocketBase has `oidc`, `oidc2`, `oidc3`): every URL comes from the collection. */
export const GENERIC_OIDC = ['oidc', 'oidc2', 'oidc3'];
/** What a generic slot is called when its entry names nothing else (PocketBase's name for it). */
const GENERIC_DISPLAY_NAME = 'OIDC';

/** The order PocketBase lists its providers in (the dashboard shows them so); the generic slots come last. */
const LIST_ORDER = ['apple', 'google', 'microsoft', 'github', 'gitlab', 'discord'];

/** A provider's inline SVG logo ('' if it has none): the generic slots share one. */
export function providerLogo(name: string): string {
  const key = GENERIC_OIDC.includes(name) ? 'oidc' : name;
  return Object.hasOwn(LOGOS, key) ? (LOGOS[key] ?? '') : '';
}

/** Every provider this server can sign in with, as `GET /api/collections/meta/oauth2-providers` lists them. */
export function listProviders(): { name: string; displayName: string; logo: string }[] {
  const named = LIST_ORDER.filter((name) => Object.hasOwn(PRESETS, name));
  const rest = Object.keys(PRESETS).filter((name) => !LIST_ORDER.includes(name));
  return [
    ...[...named, ...rest.sort()].map((name) => ({
      name,
      displayName: PRESETS[name]!.displayName,
      logo: providerLogo(name),
    })),
    ...GENERIC_OIDC.map((name) => ({ name, displayName: GENERIC_DISPLAY_NAME, logo: providerLogo(name) })),
  ];
}

/** Provider entry as a collection stores it (PocketBase's shape). */
export interface ProviderConfig {
  name: string;
  clientId?: string;
  clientSecret?: string;
  authURL?: string;
  tokenURL?: string;
  userInfoURL?: string;
  displayName?: string;
  pkce?: boolean | null;
  extra?: { jwksURL?: string; issuers?: string[]; scopes?: string[] } | null;
}

/** The preset with the collection's overrides; undefined for an unknown name or a generic slot without URLs. */
export function resolveProvider(config: ProviderConfig): ProviderPreset | undefined {
  const generic = GENERIC_OIDC.includes(config.name);
  const preset = generic || !Object.hasOwn(PRESETS, config.name) ? undefined : PRESETS[config.name];
  if (!generic && !preset) return undefined;
  const extra = config.extra ?? {};
  const merged: ProviderPreset = {
    displayName: config.displayName || preset?.displayName || GENERIC_DISPLAY_NAME,
    authURL: config.authURL || preset?.authURL || '',
    tokenURL: config.tokenURL || preset?.tokenURL || '',
    userInfoURL: config.userInfoURL || preset?.userInfoURL || '',
    scopes: Array.isArray(extra.scopes)
      ? extra.scopes.map(String)
      : (preset?.scopes ?? ['openid', 'email', 'profile']),
    mapUser: preset?.mapUser ?? mapOidcUser,
    ...(preset?.authParams ? { authParams: preset.authParams } : {}),
    ...(preset?.verifiedEmail ? { verifiedEmail: preset.verifiedEmail } : {}),
  };
  const jwksURL = extra.jwksURL || preset?.oidc?.jwksURL;
  const issuers = Array.isArray(extra.issuers) ? extra.issuers.map(String) : preset?.oidc?.issuers;
  if (jwksURL && issuers?.length) merged.oidc = { jwksURL, issuers };
  if (!merged.authURL || !merged.tokenURL || (!merged.userInfoURL && !merged.oidc)) return undefined;
  return merged;
}
