import { parseJsonOr } from '../lib/index.ts';
import { redactCollectionSecrets } from './collection-secrets.ts';
import { FIELD_TYPES, type FieldDef } from './fields/index.ts';

export type CollectionType = 'base' | 'auth' | 'view';

export const RULE_NAMES = ['listRule', 'viewRule', 'createRule', 'updateRule', 'deleteRule'] as const;
export const AUTH_RULE_NAMES = ['authRule', 'manageRule'] as const;
/** `mfaRule` is the auth option `mfa.rule`: which records must use a second method (empty: all). */
export type RuleName = (typeof RULE_NAMES)[number] | (typeof AUTH_RULE_NAMES)[number] | 'mfaRule';

/** A collection definition as Plinth holds it in memory. Auth and view options live in `options`. */
export interface Collection {
  id: string;
  name: string;
  type: CollectionType;
  system: boolean;
  fields: FieldDef[];
  indexes: string[];
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
  /** Type-specific options: authRule, manageRule, passwordAuth, authToken... (auth); viewQuery (view). */
  options: Record<string, unknown>;
  created: string;
  updated: string;
}

/** The row layout of `_collections`. */
export interface CollectionRow {
  id: string;
  name: string;
  type: string;
  system: number | boolean;
  fields: string;
  indexes: string;
  listRule: string | null;
  viewRule: string | null;
  createRule: string | null;
  updateRule: string | null;
  deleteRule: string | null;
  options: string;
  created: string;
  updated: string;
}

export function collectionFromRow(row: CollectionRow): Collection {
  return {
    id: row.id,
    name: row.name,
    type: row.type as CollectionType,
    system: row.system === 1 || row.system === true,
    fields: parseJsonOr<FieldDef[]>(row.fields, []),
    indexes: parseJsonOr<string[]>(row.indexes, []),
    listRule: row.listRule,
    viewRule: row.viewRule,
    createRule: row.createRule,
    updateRule: row.updateRule,
    deleteRule: row.deleteRule,
    options: parseJsonOr<Record<string, unknown>>(row.options, {}),
    created: row.created,
    updated: row.updated,
  };
}

export function collectionToRow(c: Collection): CollectionRow {
  return {
    id: c.id,
    name: c.name,
    type: c.type,
    system: c.system ? 1 : 0,
    fields: JSON.stringify(c.fields),
    indexes: JSON.stringify(c.indexes),
    listRule: c.listRule,
    viewRule: c.viewRule,
    createRule: c.createRule,
    updateRule: c.updateRule,
    deleteRule: c.deleteRule,
    options: JSON.stringify(c.options),
    created: c.created,
    updated: c.updated,
  };
}

/** Field types whose PocketBase form has no `help` and no `required` (server-set values). */
const NO_HELP_OR_REQUIRED = new Set(['autodate']);

/**
 * A field in the JSON shape PocketBase returns: the common keys (`help` included) and every option of
 * its type, with keys in alphabetical order as PocketBase writes them (it serializes each field through a
 * map), so that exported schemas compare equal.
 */
export function fieldToJson(field: FieldDef): Record<string, unknown> {
  const defaults = FIELD_TYPES.get(field.type)?.defaults() ?? {};
  const out: Record<string, unknown> = {
    help: field.help ?? '',
    hidden: field.hidden,
    id: field.id,
    name: field.name,
    presentable: field.presentable,
    required: field.required,
    system: field.system,
    type: field.type,
  };
  if (NO_HELP_OR_REQUIRED.has(field.type)) {
    delete out.help;
    delete out.required;
  }
  // A stored null stays null (PocketBase writes an unset list as null); a missing key gets the default.
  for (const key of Object.keys(defaults)) out[key] = field[key] === undefined ? defaults[key] : field[key];
  return Object.fromEntries(
    Object.keys(out)
      .sort()
      .map((key) => [key, out[key]]),
  );
}

/** The collection JSON of the collections API: PocketBase's keys and order, type options flattened in. */
export function collectionToJson(c: Collection): Record<string, unknown> {
  return {
    id: c.id,
    listRule: c.listRule,
    viewRule: c.viewRule,
    createRule: c.createRule,
    updateRule: c.updateRule,
    deleteRule: c.deleteRule,
    name: c.name,
    type: c.type,
    fields: c.fields.map(fieldToJson),
    indexes: c.indexes,
    created: c.created,
    updated: c.updated,
    system: c.system,
    ...publicOptions(c),
  };
}

/**
 * Options minus secrets: OAuth2 client secrets are never sent back (PocketBase leaves them out too).
 * An auth collection's `authRule` and `manageRule` come first, where PocketBase writes them.
 */
function publicOptions(c: Collection): Record<string, unknown> {
  const options = redactCollectionSecrets(c.options);
  if (c.type !== 'auth') return options;
  const { authRule, manageRule, ...rest } = options;
  return { authRule, manageRule, ...rest };
}

export function findField(c: Collection, name: string): FieldDef | undefined {
  return c.fields.find((f) => f.name === name);
}
