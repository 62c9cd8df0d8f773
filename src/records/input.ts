import type { ErrorData } from '../errors/index.ts';
import { randomStringMatching } from '../lib/index.ts';
import { type Collection, type FieldDef, fieldType } from '../schema/index.ts';
import { checkFiles, type Uploads } from './files.ts';
import type { RecordValues } from './types.ts';
import { newTokenKey } from './write-support.ts';

export interface InputResult {
  values: RecordValues;
  errors: ErrorData;
  /** Plain-text passwords to hash, by field name (only the ones being set). */
  passwords: Record<string, string>;
  /** Names of fields the body touched (directly or through a modifier). */
  touched: Set<string>;
  /**
   * The body as rules read it (`@request.body.*`): modifier keys resolved into the field's final value under
   * the field's name, fields the caller may not write left out, other keys as sent (PocketBase's order).
   */
  ruleBody: Record<string, unknown>;
}

export interface InputOptions {
  /** Superusers may write hidden fields; everyone else's values for them are ignored (not `password`). */
  writeHidden: boolean;
  /** A new record: text fields left empty get a value from their `autogeneratePattern`. */
  create?: boolean;
  /** Files sent with this write, by stored name: file fields may take these besides the files they have. */
  uploads?: Uploads;
}

const NO_UPLOADS: Uploads = new Map();

/** `slug:autogenerate`: the field's pattern generates the value (after the given prefix, if any). */
const AUTOGENERATE = ':autogenerate';

const invalidNumber = { code: 'validation_invalid_value', message: 'Must be a valid number.' };

const MODIFIERS = [
  ['prepend', (name: string) => `+${name}`],
  ['append', (name: string) => `${name}+`],
  ['remove', (name: string) => `${name}-`],
] as const;

/**
 * Applies a request body to `base` (zero values on create, stored values on update): plain keys first,
 * then the write modifiers `field+` (append / add), `+field` (prepend) and `field-` (remove / subtract).
 * Unknown keys are ignored, as PocketBase does. Server-set fields (id, autodate, an auth record's tokenKey)
 * are left alone, and so are hidden fields unless `options.writeHidden`: a hidden field is one rules may
 * trust (`@request.auth.is_mod`), so only superusers set it.
 */
export function applyInput(
  collection: Collection,
  body: Record<string, unknown>,
  base: RecordValues,
  options: InputOptions,
): InputResult {
  const values: RecordValues = { ...base };
  const errors: ErrorData = {};
  const passwords: Record<string, string> = {};
  const touched = new Set<string>();
  const ruleBody: Record<string, unknown> = { ...body };

  const serverSet = (name: string) => name === 'id' || (collection.type === 'auth' && name === 'tokenKey');
  for (const field of collection.fields) {
    // `tokenKey:autogenerate` (superusers): a new tokenKey, the dashboard's "Reset issued tokens"; a value
    // sent for it is still ignored.
    if (
      collection.type === 'auth' &&
      field.name === 'tokenKey' &&
      options.writeHidden &&
      Object.hasOwn(body, `tokenKey${AUTOGENERATE}`)
    ) {
      touched.add(field.name);
      values.tokenKey = newTokenKey();
      delete ruleBody[`tokenKey${AUTOGENERATE}`];
    }
    if (serverSet(field.name) || field.type === 'autodate') continue;
    const t = fieldType(field.type);
    const name = field.name;
    const has = (key: string) => Object.hasOwn(body, key);
    if (!options.writeHidden && field.hidden && !isAuthPassword(collection, field)) {
      delete ruleBody[name];
      for (const [, key] of MODIFIERS) delete ruleBody[key(name)];
      continue;
    }
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
    let modified = false;
    for (const [op, key] of MODIFIERS) {
      if (!has(key(name)) || field.type === 'password') continue;
      touched.add(name);
      const r = applyModifier(field, values, op, body[key(name)]);
      if (r === 'ignored') continue;
      modified = true;
      delete ruleBody[key(name)];
      if (r) {
        errors[name] = r;
        ruleBody[name] = body[key(name)];
      }
    }
    if (field.type === 'text' && field.autogeneratePattern && has(name + AUTOGENERATE)) {
      touched.add(name);
      const prefix = body[name + AUTOGENERATE];
      values[name] = `${typeof prefix === 'string' ? prefix : ''}${generate(field)}`;
      delete ruleBody[name + AUTOGENERATE];
      modified = true;
    } else if (options.create && field.type === 'text' && field.autogeneratePattern && values[name] === '') {
      // PocketBase fills an empty text field of a new record from its pattern; rules still see the body sent.
      values[name] = generate(field);
    }
    // Rules see what will be stored: `n+: 5` is `n: <stored + 5>` to `@request.body.n` (and :isset,
    // :changed, :length, :each). A value that failed validation stays as sent; the write fails anyway.
    if ((has(name) || modified) && !errors[name] && field.type !== 'password') ruleBody[name] = values[name];
    if (field.type === 'file' && !errors[name]) {
      const err = checkFiles(field, base[name], values[name], options.uploads ?? NO_UPLOADS);
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
  return { values, errors, passwords, touched, ruleBody };
}

/** The collection's pattern was checked when it was saved (it generates values the field accepts). */
const generate = (field: FieldDef) => randomStringMatching(String(field.autogeneratePattern));

const isAuthPassword = (collection: Collection, field: FieldDef) =>
  collection.type === 'auth' && field.name === 'password';

/** Applies one modifier to `values`: undefined when applied, a field error, or 'ignored'. */
function applyModifier(
  field: FieldDef,
  values: RecordValues,
  op: 'prepend' | 'append' | 'remove',
  raw: unknown,
): ErrorData[string] | 'ignored' | undefined {
  const t = fieldType(field.type);
  if (field.type === 'number') {
    // Like any unknown key, a modifier a field does not take is ignored (PocketBase does the same).
    if (op === 'prepend') return 'ignored';
    const r = t.normalize(field, raw);
    if ('error' in r) return invalidNumber;
    const current = Number(values[field.name] ?? 0);
    values[field.name] = op === 'append' ? current + (r.value as number) : current - (r.value as number);
    return undefined;
  }
  if (!['select', 'relation', 'file'].includes(field.type)) return 'ignored';
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
