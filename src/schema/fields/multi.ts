import type { ErrorData, FieldError } from '../../errors/index.ts';
import { containsNul, parseJsonOr } from '../../lib/index.ts';
import { checkBool, checkNonNegativeInt, checkStringList } from './options.ts';
import { blank, type FieldDef, type FieldType, hasNul, invalid } from './types.ts';

const isMulti = (field: FieldDef) => Number(field.maxSelect ?? 1) > 1;

/** Accepts a string, a list of strings, or (multipart forms) a JSON-encoded list. */
function toList(value: unknown): string[] | undefined {
  if (value === null || value === undefined || value === '') return [];
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (trimmed.startsWith('[')) {
      const parsed = parseJsonOr<unknown>(trimmed, undefined);
      if (Array.isArray(parsed) && parsed.every((v) => typeof v === 'string')) return parsed;
    }
    return [value];
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  return undefined;
}

/** Base for fields that hold one string or a list of strings, depending on maxSelect. */
function listField(
  type: string,
  defaults: () => Record<string, unknown>,
  check: (f: FieldDef, ctx: Parameters<FieldType['checkOptions']>[1]) => ErrorData,
  validateItem: (f: FieldDef, item: string) => FieldError | undefined,
): FieldType {
  return {
    type,
    defaults,
    checkOptions: check,
    column: (field) => (isMulti(field) ? 'jsonArray' : 'text'),
    zero: (field) => (isMulti(field) ? [] : ''),
    isMulti,
    normalize(field, value) {
      const list = toList(value);
      if (!list)
        return { error: invalid(isMulti(field) ? 'Must be a list of strings.' : 'Must be a string.') };
      if (containsNul(list)) return { error: hasNul() };
      const unique = [...new Set(list.filter((v) => v !== ''))];
      if (isMulti(field)) return { value: unique };
      // A single-value field keeps the last value sent (PocketBase's behaviour for repeated form keys).
      return { value: unique.at(-1) ?? '' };
    },
    validate(field, value) {
      const list = Array.isArray(value) ? (value as string[]) : value === '' ? [] : [value as string];
      if (list.length === 0) return field.required ? blank() : undefined;
      const max = Number(field.maxSelect ?? 1) || 1;
      if (list.length > max) {
        return {
          code: 'validation_too_many_values',
          message: `Select no more than ${max}.`,
          params: { maxSelect: max },
        };
      }
      const min = Number(field.minSelect ?? 0);
      if (min > 0 && list.length < min) {
        return {
          code: 'validation_not_enough_values',
          message: `Select at least ${min}.`,
          params: { minSelect: min },
        };
      }
      for (const item of list) {
        const err = validateItem(field, item);
        if (err) return err;
      }
      return undefined;
    },
    toDb: (field, v) => (isMulti(field) ? JSON.stringify(v ?? []) : (v ?? '')),
    fromDb(field, raw) {
      if (!isMulti(field)) return raw === null || raw === undefined ? '' : String(raw);
      const list = typeof raw === 'string' ? parseJsonOr<unknown>(raw, []) : raw;
      return Array.isArray(list) ? list.map(String) : [];
    },
  };
}

export const selectField = listField(
  'select',
  () => ({ maxSelect: 1, values: [] }),
  (field) => {
    const errors = checkNonNegativeInt({}, field, 'maxSelect');
    checkStringList(errors, field, 'values');
    if (!Array.isArray(field.values) || field.values.length === 0) errors.values = blank();
    else if (new Set(field.values).size !== field.values.length)
      errors.values = { code: 'validation_duplicated_values', message: 'Values must be unique.' };
    return errors;
  },
  (field, item) =>
    (field.values as string[]).includes(item)
      ? undefined
      : { code: 'validation_invalid_value', message: `Invalid value ${item}.`, params: { value: item } },
);

const RECORD_ID_RE = /^[a-zA-Z0-9_-]{1,100}$/;

/** Ids are checked for shape here; their existence is checked by the records layer (it needs the db). */
export const relationField = listField(
  'relation',
  () => ({ cascadeDelete: false, collectionId: '', maxSelect: 1, minSelect: 0 }),
  (field, ctx) => {
    const errors = checkNonNegativeInt(checkNonNegativeInt({}, field, 'maxSelect'), field, 'minSelect');
    checkBool(errors, field, 'cascadeDelete');
    // PocketBase's codes: a blank target is `validation_required`, an unknown one (or a name) is missing.
    if (field.collectionId === '' || field.collectionId === undefined || field.collectionId === null)
      errors.collectionId = blank();
    else if (typeof field.collectionId !== 'string' || !ctx.collectionExists(field.collectionId)) {
      errors.collectionId = {
        code: 'validation_field_relation_missing_collection',
        message: "The relation collection doesn't exist.",
      };
    }
    return errors;
  },
  (_field, item) =>
    RECORD_ID_RE.test(item) ? undefined : invalid(`Invalid record id ${item.slice(0, 100)}.`),
);

/** File values are names of stored files; uploads arrive with the files issue. */
export const fileField = listField(
  'file',
  () => ({ maxSelect: 1, maxSize: 0, mimeTypes: [], protected: false, thumbs: [] }),
  (field) => {
    const errors = checkNonNegativeInt(checkNonNegativeInt({}, field, 'maxSelect'), field, 'maxSize');
    checkStringList(errors, field, 'mimeTypes');
    checkStringList(errors, field, 'thumbs');
    return checkBool(errors, field, 'protected');
  },
  () => undefined,
);
