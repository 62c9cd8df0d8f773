import { ApiError, badRequest, unauthorized } from '../errors/index.ts';
import { isPlainObject, randomSecret } from '../lib/index.ts';
import { type AuthContext, GUEST, type RecordService, type RecordValues } from '../records/index.ts';
import { type Collection, type CollectionStore, SUPERUSERS_ID } from '../schema/index.ts';
import type { SigningKeys } from './keys.ts';
import type { Passwords } from './passwords.ts';
import { signToken, tokenKeyFingerprint, verifyToken } from './tokens.ts';

/** How long the first-superuser installer link stays valid. */
const INSTALLER_TTL_SECONDS = 30 * 60;

export interface AuthResponse {
  token: string;
  record: Record<string, unknown>;
}

export interface AuthService {
  /** The caller behind an `Authorization` header value; invalid or missing tokens make a guest. */
  authenticate(header: string | undefined): Promise<AuthContext>;
  authWithPassword(collection: Collection, body: unknown): Promise<AuthResponse>;
  authRefresh(collection: Collection, auth: AuthContext): Promise<AuthResponse>;
  /** Creates or updates a superuser (CLI `superuser upsert`). */
  upsertSuperuser(email: string, password: string): Promise<'created' | 'updated'>;
  hasSuperusers(): Promise<boolean>;
  /** A one-time token for the installer page, or undefined when a superuser exists. */
  installerToken(): Promise<string | undefined>;
  /** Creates the first superuser with an installer token. */
  install(body: unknown): Promise<AuthResponse>;
  jwks(): { keys: object[] };
}

const SYSTEM: AuthContext = Object.freeze({ collection: null, record: null, isSuperuser: true });

export function createAuthService(deps: {
  collections: CollectionStore;
  records: RecordService;
  passwords: Passwords;
  keys: SigningKeys;
}): AuthService {
  const { collections, records, passwords, keys } = deps;
  const superusers = () => collections.get(SUPERUSERS_ID);

  async function issue(collection: Collection, record: RecordValues): Promise<AuthResponse> {
    const duration = Number(
      (collection.options.authToken as { duration?: number } | undefined)?.duration ?? 86400,
    );
    const token = await signToken(
      keys,
      {
        id: String(record.id),
        type: 'auth',
        collectionId: collection.id,
        refreshable: true,
        tk: tokenKeyFingerprint(String(record.tokenKey)),
      },
      duration,
    );
    const owner: AuthContext = { collection, record, isSuperuser: collection.id === SUPERUSERS_ID };
    return { token, record: records.toJson(collection, record, owner) };
  }

  async function authWithPassword(collection: Collection, body: unknown): Promise<AuthResponse> {
    if (collection.type !== 'auth') throw badRequest('The collection is not an auth collection.');
    const options = (collection.options.passwordAuth ?? {}) as {
      enabled?: boolean;
      identityFields?: string[];
    };
    if (!options.enabled)
      throw badRequest('The collection is not configured to allow password authentication.');
    if (!isPlainObject(body)) throw badRequest('Invalid request body.');
    const errors: Record<string, { code: string; message: string }> = {};
    if (typeof body.identity !== 'string' || body.identity === '' || body.identity.length > 255)
      errors.identity = { code: 'validation_required', message: 'Cannot be blank.' };
    if (typeof body.password !== 'string' || body.password === '' || body.password.length > 256)
      errors.password = { code: 'validation_required', message: 'Cannot be blank.' };
    if (Object.keys(errors).length)
      throw badRequest('An error occurred while validating the submitted data.', errors);
    const identity = body.identity as string;
    const password = body.password as string;
    const fields =
      typeof body.identityField === 'string' && body.identityField
        ? [body.identityField]
        : (options.identityFields ?? ['email']);
    let record: RecordValues | undefined;
    for (const field of fields) {
      if (!(options.identityFields ?? ['email']).includes(field)) continue;
      record = await records.findBy(collection, field, identity, field === 'email');
      if (record) break;
    }
    const ok = record
      ? await passwords.verify(String(record.password ?? ''), password)
      : await passwords.dummyVerify(password);
    // The authRule (e.g. `verified = true`) reads the record signing in, which is also `@request.auth`.
    const allowed =
      record &&
      ok &&
      (await records.meetsRule(collection, 'authRule', String(record.id), {
        collection,
        record,
        isSuperuser: false,
      }));
    // One answer for unknown accounts, wrong passwords and records the authRule turns away.
    if (!record || !allowed) throw badRequest('Failed to authenticate.');
    return issue(collection, record);
  }

  return {
    async authenticate(header) {
      if (!header) return GUEST;
      const token = header.replace(/^Bearer\s+/i, '').trim();
      const claims = await verifyToken(keys, token, 'auth');
      if (!claims) return GUEST;
      const collection = collections.find(claims.collectionId);
      if (collection?.type !== 'auth' || collection.id !== claims.collectionId) return GUEST;
      const record = await records.find(collection, claims.id);
      if (!record || claims.tk !== tokenKeyFingerprint(String(record.tokenKey))) return GUEST;
      return { collection, record, isSuperuser: collection.id === SUPERUSERS_ID };
    },
    authWithPassword,
    async authRefresh(collection, auth) {
      if (!auth.record || !auth.collection)
        throw unauthorized('The request requires valid record authorization token.');
      if (auth.collection.id !== collection.id)
        throw new ApiError(403, 'The authorized record is not allowed to perform this action.');
      const record = await records.find(collection, String(auth.record.id));
      if (!record) throw unauthorized();
      return issue(collection, record);
    },
    async upsertSuperuser(email, password) {
      const c = superusers();
      const existing = await records.findBy(c, 'email', email, true);
      if (existing) {
        await records.update(c, String(existing.id), { password, passwordConfirm: password }, SYSTEM);
        return 'updated';
      }
      await records.create(c, { email, password, passwordConfirm: password, verified: true }, SYSTEM);
      return 'created';
    },
    async hasSuperusers() {
      const page = await records.list(superusers(), { perPage: 1, skipTotal: true }, SYSTEM);
      return page.items.length > 0;
    },
    async installerToken() {
      if (await this.hasSuperusers()) return undefined;
      return signToken(
        keys,
        { id: randomSecret(12), type: 'installer', collectionId: SUPERUSERS_ID, refreshable: false },
        INSTALLER_TTL_SECONDS,
      );
    },
    async install(body) {
      if (
        !isPlainObject(body) ||
        typeof body.token !== 'string' ||
        !(await verifyToken(keys, body.token, 'installer'))
      ) {
        throw unauthorized('The installer link is invalid or has expired; restart the server for a new one.');
      }
      if (await this.hasSuperusers()) throw badRequest('A superuser already exists.');
      const { token: _t, ...data } = body;
      const c = superusers();
      const created = await records.create(c, { ...data, verified: true }, SYSTEM);
      const record = await records.find(c, String(created.id));
      return issue(c, record!);
    },
    jwks: () => ({ keys: [keys.publicJwk] }),
  };
}
