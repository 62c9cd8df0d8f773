import type { ErrorData } from '../errors/index.ts';
import { FORBIDDEN_KEYS, isPlainObject, prefixedNumericId } from '../lib/index.ts';
import { FIELD_TYPES, type FieldDef, type OptionsContext } from './fields/index.ts';

export const NAME_RE = /^\w+$/;
/** PostgreSQL truncates identifiers past 63 bytes and MySQL refuses past 64: one limit for every engine. */
export const MAX_NAME_LENGTH = 63;
/** Names that would collide with record JSON keys or auth body keys. */
const RESERVED_FIELD_NAMES = new Set([
  'expand',
  'collectionid',
  'collectionname',
  'passwordconfirm',
  'oldpassword',
  '__proto__',
]);
const COMMON_KEYS = new Set(['id', 'name', 'type', 'system', 'hidden', 'presentable', 'required', 'help']);
/** Flags PocketBase enforces on these system fields, whatever the client sends (records rely on them). */
const LOCKED_FLAGS: Record<string, Partial<FieldDef>> = {
  id: { hidden: false, required: true, primaryKey: true },
  password: { hidden: true, required: true },
  tokenKey: { hidden: true, required: true },
};

/**
 * Turns a client's `fields` list into field definitions, matching existing fields by id (then by name)
 * so that renames keep their column. System fields cannot be dropped, renamed or retyped.
 */
export function normalizeFields(
  input: unknown,
  previous: FieldDef[],
  ctx: OptionsContext,
  errors: ErrorData,
): FieldDef[] {
  if (!Array.isArray(input)) {
    errors.fields = { code: 'validation_invalid_value', message: 'Must be a list of fields.' };
    return previous;
  }
  if (input.length > 500) {
    errors.fields = {
      code: 'validation_length_too_long',
      message: 'A collection may have at most 500 fields.',
    };
    return previous;
  }
  const fieldErrors: ErrorData = {};
  const out: FieldDef[] = [];
  const seenNames = new Set<string>();
  const seenIds = new Set<string>();
  input.forEach((raw, i) => {
    const err = normalizeOne(raw, previous, ctx, seenNames, seenIds);
    if ('field' in err) out.push(err.field);
    else fieldErrors[String(i)] = err.errors;
  });
  // System fields the client left out stay where they were: `id` first, the others after the client's.
  for (const old of previous) {
    if (!old.system || out.some((f) => f.id === old.id)) continue;
    if (out.some((f) => f.name.toLowerCase() === old.name.toLowerCase())) {
      fieldErrors[old.name] = {
        code: 'validation_system_field_change',
        message: `${old.name} is a system field.`,
      };
    } else if (old.name === 'id') out.unshift(old);
    else out.push(old);
  }
  if (Object.keys(fieldErrors).length) errors.fields = fieldErrors;
  return out;
}

function normalizeOne(
  raw: unknown,
  previous: FieldDef[],
  ctx: OptionsContext,
  seenNames: Set<string>,
  seenIds: Set<string>,
): { field: FieldDef } | { errors: ErrorData } {
  const errors: ErrorData = {};
  if (!isPlainObject(raw))
    return { errors: { type: { code: 'validation_invalid_value', message: 'Must be an object.' } } };
  const old =
    (typeof raw.id === 'string' && raw.id !== '' ? previous.find((f) => f.id === raw.id) : undefined) ??
    (typeof raw.id !== 'string' || raw.id === '' ? previous.find((f) => f.name === raw.name) : undefined);
  const name = typeof raw.name === 'string' ? raw.name : '';
  const type = typeof raw.type === 'string' ? raw.type : (old?.type ?? '');
  const fieldType = FIELD_TYPES.get(type);
  if (!fieldType) errors.type = { code: 'validation_invalid_field_type', message: 'Unknown field type.' };
  if (!name) errors.name = { code: 'validation_required', message: 'Cannot be blank.' };
  else if (!NAME_RE.test(name) || name.length > MAX_NAME_LENGTH)
    errors.name = {
      code: 'validation_invalid_name',
      message: `Field names may contain only letters, digits and _ (up to ${MAX_NAME_LENGTH}).`,
    };
  else if (name.startsWith('_') && !old?.system)
    errors.name = {
      code: 'validation_reserved_name',
      message: 'Names starting with _ are reserved for Plinth.',
    };
  else if (name.includes('_via_'))
    errors.name = { code: 'validation_invalid_name', message: 'Field names cannot contain _via_.' };
  else if (RESERVED_FIELD_NAMES.has(name.toLowerCase()))
    errors.name = { code: 'validation_reserved_name', message: 'This name is reserved.' };
  else if (seenNames.has(name.toLowerCase()))
    errors.name = { code: 'validation_duplicated_name', message: 'Duplicated field name.' };
  seenNames.add(name.toLowerCase());
  if (old && old.type !== type)
    errors.type = {
      code: 'validation_field_type_change',
      message: 'The type of an existing field cannot be changed.',
    };
  if (old?.system && old.name !== name)
    errors.name = { code: 'validation_system_field_change', message: 'System fields cannot be renamed.' };
  const id =
    old?.id ??
    (typeof raw.id === 'string' && /^\w{1,100}$/.test(raw.id) ? raw.id : prefixedNumericId(type || 'field'));
  if (seenIds.has(id)) errors.id = { code: 'validation_duplicated_id', message: 'Duplicated field id.' };
  seenIds.add(id);
  for (const flag of ['hidden', 'presentable', 'required'] as const) {
    if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean')
      errors[flag] = { code: 'validation_invalid_value', message: 'Must be a boolean.' };
  }
  if (!fieldType || Object.keys(errors).length) return { errors };

  const field: FieldDef = {
    id,
    name,
    type,
    system: old?.system ?? false,
    hidden: raw.hidden === true,
    presentable: raw.presentable === true,
    required: raw.required === true,
  };
  if (typeof raw.help === 'string') field.help = raw.help.slice(0, 1000);
  const defaults = fieldType.defaults();
  for (const key of Object.keys(defaults)) {
    if (FORBIDDEN_KEYS.has(key) || COMMON_KEYS.has(key)) continue;
    field[key] = key in raw ? raw[key] : (old?.[key] ?? defaults[key]);
  }
  if (old?.system && Object.hasOwn(LOCKED_FLAGS, old.name)) Object.assign(field, LOCKED_FLAGS[old.name]);
  const optionErrors = checkRanges(field, fieldType.checkOptions(field, ctx));
  // Stored ids point into the old target: a relation cannot be moved to another collection.
  if (old?.type === 'relation' && old.collectionId !== field.collectionId)
    optionErrors.collectionId = {
      code: 'validation_field_relation_change',
      message: 'The relation collection cannot be changed.',
    };
  if (Object.keys(optionErrors).length) return { errors: optionErrors };
  return { field };
}

/** A lower bound above its upper bound would make every record unsavable. */
function checkRanges(field: FieldDef, errors: ErrorData): ErrorData {
  for (const [lo, hi] of [
    ['min', 'max'],
    ['minSelect', 'maxSelect'],
  ] as const) {
    const min = field[lo];
    const max = field[hi];
    if (errors[lo] || errors[hi] || typeof min !== 'number' || typeof max !== 'number') continue;
    // A zero max means "no limit" for text and selects, but is a real bound for numbers.
    const unbounded = max === 0 && field.type !== 'number';
    if (!unbounded && min > max)
      errors[hi] = { code: 'validation_invalid_range', message: `Must not be less than ${lo}.` };
  }
  return errors;
}
