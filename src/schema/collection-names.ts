import type { FieldError } from '../errors/index.ts';
import { checksumId } from '../lib/index.ts';
import type { Collection } from './collection.ts';
import { MAX_NAME_LENGTH, NAME_RE, rules } from './field-settings.ts';

/** Up to 50, so that the system index names built from it (`idx_tokenKey_<id>`) stay within 63. */
const MAX_COLLECTION_ID_LENGTH = 50;

/** What the name and id checks look up among the other collections and tables. */
export interface NameContext {
  findByName(name: string): Collection | undefined;
  findById(id: string): Collection | undefined;
  isForeignTable(name: string): boolean;
}

/**
 * PocketBase's default id for a new collection: `pbc_` + crc32(type + name), numbered from 2 when taken
 * (its `idChecksum` / `updateGeneratedIdIfExists`).
 */
export function defaultCollectionId(type: string, name: unknown, ctx: NameContext): string {
  const base = checksumId('pbc_', type + (typeof name === 'string' ? name : ''));
  let id = base;
  for (let n = 2; ctx.findById(id) && n < 1000; n++) id = base + n;
  return id;
}

/** A collection id: PocketBase's codes (`validation_invalid_or_existing_id` when taken), Plinth's length. */
export function checkCollectionId(
  id: unknown,
  sent: unknown,
  existing: Collection | undefined,
  ctx: NameContext,
): FieldError | undefined {
  if (existing) {
    return sent === undefined || sent === existing.id
      ? undefined
      : { code: 'validation_values_mismatch', message: "Values don't match." };
  }
  if (typeof id !== 'string' || id === '') return rules.required();
  if (id.length > MAX_COLLECTION_ID_LENGTH) return rules.length(1, MAX_COLLECTION_ID_LENGTH);
  if (!NAME_RE.test(id)) return rules.match();
  if (ctx.findById(id))
    return {
      code: 'validation_invalid_or_existing_id',
      message: 'The model id is invalid or already exists.',
    };
  return undefined;
}

const internal = (message: string): FieldError => ({ code: 'validation_collection_name_invalid', message });

/**
 * A collection name, checked in PocketBase's order: required, length (63 here: the engines' identifier
 * limit), `_via_`, format, a system collection's rename, then uniqueness among names, ids and tables.
 * Plinth also keeps `_` names for its system collections and `sqlite_` for SQLite.
 */
export function checkCollectionName(
  name: unknown,
  existing: Collection | undefined,
  ctx: NameContext,
): FieldError | undefined {
  if (name === undefined || name === null || name === '') return rules.required();
  if (typeof name !== 'string') return { code: 'validation_invalid_value', message: 'Must be a string.' };
  if (name.length > MAX_NAME_LENGTH) return rules.length(1, MAX_NAME_LENGTH);
  if (name.toLowerCase().includes('_via_')) return rules.via();
  if (!NAME_RE.test(name)) return rules.match();
  if (existing?.system && name !== existing.name)
    return {
      code: 'validation_collection_system_name_change',
      message: 'System collection name cannot be changed.',
    };
  const holder = ctx.findByName(name);
  if (holder && holder.id !== existing?.id)
    return {
      code: 'validation_collection_name_exists',
      message: 'Collection name must be unique (case insensitive).',
    };
  const idHolder = ctx.findById(name);
  if (idHolder && idHolder.id !== existing?.id)
    return {
      code: 'validation_collection_name_id_duplicate',
      message: 'The name must not match an existing collection id.',
    };
  if (name.startsWith('_') && !existing?.system)
    return internal('Names starting with _ are reserved for system collections.');
  if (/^sqlite_/i.test(name)) return internal('Names starting with sqlite_ are reserved.');
  if (ctx.isForeignTable(name) && name.toLowerCase() !== existing?.name.toLowerCase())
    return internal("The name shouldn't match with an existing internal table.");
  return undefined;
}
