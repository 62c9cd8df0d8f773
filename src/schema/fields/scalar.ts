import { normalizeDate } from '../../lib/index.ts';
import { checkBool, checkOptionalNumber } from './options.ts';
import { blank, type FieldType, invalid } from './types.ts';

export const numberField: FieldType = {
  type: 'number',
  defaults: () => ({ max: null, min: null, onlyInt: false }),
  checkOptions: (field) =>
    checkBool(checkOptionalNumber(checkOptionalNumber({}, field, 'min'), field, 'max'), field, 'onlyInt'),
  column: () => 'number',
  zero: () => 0,
  normalize(_f, v) {
    if (v === null || v === undefined || v === '') return { value: 0 };
    const n =
      typeof v === 'number'
        ? v
        : typeof v === 'string' && /^\s*-?\d+(\.\d+)?([eE][-+]?\d+)?\s*$/.test(v)
          ? Number(v)
          : Number.NaN;
    if (typeof v === 'boolean') return { value: v ? 1 : 0 };
    if (!Number.isFinite(n)) return { error: invalid('Must be a valid number.') };
    return { value: n };
  },
  validate(field, value) {
    const n = value as number;
    // A modifier can overflow a finite value (`1e308` then `n+: 1e308`): Infinity has no JSON form.
    if (!Number.isFinite(n))
      return { code: 'validation_not_a_number', message: 'The submitted number is not properly formatted.' };
    // 0 is the empty value: only `required` looks at it (PocketBase does not apply min and max to it).
    if (n === 0) return field.required ? blank() : undefined;
    if (field.onlyInt && !Number.isInteger(n))
      return { code: 'validation_only_int_constraint', message: 'Decimal numbers are not allowed.' };
    if (typeof field.min === 'number' && n < field.min) {
      return {
        code: 'validation_min_number_constraint',
        message: `Must be greater or equal than ${field.min}.`,
        params: { min: field.min },
      };
    }
    if (typeof field.max === 'number' && n > field.max) {
      return {
        code: 'validation_max_number_constraint',
        message: `Must be less or equal than ${field.max}.`,
        params: { max: field.max },
      };
    }
    return undefined;
  },
  toDb: (_f, v) => v,
  fromDb: (_f, raw) => (raw === null || raw === undefined || raw === '' ? 0 : Number(raw)),
  isMulti: () => false,
};

export const boolField: FieldType = {
  type: 'bool',
  defaults: () => ({}),
  checkOptions: () => ({}),
  column: () => 'bool',
  zero: () => false,
  normalize(_f, v) {
    if (v === null || v === undefined || v === '') return { value: false };
    if (typeof v === 'boolean') return { value: v };
    if (v === 1 || v === '1' || v === 'true') return { value: true };
    if (v === 0 || v === '0' || v === 'false') return { value: false };
    return { error: invalid('Must be a boolean.') };
  },
  validate: (field, value) => (field.required && value !== true ? blank() : undefined),
  toDb: (_f, v) => (v ? 1 : 0),
  fromDb: (_f, raw) => raw === 1 || raw === true || raw === '1' || raw === 1n || raw === 'true',
  isMulti: () => false,
};

function checkDateOption(errors: Record<string, unknown>, field: Record<string, unknown>, key: string) {
  const v = field[key];
  if (v !== undefined && v !== '' && normalizeDate(v) === undefined) {
    errors[key] = { code: 'validation_invalid_date', message: 'Must be a valid date.' };
  }
}

export const dateField: FieldType = {
  type: 'date',
  defaults: () => ({ max: '', min: '' }),
  checkOptions(field) {
    const errors = {};
    checkDateOption(errors, field, 'min');
    checkDateOption(errors, field, 'max');
    return errors;
  },
  column: () => 'text',
  zero: () => '',
  normalize(_f, v) {
    if (v === null || v === undefined || v === '') return { value: '' };
    const d = normalizeDate(v);
    return d === undefined
      ? { error: { code: 'validation_invalid_date', message: 'Must be a valid date.' } }
      : { value: d };
  },
  validate(field, value) {
    const d = value as string;
    if (d === '') return field.required ? blank() : undefined;
    const min = field.min ? normalizeDate(field.min) : undefined;
    const max = field.max ? normalizeDate(field.max) : undefined;
    if (min && d < min)
      return {
        code: 'validation_min_greater_equal_than_required',
        message: `Must be no less than ${min}.`,
        params: { min },
      };
    if (max && d > max)
      return {
        code: 'validation_max_less_equal_than_required',
        message: `Must be no greater than ${max}.`,
        params: { max },
      };
    return undefined;
  },
  toDb: (_f, v) => v,
  fromDb: (_f, raw) => (raw === null || raw === undefined ? '' : String(raw)),
  isMulti: () => false,
};

/** Server-set timestamps; the records layer fills them, client values are ignored. */
export const autodateField: FieldType = {
  ...dateField,
  type: 'autodate',
  defaults: () => ({ onCreate: true, onUpdate: false }),
  checkOptions: (field) => checkBool(checkBool({}, field, 'onCreate'), field, 'onUpdate'),
  validate: () => undefined,
};
