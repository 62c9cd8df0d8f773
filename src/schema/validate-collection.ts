import type { ErrorData } from '../errors/index.ts';
import { containsNul, isPlainObject, nowString } from '../lib/index.ts';
import { AUTH_RULE_NAMES, type Collection, type CollectionType, RULE_NAMES } from './collection.ts';
import { checkCollectionId, checkCollectionName, defaultCollectionId } from './collection-names.ts';
import { AUTH_OPTION_KEYS, authSystemIndexes, defaultAuthOptions } from './defaults.ts';
import type { FieldDef, OptionsContext } from './fields/index.ts';
import { formatIndex, identityIndex, parseIndex } from './indexes.ts';
import { normalizeFields } from './validate-fields.ts';
import { viewDefinition } from './view-collection.ts';

export interface ValidationContext extends OptionsContext {
  /** The collection holding this name (case-insensitive), if any. */
  findByName(name: string): Collection | undefined;
  findById(id: string): Collection | undefined;
  /** True if a table or view of that name exists that is not a collection's. */
  isForeignTable(name: string): boolean;
}

const MAX_RULE_LENGTH = 10_000;

/**
 * Merges client input into a collection (a new one when `existing` is undefined) and validates the
 * result. Returns the collection, or the field errors keyed as PocketBase keys them.
 */
export function buildCollection(
  input: Record<string, unknown>,
  existing: Collection | undefined,
  ctx: ValidationContext,
): { collection: Collection } | { errors: ErrorData } {
  const errors: ErrorData = {};
  // Definitions hold no U+0000 anywhere: rules, select values and index literals would reach the database.
  for (const [key, value] of Object.entries(input))
    if (containsNul(value))
      errors[key] = {
        code: 'validation_invalid_value',
        message: 'Must not contain the NUL character (U+0000).',
      };
  const type = (existing?.type ?? (input.type === undefined ? 'base' : input.type)) as CollectionType;
  if (existing && input.type !== undefined && input.type !== existing.type) {
    errors.type = {
      code: 'validation_collection_type_change',
      message: 'The collection type cannot be changed.',
    };
  } else if (type !== 'base' && type !== 'auth' && type !== 'view') {
    errors.type = { code: 'validation_in_invalid', message: 'Must be a valid value.' };
  }

  const id =
    existing?.id ??
    (input.id === undefined || input.id === '' || input.id === null
      ? defaultCollectionId(String(type), input.name, ctx)
      : input.id);
  const idError = checkCollectionId(id, input.id, existing, ctx);
  if (idError) errors.id = idError;

  const name = input.name === undefined ? existing?.name : input.name;
  const nameError = checkCollectionName(name, existing, ctx);
  if (nameError) errors.name = nameError;
  if (existing && input.system !== undefined && input.system !== existing.system)
    errors.system = {
      code: 'validation_collection_system_flag_change',
      message: 'System collection state cannot be changed.',
    };

  // A relation may point at the collection being created (a tree of categories, say).
  const fieldCtx = { collectionExists: (target: string) => target === id || ctx.collectionExists(target) };
  const view = type === 'view' ? viewDefinition(input, existing, ctx.findByName, errors) : undefined;
  const target = { previous: existing?.fields ?? [], type, isNew: !existing };
  const fields = view
    ? view.fields
    : input.fields === undefined && existing
      ? existing.fields
      : normalizeFields(input.fields ?? [], target, fieldCtx, errors);
  if (!view) checkNoRelationToView(fields, ctx, errors);

  const rules: Record<string, string | null> = {};
  for (const key of [...RULE_NAMES, ...(type === 'auth' ? AUTH_RULE_NAMES : [])]) {
    const fallback = existing ? ruleOf(existing, key) : key === 'authRule' ? '' : null;
    const value = input[key] === undefined ? fallback : input[key];
    if (view && WRITE_RULES.includes(key) && value !== null) {
      errors[key] = { code: 'validation_nil', message: 'Must be blank.' };
    } else if (value !== null && (typeof value !== 'string' || value.length > MAX_RULE_LENGTH)) {
      errors[key] = { code: 'validation_invalid_rule', message: 'Must be null or a rule expression.' };
    } else if (existing?.system && value !== fallback) {
      errors[key] = {
        code: 'validation_collection_system_rule_change',
        message: 'System collection API rule cannot be changed.',
      };
    } else rules[key] = value;
  }

  const fieldNames = fields.map((f) => f.name);
  const options = type === 'auth' ? authOptions(input, existing, fieldNames, errors) : (view?.options ?? {});
  if (type === 'auth') {
    options.authRule = rules.authRule;
    options.manageRule = rules.manageRule;
  }

  const indexes = input.indexes === undefined ? (existing?.indexes ?? []) : input.indexes;
  if (view && !(Array.isArray(indexes) && indexes.length === 0))
    errors.indexes = {
      code: 'validation_indexes_not_supported',
      message: "View collections don't support indexes.",
    };
  const tableName = typeof name === 'string' ? name : '';
  const canonicalIndexes = checkIndexes(indexes, tableName, fieldNames, errors);
  // As PocketBase, an auth collection always gets back a unique index on `tokenKey` and on `email` when it
  // has none (one of any name will do: the dashboard sends the scaffold's).
  if (type === 'auth') {
    for (const sys of authSystemIndexes(tableName, String(id))) {
      const spec = parseIndex(sys, tableName);
      const column = typeof spec === 'string' ? undefined : spec.columns[0]?.name;
      if (typeof spec !== 'string' && column && !identityIndex(canonicalIndexes, column))
        canonicalIndexes.push(formatIndex(spec));
    }
  }

  if (type === 'auth' && !errors.passwordAuth) {
    const identityFields = (options.passwordAuth as { identityFields?: unknown } | undefined)?.identityFields;
    const missing = Array.isArray(identityFields)
      ? identityFields.filter((f) => typeof f === 'string' && !identityIndex(canonicalIndexes, f))
      : [];
    if (missing.length)
      errors.passwordAuth = {
        identityFields: {
          code: 'validation_missing_unique_constraint',
          message: `The field ${missing[0]} doesn't have a UNIQUE constraint.`,
          params: { fieldName: missing[0] },
        },
      };
  }

  if (Object.keys(errors).length) return { errors };
  const now = nowString();
  return {
    collection: {
      id: id as string,
      name: name as string,
      type,
      system: existing?.system ?? false,
      fields,
      indexes: canonicalIndexes,
      listRule: rules.listRule ?? null,
      viewRule: rules.viewRule ?? null,
      createRule: rules.createRule ?? null,
      updateRule: rules.updateRule ?? null,
      deleteRule: rules.deleteRule ?? null,
      options,
      created: existing?.created ?? now,
      updated: now,
    },
  };
}

