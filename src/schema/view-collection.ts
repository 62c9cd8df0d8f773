import type { ErrorData } from '../errors/index.ts';
import { nowString, randomString } from '../lib/index.ts';
import type { Collection } from './collection.ts';
import type { FieldDef } from './fields/index.ts';
import { inferViewFields } from './view-fields.ts';
import { parseViewQuery, type TableKind, ViewQueryError } from './view-query.ts';

/** Collections a view may read: every collection but the system ones (superusers, sessions, OTPs...). */
export function viewTableKind(find: (name: string) => Collection | undefined): (name: string) => TableKind {
  return (name) => {
    const c = find(name);
    if (!c || c.system || c.name.startsWith('_')) return undefined;
    return c.type === 'auth' ? 'auth' : 'readable';
  };
}

/**
 * A view collection's query and the fields inferred from it (client-sent fields are ignored, as in
 * PocketBase). Errors are added under `viewQuery` with PocketBase's code.
 */
export function viewDefinition(
  input: Record<string, unknown>,
  existing: Collection | undefined,
  find: (name: string) => Collection | undefined,
  errors: ErrorData,
): { fields: FieldDef[]; options: Record<string, unknown> } {
  const query = input.viewQuery === undefined ? existing?.options.viewQuery : input.viewQuery;
  if (typeof query !== 'string' || query.trim() === '') {
    errors.viewQuery = { code: 'validation_required', message: 'Cannot be blank.' };
    return { fields: existing?.fields ?? [], options: {} };
  }
  try {
    const parsed = parseViewQuery(query, viewTableKind(find));
    return { fields: inferViewFields(parsed, find, existing?.fields), options: { viewQuery: query } };
  } catch (err) {
    if (!(err instanceof ViewQueryError)) throw err;
    errors.viewQuery = invalidViewQuery(err.message);
    return { fields: existing?.fields ?? [], options: {} };
  }
}

export function invalidViewQuery(reason: string) {
  return { code: 'validation_invalid_view_query', message: `Invalid query - ${reason.slice(0, 500)}` };
}

/** The tables (lower-cased names) a view reads; empty for other collections or an unreadable query. */
export function viewReads(c: Collection): Set<string> {
  if (c.type !== 'view') return new Set();
  try {
    return parseViewQuery(String(c.options.viewQuery ?? ''), () => 'readable').reads;
  } catch {
    return new Set();
  }
}

/** An unsaved view collection, for a dry run of its query. */
export function temporaryView(query: string, fields: FieldDef[]): Collection {
  const now = nowString();
  return {
    ...{ id: '', name: `temp_view_${randomString(5)}`, type: 'view', system: false, fields, indexes: [] },
    ...{ listRule: null, viewRule: null, createRule: null, updateRule: null, deleteRule: null },
    ...{ options: { viewQuery: query }, created: now, updated: now },
  };
}
