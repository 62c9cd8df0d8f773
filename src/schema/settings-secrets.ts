import type { Database } from '../db/index.ts';
import { isPlainObject, type SecretBox } from '../lib/index.ts';
import { readParamText, swapParam } from './params.ts';

/** The settings that are secrets: encrypted in the database, left out of every API answer. */
const SECRET_SETTINGS: readonly (readonly [group: string, key: string])[] = [['smtp', 'password']];

const contextOf = (group: string, key: string) => `settings.${group}.${key}`;

/** Applies `fn` to each non-empty secret of a settings object, in a copy. */
function mapSecrets<T>(settings: T, fn: (value: string, context: string) => string): T {
  const out = structuredClone(settings) as Record<string, unknown>;
  for (const [group, key] of SECRET_SETTINGS) {
    const g = out[group];
    if (isPlainObject(g) && typeof g[key] === 'string' && g[key] !== '')
      g[key] = fn(g[key] as string, contextOf(group, key));
  }
  return out as T;
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
