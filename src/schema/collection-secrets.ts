import type { Database } from '../db/index.ts';
import { isPlainObject, parseJsonOr, type SecretBox } from '../lib/index.ts';
import type { Collection } from './collection.ts';

/**
 * OAuth2 client secrets, the one secret in collection options: encrypted in `_collections` with the key
 * kept outside the database, decrypted in the in-memory cache (the auth layer sends them to providers),
 * and never in an API answer (as in PocketBase, the key is left out of each provider).
 */
const CONTEXT = 'oauth2.clientSecret';

type Provider = Record<string, unknown> & { name?: unknown; clientSecret?: unknown };

function providersOf(options: Record<string, unknown>): Provider[] | undefined {
  const oauth2 = options.oauth2;
  return isPlainObject(oauth2) && Array.isArray(oauth2.providers)
    ? (oauth2.providers as Provider[])
    : undefined;
}

/** A copy of the options with each provider's client secret passed through `fn` (empty ones skipped). */
function mapSecrets(
  options: Record<string, unknown>,
  fn: (secret: string) => string | undefined,
): Record<string, unknown> {
  const providers = providersOf(options);
  if (!providers) return options;
  const mapped = providers.map((p) => {
    if (!isPlainObject(p) || typeof p.clientSecret !== 'string' || p.clientSecret === '') return p;
    const { clientSecret, ...rest } = p;
    const next = fn(clientSecret);
    return next === undefined ? rest : { ...rest, clientSecret: next };
  });
  return { ...options, oauth2: { ...(options.oauth2 as object), providers: mapped } };
}

/** The collection as stored: client secrets sealed (no box: unchanged). */
export function sealCollectionSecrets(c: Collection, box: SecretBox | undefined): Collection {
  return box ? { ...c, options: mapSecrets(c.options, (s) => box.seal(s, CONTEXT)) } : c;
}

/** The collection as read: client secrets opened; one stored before encryption reads as it is. */
export function openCollectionSecrets(c: Collection, box: SecretBox | undefined): Collection {
  return box ? { ...c, options: mapSecrets(c.options, (s) => box.open(s, CONTEXT)) } : c;
}

/**
 * The token options whose `secret` PocketBase's dashboard replaces to "invalidate all previously issued
 * tokens". Plinth signs with its own keys, so a secret here is not a key: it is a marker whose change
 * ends the tokens of that kind (auth: the collection's sessions; mailed tokens: their `tk` claim).
 */
export const TOKEN_OPTION_KEYS = [
  'authToken',
  'passwordResetToken',
  'emailChangeToken',
  'verificationToken',
  'fileToken',
] as const;

/** The `secret` of a token option (`''` when none is stored). */
export function tokenSecret(options: Record<string, unknown>, key: string): string {
  const config = options[key];
  return isPlainObject(config) && typeof config.secret === 'string' ? config.secret : '';
}

/** A copy of the options with each token option's secret replaced by `fn`'s answer (undefined: left out). */
function mapTokenSecrets(
  options: Record<string, unknown>,
  fn: (key: string, secret: string) => string | undefined,
): Record<string, unknown> {
  let out = options;
  for (const key of TOKEN_OPTION_KEYS) {
    const config = options[key];
    if (!isPlainObject(config)) continue;
    const { secret, ...rest } = config;
    const next = fn(key, typeof secret === 'string' ? secret : '');
    out = { ...out, [key]: next ? { ...rest, secret: next } : rest };
  }
  return out;
}

/** Options for an API answer: no provider's client secret, no token secret (as PocketBase answers). */
export function redactCollectionSecrets(options: Record<string, unknown>): Record<string, unknown> {
  return mapTokenSecrets(
    mapSecrets(options, () => undefined),
    () => undefined,
  );
}

/**
 * A token option saved without a secret keeps the stored one: answers never show it, so a form that reads
 * a collection and saves it back must not change it (a change would end every token of that kind).
 */
export function keepTokenSecrets(next: Collection, previous: Collection | undefined): Collection {
  if (!previous) return next;
  const options = mapTokenSecrets(
    next.options,
    (key, secret) => secret || tokenSecret(previous.options, key) || undefined,
  );
  return { ...next, options };
}

/**
 * A provider saved without a client secret keeps the one stored for the provider of the same name:
 * answers never carry secrets, so a client that reads a collection and saves it back must not erase them.
 */
export function keepProviderSecrets(next: Collection, previous: Collection | undefined): Collection {
  const before = previous ? providersOf(previous.options) : undefined;
  const after = providersOf(next.options);
  if (!before || !after) return next;
  const stored = new Map(before.filter(isPlainObject).map((p) => [p.name, p.clientSecret]));
  const providers = after.map((p) =>
    isPlainObject(p) && (p.clientSecret === undefined || p.clientSecret === '') && stored.get(p.name)
      ? { ...p, clientSecret: stored.get(p.name) }
      : p,
  );
  return { ...next, options: { ...next.options, oauth2: { ...(next.options.oauth2 as object), providers } } };
}

/**
 * At start, seals client secrets stored in plaintext (before encryption existed) or with an older key.
 * Each row is rewritten only if unchanged since it was read, so a concurrent schema change wins.
 */
export async function resealCollectionSecrets(db: Database, box: SecretBox): Promise<void> {
  const q = db.dialect.quote;
  const rows = await db.run<{ id: string; options: string }>(
    db.kysely,
    `SELECT ${q('id')}, ${q('options')} FROM ${q('_collections')} WHERE ${q('type')} = ?`,
    ['auth'],
  );
  for (const row of rows) {
    const options = parseJsonOr<Record<string, unknown>>(row.options, {});
    let stale = false;
    mapSecrets(options, (s) => {
      if (!box.isCurrent(s)) stale = true;
      return s;
    });
    if (!stale) continue;
    const resealed = mapSecrets(options, (s) => box.seal(box.open(s, CONTEXT), CONTEXT));
    await db.run(
      db.kysely,
      `UPDATE ${q('_collections')} SET ${q('options')} = ? WHERE ${q('id')} = ? AND ${q('options')} = ?`,
      [JSON.stringify(resealed), row.id, row.options],
    );
  }
}
