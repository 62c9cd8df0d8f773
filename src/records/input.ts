import type { ErrorData } from '../errors/index.ts';
import { type Collection, type FieldDef, fieldType } from '../schema/index.ts';
import type { RecordValues } from './types.ts';

export interface InputResult {
  values: RecordValues;
  errors: ErrorData;
  /** Plain-text passwords to hash, by field name (only the ones being set). */
  passwords: Record<string, string>;
  /** Names of fields the body touched (directly or through a modifier). */
  touched: Set<string>;
}

const invalidNumber = { code: 'validation_invalid_value', message: 'Must be a valid number.' };

/**
 * Applies a request body to `base` (zero values on create, stored values on update): plain keys first,
 * then the write modifiers `field+` (append / add), `+field` (prepend) and `field-` (remove / subtract).
 * Unknown keys are ignored, as PocketBase does. Server-set fields (id, autodate, an auth record's tokenKey)
 * are left alone.
 */
export function applyInput(
  collection: Collection,
  body: Record<string, unknown>,
  base: RecordValues,
): InputResult {
  const values: RecordValues = { ...base };
  const errors: ErrorData = {};
  const passwords: Record<string, string> = {};
  const touched = new Set<string>();

  const serverSet = (name: string) => name === 'id' || (collection.type === 'auth' && name === 'tokenKey');
  for (const field of collection.fields) {
    if (serverSet(field.name) || field.type === 'autodate') continue;
    const t = fieldType(field.type);
    const name = field.name;
    const has = (key: string) => Object.hasOwn(body, key);
    if (has(name)) {
      touched.add(name);
      const r = t.normalize(field, body[name]);
      if ('error' in r) {
        errors[name] = r.error;
        continue;
      }
      if (field.type === 'password') {
        if (r.value !== '') passwords[name] = r.value as string;
        continue;
      }
      values[name] = r.value;
    }
    for (const [key, op] of [
      [`+${name}`, 'prepend'],
      [`${name}+`, 'append'],
      [`${name}-`, 'remove'],
    ] as const) {
      if (!has(key)) continue;
      touched.add(name);
      const err = applyModifier(field, values, op, body[key]);
      if (err) errors[name] = err;
    }
  }

  for (const field of collection.fields) {
    if (serverSet(field.name) || field.type === 'autodate' || errors[field.name]) continue;
    if (field.type === 'password') {
      const plain = passwords[field.name];
      const err =
        plain === undefined
          ? field.required && !values[field.name]
            ? fieldType('password').validate(field, '')
            : undefined
          : fieldType('password').validate(field, plain);
      if (err) errors[field.name] = err;
      continue;
    }
    const err = fieldType(field.type).validate(field, values[field.name]);
    if (err) errors[field.name] = err;
  }
  return { values, errors, passwords, touched };
}

function applyModifier(
  field: FieldDef,
  values: RecordValues,
  op: 'prepend' | 'append' | 'remove',
  raw: unknown,
) {
  const t = fieldType(field.type);
  if (field.type === 'number') {
    if (op === 'prepend')
      return { code: 'validation_invalid_modifier', message: 'Numbers take field+ or field-.' };
    const r = t.normalize(field, raw);
    if ('error' in r) return invalidNumber;
    const current = Number(values[field.name] ?? 0);
    values[field.name] = op === 'append' ? current + (r.value as number) : current - (r.value as number);
    return undefined;
  }
  if (!['select', 'relation', 'file'].includes(field.type)) {
    return { code: 'validation_invalid_modifier', message: 'This field does not take modifiers.' };
  }
  const r = t.normalize({ ...field, maxSelect: 1000 }, raw);
  if ('error' in r) return r.error;
  const items = r.value as string[];
  if (t.isMulti(field)) {
    const current = (values[field.name] as string[]) ?? [];
    if (op === 'remove') values[field.name] = current.filter((v) => !items.includes(v));
    else {
      const fresh = items.filter((v) => !current.includes(v));
      values[field.name] = op === 'append' ? [...current, ...fresh] : [...fresh, ...current];
    }
    return undefined;
  }
  const current = values[field.name] as string;
  if (op === 'remove') values[field.name] = items.includes(current) ? '' : current;
  else values[field.name] = items.at(-1) ?? current;
  return undefined;
}
