import type { ErrorData, FieldError } from '../errors/index.ts';
import { FIELD_TYPES, type FieldDef, type OptionsContext } from './fields/index.ts';

export const NAME_RE = /^\w+$/;
/** PostgreSQL truncates identifiers past 63 bytes and MySQL refuses past 64: one limit for every engine. */
export const MAX_NAME_LENGTH = 63;
const MAX_FIELD_ID_LENGTH = 100;
const MAX_HELP_LENGTH = 300;
/**
 * Names PocketBase refuses for any field (`validation_not_in_invalid`): filter literals and the keys every
 * record JSON has. Compared case-insensitively here (PocketBase: exactly), and `__proto__` too.
 */
const NOT_IN = new Set([
  'null',
  'true',
  'false',
  '_rowid_',
  'collectionid',
  'collectionname',
  'expand',
  '__proto__',
]);

/** The error shapes of PocketBase's validation library, with its codes and messages. */
export const rules = {
  required: (): FieldError => ({ code: 'validation_required', message: 'Cannot be blank.' }),
  length: (min: number, max: number): FieldError => ({
    code: 'validation_length_out_of_range',
    message: `The length must be between ${min} and ${max}.`,
    params: { min, max },
  }),
  match: (): FieldError => ({ code: 'validation_match_invalid', message: 'Must be in a valid format.' }),
  notIn: (): FieldError => ({ code: 'validation_not_in_invalid', message: 'Must not be in list.' }),
  via: (): FieldError => ({ code: 'validation_found_via', message: 'The value cannot contain "_via_".' }),
};

/** A field or collection name: PocketBase's checks in its order, with Plinth's 63-character limit. */
export function checkName(name: string): FieldError | undefined {
  if (name === '') return rules.required();
  if (name.length > MAX_NAME_LENGTH) return rules.length(1, MAX_NAME_LENGTH);
  if (!NAME_RE.test(name)) return rules.match();
  return undefined;
}

function checkFieldName(field: FieldDef): FieldError | undefined {
  const err = checkName(field.name);
  if (err) return err;
  if (NOT_IN.has(field.name.toLowerCase())) return rules.notIn();
  if (field.name.toLowerCase().includes('_via_')) return rules.via();
  // Plinth names its scratch columns `_tmp_…`, `_del_…`, `_bak_…` during schema changes.
  if (field.name.startsWith('_') && !field.system)
    return {
      code: 'validation_reserved_field_name',
      message: 'Names starting with _ are reserved for Plinth.',
    };
  return undefined;
}

/** Field ids are free text in PocketBase; Plinth keeps them to letters, digits and _ (they name scratch columns). */
function checkFieldId(id: string): FieldError | undefined {
  if (id === '') return rules.required();
  if (id.length > MAX_FIELD_ID_LENGTH) return rules.length(1, MAX_FIELD_ID_LENGTH);
  if (!NAME_RE.test(id)) return rules.match();
  return undefined;
}

/**
 * One field's own settings (PocketBase's `ValidateSettings`): id, name, help and the type's options, all
 * reported at once under the field's index. `old` is the field with the same id before this change.
 */
export function checkFieldSettings(
  field: FieldDef,
  old: FieldDef | undefined,
  ctx: OptionsContext,
): ErrorData {
  const fieldType = FIELD_TYPES.get(field.type);
  const errors: ErrorData = fieldType ? checkRanges(field, fieldType.checkOptions(field, ctx)) : {};
  const idError = checkFieldId(field.id);
  if (idError) errors.id = idError;
  const nameError = checkFieldName(field);
  if (nameError) errors.name = nameError;
  else if (field.type === 'text' && field.primaryKey === true && field.name !== 'id')
    errors.name = { code: 'validation_in_invalid', message: 'The primary key must be named "id".' };
  if (typeof field.help === 'string' && [...field.help].length > MAX_HELP_LENGTH)
    errors.help = rules.length(1, MAX_HELP_LENGTH);
  // Stored ids point into the old target: a relation cannot be moved to another collection.
  if (
    old?.type === 'relation' &&
    field.type === 'relation' &&
    typeof field.collectionId === 'string' &&
    field.collectionId !== '' &&
    old.collectionId !== field.collectionId
  )
    errors.collectionId = {
      code: 'validation_field_relation_change',
      message: 'The relation collection cannot be changed.',
    };
  return errors;
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
