import type { Database } from '../db/index.ts';
import { isPlainObject, type SecretBox } from '../lib/index.ts';
import { readParamText, swapParam } from './params.ts';

/**
 * The settings that are secrets, as paths: encrypted in the database, left out of every API answer. The
 * same ones PocketBase masks: the SMTP password and the two S3 secrets (files, backups).
 */
export const SECRET_SETTINGS: readonly (readonly string[])[] = [
  ['smtp', 'password'],
  ['s3', 'secret'],
  ['backups', 's3', 'secret'],
];

// The context binds a sealed value to its place: one cannot be copied over another.
const contextOf = (path: readonly string[]) => `settings.${path.join('.')}`;

/** The object holding the last key of `path` in `root`, if there is one. */
function parentOf(
  root: Record<string, unknown>,
  path: readonly string[],
): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) node = isPlainObject(node) ? node[key] : undefined;
  return isPlainObject(node) ? node : undefined;
}

/** Applies `fn` to each non-empty secret of a settings object, in a copy. */
function mapSecrets<T>(settings: T, fn: (value: string, context: string) => string): T {
  const out = structuredClone(settings) as Record<string, unknown>;
  for (const path of SECRET_SETTINGS) {
    const parent = parentOf(out, path);
    const key = path[path.length - 1]!;
    if (parent && typeof parent[key] === 'string' && parent[key] !== '')
      parent[key] = fn(parent[key] as string, contextOf(path));
  }
  return out as T;
}

/** A copy of the settings without their secrets (the keys left out, as PocketBase's answer has them). */
export function withoutSecrets<T>(settings: T): Record<string, unknown> {
  const out = structuredClone(settings) as Record<string, unknown>;
  for (const path of SECRET_SETTINGS) {
    const parent = parentOf(out, path);
    if (parent) delete parent[path[path.length - 1]!];
  }
  return out;
}

/** The settings as stored: secrets sealed with the key outside the database (no key: as they are). */
export function sealSettings<T>(settings: T, box: SecretBox | undefined): T {
  return box ? mapSecrets(settings, (v, c) => box.seal(v, c)) : settings;
}

/** Stored settings with their secrets opened; a value stored before encryption reads as it is. */
export function openSettings<T>(stored: T, box: SecretBox | undefined): T {
  return box ? mapSecrets(stored, (v, c) => box.open(v, c)) : stored;
}

/**
 * Seals secrets stored in plaintext (before encryption existed) or with an older key, at start. The
 * write applies only if the row is unchanged since it was read, so it cannot undo another node's change.
 */
export async function resealSettings(db: Database, rowId: string, box: SecretBox): Promise<void> {
  const text = await readParamText(db, rowId);
  if (text === undefined) return;
  const stored = JSON.parse(text) as Record<string, unknown>;
  let stale = false;
  mapSecrets(stored, (v) => {
    if (!box.isCurrent(v)) stale = true;
    return v;
  });
  if (stale) await swapParam(db, rowId, text, sealSettings(openSettings(stored, box), box));
}
