import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { badRequest, fieldError, forbidden } from '../../errors/index.ts';
import { isPlainObject, randomString } from '../../lib/index.ts';
import type { AuthContext, RecordValues, Upload } from '../../records/index.ts';
import { type Collection, EXTERNAL_AUTHS_NAME } from '../../schema/index.ts';
import { claimUnverified } from '../claim.ts';
import { type AuthDeps, type Client, option, SYSTEM, sendInBackground, templateOf } from '../context.ts';
import { FormErrors, length, readForm, required, unreadable } from '../form.ts';
import type { ProviderMethod } from '../methods.ts';
import { deleteRows, insertRow } from '../rows.ts';
import type { AuthResponse, Issued } from '../service.ts';
import { downloadAvatar } from './avatar.ts';
import { ProviderError, providerRequest } from './http.ts';
import {
  type OAuth2User,
  type ProviderConfig,
  type ProviderPreset,
  providerLogo,
  resolveProvider,
} from './providers.ts';

const VERIFIER_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
const ID_TOKEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA'];

const sha256 = (text: string) => createHash('sha256').update(text).digest('base64url');
/**
 * The OIDC nonce is derived from the PKCE verifier, which only the client that started the flow holds:
 * the server stays stateless, and an ID token minted for another sign-in attempt does not match.
 */
export const nonceFor = (codeVerifier: string) => sha256(`plinth-oidc-nonce:${codeVerifier}`);

interface Oauth2Options {
  enabled: boolean;
  providers: ProviderConfig[];
  mappedFields: { id?: string; name?: string; username?: string; avatarURL?: string };
}

const failed = () => badRequest('Failed to authenticate with the OAuth2 provider.');

