import type { ErrorData } from '../../errors/index.ts';

/** Small checkers shared by field types' `checkOptions`. Each adds to `errors` and returns it. */
export function checkNonNegativeInt(
  errors: ErrorData,
  field: Record<string, unknown>,
  key: string,
): ErrorData {
  const v = field[key];
  if (v !== undefined && v !== null && !(Number.isInteger(v) && (v as number) >= 0)) {
    errors[key] = { code: 'validation_invalid_value', message: 'Must be a whole number ≥ 0.' };
  }
  return errors;
}

export function checkOptionalNumber(
  errors: ErrorData,
  field: Record<string, unknown>,
  key: string,
): ErrorData {
  const v = field[key];
  if (v !== undefined && v !== null && !(typeof v === 'number' && Number.isFinite(v))) {
    errors[key] = { code: 'validation_invalid_value', message: 'Must be a number or null.' };
  }
  return errors;
}

export function checkBool(errors: ErrorData, field: Record<string, unknown>, key: string): ErrorData {
  if (field[key] !== undefined && typeof field[key] !== 'boolean') {
    errors[key] = { code: 'validation_invalid_value', message: 'Must be a boolean.' };
  }
  return errors;
}

export function checkStringList(errors: ErrorData, field: Record<string, unknown>, key: string): ErrorData {
  const v = field[key];
  if (
    v !== undefined &&
    v !== null &&
    !(Array.isArray(v) && v.every((s) => typeof s === 'string' && s.length <= 255))
  ) {
    errors[key] = { code: 'validation_invalid_value', message: 'Must be a list of strings.' };
  }
  return errors;
}

/** A regex option: must compile. Patterns come from superusers only, but must not crash a request. */
export function checkPattern(errors: ErrorData, field: Record<string, unknown>, key: string): ErrorData {
  const v = field[key];
  if (v === undefined || v === '') return errors;
  if (typeof v !== 'string' || v.length > 1000) {
    errors[key] = { code: 'validation_invalid_value', message: 'Must be a regular expression.' };
    return errors;
  }
  try {
    new RegExp(v, 'u');
  } catch {
    errors[key] = { code: 'validation_invalid_regex', message: 'Invalid regular expression.' };
  }
  return errors;
}

/** Compiled regexes, cached: patterns are checked on every write. */
const regexCache = new Map<string, RegExp>();
export function compiledPattern(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(pattern, 'u');
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}
