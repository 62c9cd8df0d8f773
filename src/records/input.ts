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
    if (field.type === 'file' && !errors[name]) {
      const err = keepsOnlyStoredFiles(base[name], values[name]);
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
    // Like any unknown key, a modifier a field does not take is ignored (PocketBase does the same).
    if (op === 'prepend') return undefined;
    const r = t.normalize(field, raw);
    if ('error' in r) return invalidNumber;
    const current = Number(values[field.name] ?? 0);
    values[field.name] = op === 'append' ? current + (r.value as number) : current - (r.value as number);
    return undefined;
  }
  if (!['select', 'relation', 'file'].includes(field.type)) return undefined;
  const r = t.normalize({ ...field, maxSelect: 1000 }, raw);
  if ('error' in r) return r.error;
  const items = r.value as string[];
  // As PocketBase does: join old and new in order, keep first occurrences; a single value keeps the last.
  const current = ([] as string[]).concat((values[field.name] as string | string[]) || []).filter(Boolean);
  const next =
    op === 'remove'
      ? current.filter((v) => !items.includes(v))
      : [...new Set(op === 'append' ? [...current, ...items] : [...items, ...current])];
  values[field.name] = t.isMulti(field) ? next : (next.at(-1) ?? '');
  return undefined;
}

/**
 * A JSON body may only keep, reorder or drop a file field's stored file names: a name it makes up would
 * later be served as if it were an uploaded file. Uploads come as multipart with the files release.
 */
function keepsOnlyStoredFiles(before: unknown, after: unknown) {
  const stored = new Set(([] as string[]).concat((before as string | string[]) || []));
  const names = ([] as string[]).concat((after as string | string[]) || []).filter(Boolean);
  if (names.every((n) => stored.has(n))) return undefined;
  return {
    code: 'validation_unknown_file',
    message: 'Only files stored on this record can be kept; uploads arrive with file support.',
  };
}