export function createOAuth2Flow(deps: AuthDeps, signIn: (input: Issued) => Promise<AuthResponse>) {
  const { records } = deps;
  const keySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const keySet = (url: string) => {
    let set = keySets.get(url);
    if (!set) {
      set = createRemoteJWKSet(new URL(url), { timeoutDuration: 10_000 });
      keySets.set(url, set);
    }
    return set;
  };

  /**
   * A new way into an existing account is worth a mail (the authAlert template): linking needs only a
   * valid token, so an owner whose token was stolen learns of it. New accounts get none.
   */
  function alertLinked(collection: Collection, record: RecordValues, provider: string) {
    if (!option(collection, 'authAlert', { enabled: true }).enabled || !record.email) return;
    const when = new Date().toISOString().replace('T', ' ').slice(0, 19);
    sendInBackground(
      deps,
      templateOf(collection, 'authAlert', 'emailTemplate'),
      String(record.email),
      { ALERT_INFO: `a ${provider} sign-in was linked to your account on ${when} UTC` },
      record,
      'authAlert',
    );
  }

  const optionsOf = (collection: Collection) =>
    option<Oauth2Options>(collection, 'oauth2', { enabled: false, providers: [], mappedFields: {} });

  /** The user the provider vouches for, after checking everything the protocol lets us check. */
  async function exchange(
    config: ProviderConfig,
    preset: ProviderPreset,
    input: { code: string; codeVerifier: string; redirectURL: string },
  ): Promise<{ user: OAuth2User; token: Record<string, unknown> }> {
    const pkce = config.pkce !== false;
    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: input.code,
      redirect_uri: input.redirectURL,
      client_id: config.clientId ?? '',
      client_secret: config.clientSecret ?? '',
    });
    if (pkce) form.set('code_verifier', input.codeVerifier);
    const token = (await providerRequest(preset.tokenURL, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form,
    })) as Record<string, unknown>;
    const accessToken = typeof token.access_token === 'string' ? token.access_token : '';
    if (!accessToken && !preset.oidc) throw new ProviderError('no access token in the token response');

    let claims: Record<string, unknown> | undefined;
    if (preset.oidc) {
      if (typeof token.id_token !== 'string') throw new ProviderError('no ID token in the token response');
      const { payload } = await jwtVerify(token.id_token, keySet(preset.oidc.jwksURL), {
        issuer: preset.oidc.issuers,
        audience: config.clientId ?? '',
        algorithms: ID_TOKEN_ALGS,
        requiredClaims: ['sub', 'exp', 'iat'],
      }).catch((err: Error) => {
        throw new ProviderError(`ID token rejected: ${err.message}`);
      });
      if (pkce && payload.nonce !== nonceFor(input.codeVerifier))
        throw new ProviderError('ID token nonce mismatch');
      claims = payload as Record<string, unknown>;
    }

    const bearer = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
    let raw: Record<string, unknown>;
    if (preset.userInfoURL) {
      const info = await providerRequest(preset.userInfoURL, { headers: bearer });
      if (Array.isArray(info)) throw new ProviderError('user info is not an object');
      raw = info;
      if (claims && String(raw.sub ?? '') !== String(claims.sub))
        throw new ProviderError('user info and ID token name different users');
    } else {
      raw = claims ?? {};
    }
    const user = preset.mapUser(raw);
    if (preset.verifiedEmail) {
      const email = preset.verifiedEmail.pick(
        await providerRequest(preset.verifiedEmail.url, { headers: bearer }),
      );
      if (email) Object.assign(user, { email, emailVerified: true });
    }
    if (!user.id) throw new ProviderError('the provider did not say who the user is');
    return { user, token };
  }

  /**
   * Finds or makes the record an OAuth2 identity signs in to. An identity already linked wins. An email
   * match links only if the provider verified that email; if the existing account never verified it (it
   * may have been registered by someone else to pre-hijack it), the account is taken over cleanly:
   * verified, a new random password, every session ended and every other linked identity removed.
   */
  async function resolveRecord(
    collection: Collection,
    provider: string,
    user: OAuth2User,
    createData: Record<string, unknown>,
    auth: AuthContext,
    mapped: Oauth2Options['mappedFields'],
  ): Promise<{ record: RecordValues; isNew: boolean }> {
    const q = deps.db.dialect.quote;
    const links = await deps.db.run<Record<string, unknown>>(
      deps.db.kysely,
      `SELECT ${q('id')}, ${q('recordRef')} FROM ${q(EXTERNAL_AUTHS_NAME)} WHERE ${q('collectionRef')} = ? AND ${q('provider')} = ? AND ${q('providerId')} = ?`,
      [collection.id, provider, user.id],
    );
    const link = links[0];
    const refs = (record: RecordValues) => ({
      collectionRef: collection.id,
      recordRef: String(record.id),
      provider,
      providerId: user.id,
    });
    /** One identity per provider per account (PocketBase's unique index): a second one is a 400, not a 500. */
    const linkTo = async (record: RecordValues) => {
      const taken = await deps.db.run(
        deps.db.kysely,
        `SELECT 1 AS one FROM ${q(EXTERNAL_AUTHS_NAME)} WHERE ${q('collectionRef')} = ? AND ${q('recordRef')} = ? AND ${q('provider')} = ?`,
        [collection.id, String(record.id), provider],
      );
      const conflict = () =>
        badRequest('The account is already linked to another identity from this provider.');
      if (taken.length) throw conflict();
      try {
        await insertRow(deps.db, EXTERNAL_AUTHS_NAME, refs(record));
      } catch (err) {
        // Two first sign-ins with one identity at once: the unique indexes let one through.
        if (deps.db.dialect.translateError(err)?.kind === 'unique') throw conflict();
        throw err;
      }
    };

    // Signed in already: link the identity to this account (unless it belongs to another).
    if (auth.record && auth.collection?.id === collection.id) {
      if (link && link.recordRef !== auth.record.id)
        throw badRequest('This OAuth2 identity is already linked to another account.');
      if (!link) {
        await linkTo(auth.record);
        alertLinked(collection, auth.record, provider);
      }
      return {
        record: (await records.find(collection, String(auth.record.id))) ?? auth.record,
        isNew: false,
      };
    }
    if (link) {
      const linked = await records.find(collection, String(link.recordRef));
      if (linked) return { record: linked, isNew: false };
      await deleteRows(deps.db, EXTERNAL_AUTHS_NAME, { id: String(link.id) });
    }

    const existing = user.email ? await records.findBy(collection, 'email', user.email, true) : undefined;
    if (existing) {
      if (!user.emailVerified)
        throw badRequest(
          'An account with this email already exists; sign in to it first, then link this provider.',
        );
      const claimed =
        existing.verified === true ? existing : await claimUnverified(deps, collection, existing, false);
      await linkTo(claimed);
      alertLinked(collection, claimed, provider);
      return { record: claimed, isNew: false };
    }

    // A new account, under the collection's create rule, as a guest signing up would be.
    const password = randomString(40, VERIFIER_ALPHABET);
    const data: Record<string, unknown> = { ...createData, password, passwordConfirm: password };
    if (user.email) data.email = user.email;
    const names = new Set(collection.fields.map((f) => f.name));
    const avatarField = collection.fields.find((f) => f.name === mapped.avatarURL && f.type === 'file');
    for (const [from, to] of Object.entries(mapped)) {
      const value = user[from as keyof OAuth2User];
      if (to && names.has(to) && typeof value === 'string' && value && data[to] === undefined)
        data[to] = value;
    }
    // Mapped to a file field, the avatar is downloaded into it (unless createData set the field).
    let avatar: Upload | undefined;
    if (avatarField && data[avatarField.name] === user.avatarURL && user.avatarURL) {
      delete data[avatarField.name];
      avatar = await downloadAvatar(deps.avatars, avatarField, user.avatarURL, deps.log);
      if (avatar) data[avatarField.name] = avatar.name;
    }
    let created: RecordValues;
    try {
      const uploads = avatar ? new Map([[avatar.name, avatar]]) : undefined;
      created = await records.create(collection, data, auth, { uploads });
    } finally {
      if (avatar) await rm(avatar.path, { force: true });
    }
    if (user.emailVerified && user.email)
      await records.update(collection, String(created.id), { verified: true }, SYSTEM);
    const record = (await records.find(collection, String(created.id)))!;
    await linkTo(record);
    return { record, isNew: true };
  }

  return {
    /** The providers' sign-in links for `auth-methods`, each with a fresh state and PKCE pair. */
    oauth2Methods(collection: Collection): { enabled: boolean; providers: ProviderMethod[] } {
      const o = optionsOf(collection);
      if (!o.enabled) return { enabled: false, providers: [] };
      const providers: ProviderMethod[] = [];
      for (const config of o.providers ?? []) {
        const preset = resolveProvider(config);
        if (!preset || !config.clientId) continue;
        const state = randomString(30);
        const params = new URLSearchParams({
          client_id: config.clientId,
          response_type: 'code',
          scope: preset.scopes.join(' '),
          state,
          ...preset.authParams,
        });
        let codeVerifier = '';
        let codeChallenge = '';
        if (config.pkce !== false) {
          codeVerifier = randomString(56, VERIFIER_ALPHABET);
          codeChallenge = sha256(codeVerifier);
          params.set('code_challenge', codeChallenge);
          params.set('code_challenge_method', 'S256');
          if (preset.oidc || preset.scopes.includes('openid')) params.set('nonce', nonceFor(codeVerifier));
        }
        const sep = preset.authURL.includes('?') ? '&' : '?';
        // The empty redirect_uri goes last: clients append their own.
        const authURL = `${preset.authURL}${sep}${params.toString()}&redirect_uri=`;
        providers.push({
          name: config.name,
          displayName: preset.displayName,
          logo: providerLogo(config.name),
          state,
          authURL,
          // The spelling PocketBase's clients before v0.23 read; it still sends both.
          authUrl: authURL,
          codeVerifier,
          codeChallenge,
          codeChallengeMethod: codeVerifier ? 'S256' : '',
        });
      }
      return { enabled: true, providers };
    },

    async authWithOAuth2(
      collection: Collection,
      input: unknown,
      auth: AuthContext,
      client: Client,
    ): Promise<AuthResponse> {
      const o = optionsOf(collection);
      // 403, as PocketBase answers a method the collection has switched off.
      if (!o.enabled) throw forbidden('The collection is not configured to allow OAuth2 authentication.');
      const { values, raw } = readForm(input, [
        'provider',
        'code',
        'codeVerifier',
        'redirectURL',
        'redirectUrl',
      ]);
      if (raw.createData !== undefined && raw.createData !== null && !isPlainObject(raw.createData))
        throw unreadable();
      const { provider: providerName, code, codeVerifier } = values;
      // `redirectUrl` is the name PocketBase's older clients send.
      const redirectURL = values.redirectURL || values.redirectUrl;
      const config = o.providers.find((p) => p.name === providerName);
      const preset = config && resolveProvider(config);
      const errors = new FormErrors();
      errors.add('provider', required(providerName) ?? length(providerName, 0, 100));
      if (!config || !preset || !config.clientId)
        errors.add(
          'provider',
          fieldError(
            'validation_invalid_provider',
            `Provider with name ${providerName} is missing or is not enabled.`,
            {
              name: providerName,
            },
          ),
        );
      errors.add('code', required(code) ?? length(code, 1, 4096));
      // Optional, as in PocketBase (a provider refuses the exchange without what it needs), but bounded.
      errors.add('codeVerifier', length(codeVerifier, 1, 128));
      // Any URI the provider registered: http(s), or an app's own scheme (`com.example.app:/oauth2`).
      if (
        redirectURL &&
        (redirectURL.length > 2048 ||
          !/^[a-z][a-z0-9+.-]*:\S+$/i.test(redirectURL) ||
          /^(javascript|data|vbscript|file):/i.test(redirectURL))
      )
        errors.add(
          'redirectURL',
          fieldError('validation_invalid_url', 'Must be a URL the provider redirects to.'),
        );
      errors.check('An error occurred while loading the submitted data.');
      // For TypeScript: a missing provider was reported just above.
      if (!config || !preset) throw failed();
      // Without the verifier a PKCE exchange can only fail: no call to the provider for it.
      if (config.pkce !== false && !codeVerifier) throw failed();

      let exchanged: Awaited<ReturnType<typeof exchange>>;
      try {
        exchanged = await exchange(config, preset, { code, codeVerifier, redirectURL });
      } catch (err) {
        deps.log.warn({ provider: providerName, reason: (err as Error).message }, 'OAuth2 sign-in refused');
        throw failed();
      }
      const { user, token } = exchanged;
      const createData = isPlainObject(raw.createData) ? raw.createData : {};
      const { record, isNew } = await resolveRecord(
        collection,
        providerName,
        user,
        createData,
        auth,
        o.mappedFields,
      );
      const expiresIn = Number(token.expires_in);
      const meta = {
        id: user.id,
        name: user.name,
        username: user.username,
        email: user.email,
        avatarURL: user.avatarURL,
        accessToken: typeof token.access_token === 'string' ? token.access_token : '',
        refreshToken: typeof token.refresh_token === 'string' ? token.refresh_token : '',
        expiry: Number.isFinite(expiresIn)
          ? new Date(Date.now() + expiresIn * 1000).toISOString().replace('T', ' ')
          : '',
        isNew,
        rawUser: user.rawUser,
      };
      return signIn({ collection, record, method: 'oauth2', client, body: raw, meta });
    },
  };
}
