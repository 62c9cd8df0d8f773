import { type ApiError, badRequest, type ErrorData } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';
import { type Collection, fieldToJson } from './collection.ts';
import { AUTH_OPTION_KEYS } from './defaults.ts';
import type { FieldDef } from './fields/index.ts';

type Json = Record<string, unknown>;

/** The most collections one import may carry (PocketBase has no limit; a bound keeps one request bounded). */
const MAX_IMPORT = 1000;

/** One imported collection: what to validate as the client's input, and the collection it updates. */
export interface ImportItem {
  input: Json;
  existing: Collection | undefined;
}

/**
 * Matches each imported collection to an existing one and turns it into the input of a create or update,
 * as PocketBase's `ImportCollections` does:
 * - by its id, or by its name when it has no id (PocketBase looks the id up among names too);
 * - an existing collection's fields that the import leaves out are kept unless `deleteMissing` (system
 *   fields always), and an imported field whose id is unknown takes the id of the existing field of the
 *   same name and type, so that its column and data are kept;
 * - a system collection takes only its auth options from an import: its fields, rules and indexes are
 *   Plinth's own (they differ from PocketBase's, whose export carries its own system collections).
 */
export function prepareImport(
  list: Json[],
  byId: ReadonlyMap<string, Collection>,
  byName: ReadonlyMap<string, Collection>,
  deleteMissing: boolean,
): ImportItem[] {
  const claimed = new Set<string>();
  return list.map((item) => {
    const key = typeof item.id === 'string' && item.id !== '' ? item.id : item.name;
    let existing = typeof key === 'string' ? (byId.get(key) ?? byName.get(key.toLowerCase())) : undefined;
    // Two items for one collection: the second is a new collection (and fails on its id or name).
    if (existing && claimed.has(existing.id)) existing = undefined;
    if (existing) claimed.add(existing.id);
    if (!existing) return { input: item, existing };
    if (existing.system) return { input: systemOptions(item, existing), existing };
    const fields =
      item.fields === undefined
        ? deleteMissing
          ? []
          : undefined
        : mergeFields(item.fields, existing.fields, deleteMissing);
    return { input: { ...item, id: existing.id, fields }, existing };
  });
}

/** A system collection's importable part: its auth options (rules, fields and indexes stay Plinth's). */
function systemOptions(item: Json, existing: Collection): Json {
  const out: Json = {};
  if (existing.type !== 'auth') return out;
  for (const key of AUTH_OPTION_KEYS)
    if (key !== 'authRule' && key !== 'manageRule' && item[key] !== undefined) out[key] = item[key];
  return out;
}

/** The imported fields list, completed with the existing fields it must keep (see prepareImport). */
function mergeFields(input: unknown, existing: FieldDef[], deleteMissing: boolean): unknown {
  if (!Array.isArray(input)) return input;
  const known = new Set(existing.map((f) => f.id));
  const sent = new Set(
    input.map((f) => (isPlainObject(f) ? f.id : undefined)).filter((id) => known.has(id as string)),
  );
  const fields = input.map((f) => {
    if (!isPlainObject(f) || typeof f.id !== 'string' || f.id === '' || known.has(f.id)) return f;
    const same = existing.find((e) => e.name === f.name && e.type === f.type && !sent.has(e.id));
    if (!same) return f;
    sent.add(same.id);
    return { ...f, id: same.id };
  });
  for (const e of existing) {
    if (sent.has(e.id) || (deleteMissing && !e.system)) continue;
    if (fields.some((f) => isPlainObject(f) && f.id === e.id)) continue;
    fields.push(fieldToJson(e));
  }
  return fields;
}

/** PocketBase's answer for an imported collection that fails validation: the first one, its errors as text. */
export function importFailure(item: Json, data: ErrorData): ApiError {
  const name = typeof item.name === 'string' ? item.name : '';
  const id = typeof item.id === 'string' ? item.id : '';
  return badRequest('Failed to import collections.', {
    collections: {
      code: 'validation_collections_import_failure',
      message: `Data validations failed for collection "${name}" (${id}):\n${JSON.stringify(messagesOf(data), null, 2)}`,
    },
  });
}

/** Field errors as PocketBase prints them: each error replaced by its message. */
function messagesOf(data: ErrorData): unknown {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data))
    out[key] =
      typeof value.code === 'string' && typeof value.message === 'string'
        ? value.message
        : messagesOf(value as ErrorData);
  return out;
}

/** A failure of the import as a whole (a deletion that a relation prevents, say). */
export function importError(message: string): ApiError {
  return badRequest('Failed to import collections.', {
    collections: { code: 'validation_collections_import_failure', message },
  });
}

/** PocketBase: a list that is not one of objects fails to load; an empty one fails validation. */
export function checkImportList(collections: unknown): Record<string, unknown>[] {
  if (collections !== undefined && (!Array.isArray(collections) || !collections.every(isPlainObject)))
    throw badRequest('An error occurred while loading the submitted data.');
  if (!collections?.length)
    throw badRequest('An error occurred while validating the submitted data.', {
      collections: { code: 'validation_required', message: 'Cannot be blank.' },
    });
  if (collections.length > MAX_IMPORT)
    throw badRequest('An error occurred while validating the submitted data.', {
      collections: {
        code: 'validation_length_too_long',
        message: `At most ${MAX_IMPORT} collections can be imported at once.`,
      },
    });
  return collections;
}
