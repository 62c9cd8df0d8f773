import { ApiError, badRequest, fieldError, forbidden, notFound, unauthorized } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';
import { type AuthContext, GUEST, type RecordValues } from '../records/index.ts';
import { type Collection, identityIndex, SUPERUSERS_ID } from '../schema/index.ts';
import { noteAuthOrigin } from './alerts.ts';
import {
  type AuthDeps,
  type Client,
  option,
  ownerOf,
  SYSTEM,
  signingIn,
  throttleKeys,
  tokenSeconds,
} from './context.ts';
import { FormErrors, length, readForm, required, unreadable } from './form.ts';
import { INSTALLER_TTL_SECONDS } from './installer.ts';
import { KEY_ALGS, type KeyAlg } from './keys.ts';
import { checkMfa } from './mfa.ts';
import type { SessionMethod } from './sessions.ts';
import { inSeconds, signToken, verifyToken } from './tokens.ts';

/** The longest impersonation token a superuser may ask for: a year. */
const MAX_IMPERSONATION_SECONDS = 365 * 86400;

export interface AuthResponse {
  token: string;
  record: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** Auth's answer once a method has proven who the caller is. */
export interface Issued {
  collection: Collection;
  record: RecordValues;
  method: SessionMethod;
  client: Client;
  /** The request body: `mfaId` continues a multi-factor sign-in. */
  body: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

export function createCore(deps: AuthDeps) {
  const { collections, records, keys, sessions, throttle } = deps;

  /**
   * Turns a proven identity into a session and a token, for every method alike: the authRule decides
   * whether this record may sign in at all (`null`: nobody), then the MFA policy has its say.
   */
  async function signIn(input: Issued): Promise<AuthResponse> {
    const { collection, record, method, client } = input;
    const caller = signingIn(collection, record, client, method);
    // One answer for records the authRule turns away and for wrong credentials.
    if (!(await records.meetsRule(collection, 'authRule', String(record.id), caller)))
      throw badRequest('Failed to authenticate.');
    await checkMfa(deps, collection, record, method, client.mfaId ?? input.body.mfaId, caller);
    const session = await sessions.create({
      collectionId: collection.id,
      recordId: String(record.id),
      isSuperuser: collection.id === SUPERUSERS_ID,
      method,
      ip: client.ip,
      userAgent: client.userAgent,
    });
    // A password change that committed while this sign-in was being checked has ended the record's
    // sessions, maybe before this one existed: if the record changed under us, this session goes too.
    const current = await records.find(collection, String(record.id));
    if (!current || current.tokenKey !== record.tokenKey) {
      await sessions.revoke([session.id]);
      throw badRequest('Failed to authenticate.');
    }
    noteAuthOrigin(deps, collection, record, client).catch((err: Error) =>
      deps.log.warn({ reason: err.message }, 'could not record the sign-in origin'),
    );
    return respond(collection, current, session.id, session.expires, true, input.meta);
  }

  async function respond(
    collection: Collection,
    record: RecordValues,
    sid: string,
    sessionEnd: number,
    refreshable: boolean,
    meta?: Record<string, unknown>,
    lifetimeSeconds = tokenSeconds(collection, 'authToken', 604800),
  ): Promise<AuthResponse> {
    const expires = Math.min(inSeconds(lifetimeSeconds), sessionEnd);
    const token = await signToken(
      keys,
      { id: String(record.id), type: 'auth', collectionId: collection.id, refreshable, sid },
      expires,
    );
    const json = records.toJson(collection, record, ownerOf(collection, record));
    return meta ? { token, record: json, meta } : { token, record: json };
  }

  async function authenticate(header: string | undefined): Promise<AuthContext> {
    if (!header) return GUEST;
    const token = header.replace(/^Bearer\s+/i, '').trim();
    const claims = await verifyToken(keys, token, 'auth');
    if (!claims?.sid) return GUEST;
    const collection = collections.find(claims.collectionId);
    if (collection?.type !== 'auth' || collection.id !== claims.collectionId) return GUEST;
    const isSuperuser = collection.id === SUPERUSERS_ID;
    const session = await sessions.check(claims.sid, collection.id, claims.id, isSuperuser);
    if (!session) return GUEST;
    const record = await records.find(collection, claims.id);
    if (!record) return GUEST;
    return {
      collection,
      record,
      isSuperuser,
      sessionId: session.id,
      refreshable: claims.refreshable === true,
      expiresAt: Number(claims.exp) * 1000,
    };
  }

  async function authWithPassword(
    collection: Collection,
    body: unknown,
    client: Client,
  ): Promise<AuthResponse> {
    const options = option(collection, 'passwordAuth', { enabled: false, identityFields: ['email'] });
    // 403, as PocketBase answers a method the collection has switched off.
    if (!options.enabled)
      throw forbidden('The collection is not configured to allow password authentication.');
    const { values, raw } = readForm(body, ['identity', 'password', 'identityField']);
    const { identity, password, identityField } = values;
    const errors = new FormErrors();
    errors.add('identity', required(identity) ?? length(identity, 1, 255));
    errors.add('password', required(password) ?? length(password, 1, 255));
    errors.add('identityField', length(identityField, 1, 255));
    if (identityField && !options.identityFields.includes(identityField))
      errors.add('identityField', fieldError('validation_in_invalid', 'Must be a valid value.'));
    errors.check();
    const limits = throttleKeys(deps, `login:${collection.id}`, identity, client);
    await throttle.attempt(limits);
    const fields = identityField ? [identityField] : options.identityFields;
    let record: RecordValues | undefined;
    for (const field of fields) {
      if (!options.identityFields.includes(field)) continue;
      const index = identityIndex(collection.indexes, field);
      if (!index) continue;
      record = await records.findBy(collection, field, identity, index.nocase);
      if (record) break;
    }
    const ok = record
      ? await deps.passwords.verify(String(record.password ?? ''), password)
      : await deps.passwords.dummyVerify(password);
    // One answer for unknown accounts and wrong passwords (and, in signIn, records the authRule turns away).
    if (!record || !ok) throw badRequest('Failed to authenticate.');
    await throttle.succeeded(limits);
    return signIn({ collection, record, method: 'password', client, body: raw });
  }

  async function authRefresh(collection: Collection, auth: AuthContext): Promise<AuthResponse> {
    if (!auth.record || !auth.collection || !auth.sessionId)
      throw unauthorized('The request requires valid record authorization token.');
    if (auth.collection.id !== collection.id)
      throw new ApiError(403, 'The authorized record is not allowed to perform this action.');
    if (!auth.refreshable) throw new ApiError(403, 'The authorization token is not refreshable.');
    const record = await records.find(collection, String(auth.record.id));
    const session = await sessions.check(
      auth.sessionId,
      collection.id,
      String(auth.record.id),
      auth.isSuperuser,
    );
    if (!record || !session) throw unauthorized();
    // The authRule holds for the whole session: a record it turns away now (banned, say) gets no new token.
    if (
      !(await records.meetsRule(
        collection,
        'authRule',
        String(record.id),
        signingIn(collection, record, {}, 'default'),
      ))
    )
      throw new ApiError(403, 'The authorized record is not allowed to sign in.');
    return respond(collection, record, session.id, session.expires, true);
  }

  /** A superuser acts as a record: a session of its own (marked as impersonation) and a token that cannot be refreshed. */
  async function impersonate(
    collection: Collection,
    id: string,
    body: unknown,
    auth: AuthContext,
    client: Client,
  ): Promise<AuthResponse> {
    if (!auth.isSuperuser || !auth.record)
      throw new ApiError(403, 'Only superusers can perform this action.');
    // PocketBase's order: the record (404), then the body.
    const record = await records.find(collection, id);
    if (!record) throw notFound();
    if (body !== undefined && body !== null && !isPlainObject(body)) throw unreadable();
    const duration = (isPlainObject(body) ? body.duration : undefined) ?? 0;
    // A whole number of seconds, as PocketBase's int64 field reads it; anything else cannot be loaded.
    if (typeof duration !== 'number' || !Number.isInteger(duration)) throw unreadable();
    const errors = new FormErrors();
    if (duration < 0)
      errors.add(
        'duration',
        fieldError('validation_min_greater_equal_than_required', 'Must be no less than 0.', { threshold: 0 }),
      );
    // Plinth's bound (PocketBase has none): a rotated signing key is kept as long as its longest token lives.
    if (duration > MAX_IMPERSONATION_SECONDS)
      errors.add(
        'duration',
        fieldError(
          'validation_max_less_equal_than_required',
          `Must be no greater than ${MAX_IMPERSONATION_SECONDS}.`,
          { threshold: MAX_IMPERSONATION_SECONDS },
        ),
      );
    errors.check();
    const seconds = duration || tokenSeconds(collection, 'authToken', 604800);
    const session = await sessions.create({
      collectionId: collection.id,
      recordId: id,
      isSuperuser: collection.id === SUPERUSERS_ID,
      method: 'impersonate',
      ip: client.ip,
      userAgent: client.userAgent,
      impersonatedBy: String(auth.record.id),
      expiresAt: inSeconds(seconds),
    });
    // The superuser's sessions ending (sign-out everywhere, deletion) ends what it minted; if that ran
    // while this one was being made, it may have missed it: the superuser's own session tells.
    if (!auth.sessionId || !(await sessions.exists(auth.sessionId))) {
      await sessions.revoke([session.id]);
      throw unauthorized('The request requires valid record authorization token.');
    }
    // `duration` is the token's lifetime, as in PocketBase, not bounded by the collection's token setting.
    return respond(collection, record, session.id, session.expires, false, undefined, seconds);
  }

  /** Ends the caller's session, the others, or all of them. */
  async function logout(auth: AuthContext, body: unknown): Promise<void> {
    if (!auth.record || !auth.collection || !auth.sessionId)
      throw unauthorized('The request requires valid record authorization token.');
    const scope = isPlainObject(body) && body.scope !== undefined ? body.scope : 'current';
    if (scope !== 'current' && scope !== 'others' && scope !== 'all')
      throw badRequest('An error occurred while validating the submitted data.', {
        scope: { code: 'validation_in_invalid', message: 'Must be current, others or all.' },
      });
    if (scope === 'current') return sessions.revoke([auth.sessionId]);
    await sessions.revokeRecord(
      auth.collection.id,
      String(auth.record.id),
      scope === 'others' ? auth.sessionId : undefined,
    );
  }

  async function upsertSuperuser(email: string, password: string): Promise<'created' | 'updated'> {
    const c = collections.get(SUPERUSERS_ID);
    const existing = await records.findBy(c, 'email', email, true);
    if (existing) {
      await records.update(c, String(existing.id), { password, passwordConfirm: password }, SYSTEM);
      return 'updated';
    }
    await records.create(c, { email, password, passwordConfirm: password, verified: true }, SYSTEM);
    return 'created';
  }

  return {
    signIn,
    authenticate,
    authWithPassword,
    authRefresh,
    impersonate,
    logout,
    upsertSuperuser,
    jwks: () => keys.jwks(),
    /** Makes a new signing key; the old one verifies until the longest-lived token it signed has expired. */
    async rotateKeys(body: unknown): Promise<{ kid: string; alg: KeyAlg }> {
      const alg = isPlainObject(body) && body.alg !== undefined ? body.alg : 'EdDSA';
      if (!KEY_ALGS.includes(alg as KeyAlg))
        throw badRequest('An error occurred while validating the submitted data.', {
          alg: { code: 'validation_in_invalid', message: `Must be one of ${KEY_ALGS.join(', ')}.` },
        });
      const key = await keys.rotate(alg as KeyAlg, longestTokenLifetime(collections.list()));
      return { kid: key.kid, alg: key.alg };
    },
  };
}

/** The longest any token signed now could live: every auth collection's token settings, in seconds. */
function longestTokenLifetime(all: Collection[]): number {
  let longest = INSTALLER_TTL_SECONDS;
  for (const c of all) {
    if (c.type !== 'auth') continue;
    for (const name of [
      'authToken',
      'passwordResetToken',
      'emailChangeToken',
      'verificationToken',
      'fileToken',
    ])
      longest = Math.max(longest, tokenSeconds(c, name, 0));
  }
  return Math.max(longest, MAX_IMPERSONATION_SECONDS);
}