const WRITE_RULES: string[] = ['createRule', 'updateRule', 'deleteRule'];

/** Only a view may relate to a view: a view has no stable records for a stored id to point at. */
function checkNoRelationToView(fields: FieldDef[], ctx: ValidationContext, errors: ErrorData) {
  fields.forEach((f, i) => {
    if (f.type !== 'relation' || ctx.findById(String(f.collectionId))?.type !== 'view') return;
    if (!errors.fields) errors.fields = {};
    const fieldErrors = errors.fields as ErrorData;
    fieldErrors[String(i)] = {
      ...(fieldErrors[String(i)] as ErrorData | undefined),
      collectionId: {
        code: 'validation_relation_field_non_view_base_collection',
        message: 'Only view collections are allowed to have relations to other views.',
      },
    };
  });
}

function ruleOf(c: Collection, key: string): string | null {
  if (key === 'authRule' || key === 'manageRule')
    return (c.options[key] as string | null | undefined) ?? (key === 'authRule' ? '' : null);
  return c[key as (typeof RULE_NAMES)[number]];
}

/** Longest token lifetime an auth option may set (seconds). */
const MAX_TOKEN_DURATION = 10 * 365 * 86400;

/** Known auth options, merged over the existing ones (or the defaults); unknown keys are ignored. */
function authOptions(
  input: Record<string, unknown>,
  existing: Collection | undefined,
  fieldNames: string[],
  errors: ErrorData,
): Record<string, unknown> {
  const base = existing?.options ?? defaultAuthOptions();
  const out: Record<string, unknown> = {};
  for (const key of AUTH_OPTION_KEYS) {
    if (key === 'authRule' || key === 'manageRule') continue;
    const value = input[key];
    if (value === undefined) out[key] = base[key];
    else if (!isPlainObject(value))
      errors[key] = { code: 'validation_invalid_value', message: 'Must be an object.' };
    else {
      const optionErrors = checkAuthOption(value, fieldNames);
      if (key === 'oauth2' && value.providers !== undefined) {
        const providerErrors = checkProviders(value.providers);
        if (providerErrors) optionErrors.providers = providerErrors;
      }
      if (Object.keys(optionErrors).length) errors[key] = optionErrors;
      else out[key] = { ...(base[key] as object), ...value };
    }
  }
  return out;
}

/** Type checks for the option keys the auth code reads (`enabled`, `duration`, `identityFields`, `length`, `secret`). */
function checkAuthOption(value: Record<string, unknown>, fieldNames: string[]): ErrorData {
  const errors: ErrorData = {};
  const { enabled, duration, identityFields, length, rule, secret } = value;
  // A token option's secret (see collection-secrets.ts): empty keeps the stored one.
  if (
    secret !== undefined &&
    secret !== '' &&
    (typeof secret !== 'string' || secret.length < 30 || secret.length > 255)
  )
    errors.secret = {
      code: 'validation_length_out_of_range',
      message: 'The length must be between 30 and 255.',
      params: { min: 30, max: 255 },
    };
  if (rule !== undefined && (typeof rule !== 'string' || rule.length > 10_000))
    errors.rule = { code: 'validation_invalid_rule', message: 'Must be a rule expression (empty: always).' };
  if (enabled !== undefined && typeof enabled !== 'boolean')
    errors.enabled = { code: 'validation_invalid_value', message: 'Must be a boolean.' };
  if (
    duration !== undefined &&
    !(Number.isInteger(duration) && (duration as number) > 0 && (duration as number) <= MAX_TOKEN_DURATION)
  )
    errors.duration = {
      code: 'validation_invalid_value',
      message: `Must be a whole number of seconds between 1 and ${MAX_TOKEN_DURATION}.`,
    };
  if (identityFields !== undefined) {
    const missing = Array.isArray(identityFields)
      ? identityFields.find((f) => typeof f !== 'string' || !fieldNames.includes(f))
      : undefined;
    if (!Array.isArray(identityFields) || identityFields.some((f) => typeof f !== 'string'))
      errors.identityFields = {
        code: 'validation_invalid_value',
        message: "Must be a list of the collection's field names.",
      };
    else if (missing !== undefined)
      errors.identityFields = {
        code: 'validation_missing_field',
        message: `Invalid or missing field ${missing}.`,
        params: { fieldName: missing },
      };
  }
  if (
    length !== undefined &&
    !(Number.isInteger(length) && (length as number) > 0 && (length as number) <= 255)
  )
    errors.length = {
      code: 'validation_invalid_value',
      message: 'Must be a whole number between 1 and 255.',
    };
  return errors;
}

const HTTP_URL = /^https?:\/\/[^\s]+$/;

/**
 * OAuth2 provider entries (PocketBase's shape). Which names exist is the auth layer's business (an
 * unknown one is refused when used); here only the shape: the values are used in outgoing requests.
 */
function checkProviders(providers: unknown): ErrorData[string] | undefined {
  if (!Array.isArray(providers) || providers.length > 50)
    return { code: 'validation_invalid_value', message: 'Must be a list of at most 50 providers.' };
  const errors: ErrorData = {};
  const seen = new Set<string>();
  providers.forEach((p, i) => {
    const e: ErrorData = {};
    if (!isPlainObject(p)) {
      errors[String(i)] = { code: 'validation_invalid_value', message: 'Must be an object.' };
      return;
    }
    if (typeof p.name !== 'string' || !/^[a-z0-9_]{1,50}$/.test(p.name) || seen.has(p.name))
      e.name = { code: 'validation_invalid_value', message: 'Must be a unique provider name.' };
    else seen.add(p.name);
    for (const key of ['clientId', 'clientSecret', 'displayName'])
      if (p[key] !== undefined && (typeof p[key] !== 'string' || (p[key] as string).length > 2000))
        e[key] = { code: 'validation_invalid_value', message: 'Must be a string.' };
    for (const key of ['authURL', 'tokenURL', 'userInfoURL'])
      if (
        p[key] !== undefined &&
        p[key] !== '' &&
        !(typeof p[key] === 'string' && HTTP_URL.test(p[key] as string))
      )
        e[key] = { code: 'validation_invalid_url', message: 'Must be an http(s) URL.' };
    if (p.pkce !== undefined && p.pkce !== null && typeof p.pkce !== 'boolean')
      e.pkce = { code: 'validation_invalid_value', message: 'Must be a boolean or null.' };
    if (p.extra !== undefined && p.extra !== null && !isPlainObject(p.extra))
      e.extra = { code: 'validation_invalid_value', message: 'Must be an object.' };
    if (Object.keys(e).length) errors[String(i)] = e;
  });
  return Object.keys(errors).length ? errors : undefined;
}

/** Parses each index, checks its columns exist and its name is unique; returns canonical statements. */
function checkIndexes(indexes: unknown, table: string, fieldNames: string[], errors: ErrorData): string[] {
  if (!Array.isArray(indexes) || indexes.length > 100) {
    errors.indexes = {
      code: 'validation_invalid_value',
      message: 'Must be a list of at most 100 index definitions.',
    };
    return [];
  }
  const out: string[] = [];
  const indexErrors: ErrorData = {};
  const names = new Set<string>();
  indexes.forEach((text, i) => {
    const spec = typeof text === 'string' ? parseIndex(text, table) : 'must be a string';
    if (typeof spec === 'string') {
      indexErrors[String(i)] = {
        code: 'validation_invalid_index_expression',
        message: `Invalid index: ${spec}.`,
      };
      return;
    }
    const missing = [...spec.columns.map((c) => c.name), ...(spec.where ?? []).map((w) => w.column)].find(
      (c) => !fieldNames.includes(c),
    );
    if (missing)
      indexErrors[String(i)] = {
        code: 'validation_invalid_index_column',
        message: `Unknown column ${missing}.`,
      };
    else if (names.has(spec.name.toLowerCase()))
      indexErrors[String(i)] = {
        code: 'validation_duplicated_index_name',
        message: 'Duplicated index name.',
      };
    else out.push(formatIndex(spec));
    names.add(spec.name.toLowerCase());
  });
  if (Object.keys(indexErrors).length) errors.indexes = indexErrors;
  return out;
}
