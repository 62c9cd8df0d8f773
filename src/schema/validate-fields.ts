import type { ErrorData, FieldError } from '../errors/index.ts';
import { checksumId, FORBIDDEN_KEYS, isPlainObject } from '../lib/index.ts';
import type { CollectionType } from './collection.ts';
import { authSystemFields, idField } from './defaults.ts';
import { checkFieldSettings } from './field-settings.ts';
import { FIELD_TYPES, type FieldDef, type OptionsContext } from './fields/index.ts';

export { MAX_NAME_LENGTH, NAME_RE } from './field-settings.ts';

export const MAX_FIELDS = 500;
const COMMON_KEYS = new Set(['id', 'name', 'type', 'system', 'hidden', 'presentable', 'required', 'help']);
const FLAG_KEYS = ['hidden', 'presentable', 'required', 'system'] as const;
/** Flags of system fields that records rely on, whatever a client sends. */
const LOCKED_FLAGS: Record<string, Partial<FieldDef>> = {
  id: { hidden: false, required: true, primaryKey: true },
  password: { hidden: true, required: true },
  tokenKey: { hidden: true, required: true },
  email: { hidden: false },
};
/** Auth request keys that an auth collection's field cannot be named (PocketBase's `reservedAuthKeys`). */
const RESERVED_AUTH_NAMES = new Set(['passwordConfirm', 'oldPassword']);

/** The collection whose fields are being set: its fields before the change (none when new) and its type. */
export interface FieldsTarget {
  previous: FieldDef[];
  type: CollectionType;
  isNew: boolean;
}

interface Draft {
  raw: Record<string, unknown>;
  type: string;
  name: string;
  id: string;
}

/**
 * Turns a client's `fields` list into the collection's fields as PocketBase does: fields are matched to
 * the existing ones by id (a field sent without one gets PocketBase's default id, `type` + crc32(name)),
 * the system fields of the collection's type are added or enforced, then the list is checked in
 * PocketBase's order, the first failing check answering for `fields`. Errors are keyed by the index in
 * the final list (where a left-out `id` field is put back first).
 */
export function normalizeFields(
  input: unknown,
  target: FieldsTarget,
  ctx: OptionsContext,
  errors: ErrorData,
): FieldDef[] {
  if (!Array.isArray(input)) {
    errors.fields = { code: 'validation_invalid_value', message: 'Must be a list of fields.' };
    return target.previous;
  }
  if (input.length > MAX_FIELDS) {
    errors.fields = {
      code: 'validation_length_too_long',
      message: `A collection may have at most ${MAX_FIELDS} fields.`,
    };
    return target.previous;
  }
  // Shape errors are keyed like the others: by the index in the final list, where a left-out id comes first.
  const offset = target.type !== 'view' && !input.some((f) => isPlainObject(f) && f.name === 'id') ? 1 : 0;
  const drafts = readDrafts(input, target.previous, offset, errors);
  if (!drafts) return target.previous;
  assignIds(drafts, target.previous);
  const fields = initSystemFields(
    drafts.map((d) => buildField(d, target.previous)),
    target,
  );
  const fieldErrors = checkFields(fields, target, ctx);
  if (fieldErrors) errors.fields = fieldErrors;
  return fields;
}

/** Checks each item's JSON shape (PocketBase refuses a malformed item before any validation). */
function readDrafts(
  input: unknown[],
  previous: FieldDef[],
  offset: number,
  errors: ErrorData,
): Draft[] | undefined {
  const shapeErrors: ErrorData = {};
  const drafts: Draft[] = [];
  input.forEach((raw, i) => {
    if (!isPlainObject(raw)) {
      shapeErrors[String(i + offset)] = { code: 'validation_invalid_value', message: 'Must be an object.' };
      return;
    }
    const e: ErrorData = {};
    const invalid = (message: string): FieldError => ({ code: 'validation_invalid_value', message });
    if (raw.id !== undefined && raw.id !== null && typeof raw.id !== 'string')
      e.id = invalid('Must be a string.');
    if (raw.name !== undefined && typeof raw.name !== 'string') e.name = invalid('Must be a string.');
    if (raw.help !== undefined && raw.help !== null && typeof raw.help !== 'string')
      e.help = invalid('Must be a string.');
    for (const flag of FLAG_KEYS)
      if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean') e[flag] = invalid('Must be a boolean.');
    const id = typeof raw.id === 'string' ? raw.id : '';
    // A known field may leave its type out; a new one must name one.
    const type =
      typeof raw.type === 'string' ? raw.type : (previous.find((f) => id && f.id === id)?.type ?? '');
    if (!FIELD_TYPES.has(type))
      e.type = { code: 'validation_invalid_field_type', message: 'Missing or unknown field type.' };
    if (Object.keys(e).length) shapeErrors[String(i + offset)] = e;
    else drafts.push({ raw, type, name: typeof raw.name === 'string' ? raw.name : '', id });
  });
  if (!Object.keys(shapeErrors).length) return drafts;
  errors.fields = shapeErrors;
  return undefined;
}

/**
 * Gives each field sent without an id PocketBase's default one (`type` + crc32(name), numbered when the
 * list already holds it). Where that id is unknown but an existing field of that name and type is not
 * otherwise sent, the field takes that field's id instead: the same field, kept with its data (PocketBase
 * would drop and recreate the column of a field whose stored id is not the default one).
 */
function assignIds(drafts: Draft[], previous: FieldDef[]): void {
  const used = new Set(drafts.filter((d) => d.id).map((d) => d.id));
  for (const d of drafts) {
    if (d.id) continue;
    const base = checksumId(d.type, d.name);
    let candidate = base;
    for (let n = 2; used.has(candidate) && n < 1000; n++) candidate = base + n;
    const sameName = previous.find((f) => f.name === d.name && f.type === d.type && !used.has(f.id));
    d.id = previous.some((f) => f.id === candidate) || !sameName ? candidate : sameName.id;
    used.add(d.id);
  }
}

/** The field as it will be stored: the client's keys, and for options it left out the old value or the default. */
function buildField(d: Draft, previous: FieldDef[]): FieldDef {
  const old = previous.find((f) => f.id === d.id);
  const { raw } = d;
  const field: FieldDef = {
    id: d.id,
    name: d.name,
    type: d.type,
    system: old?.system === true || raw.system === true,
    hidden: raw.hidden === true,
    presentable: raw.presentable === true,
    required: raw.required === true,
  };
  // PocketBase's autodate fields have no help (nor `required`).
  if (typeof raw.help === 'string' && raw.help !== '' && d.type !== 'autodate') field.help = raw.help;
  const defaults = FIELD_TYPES.get(d.type)?.defaults() ?? {};
  for (const key of Object.keys(defaults)) {
    if (FORBIDDEN_KEYS.has(key) || COMMON_KEYS.has(key)) continue;
    const kept = old?.type === d.type ? old[key] : undefined;
    field[key] = Object.hasOwn(raw, key) ? raw[key] : (kept ?? defaults[key]);
  }
  if (old?.system && Object.hasOwn(LOCKED_FLAGS, old.name)) Object.assign(field, LOCKED_FLAGS[old.name]);
  return field;
}

/**
 * PocketBase's `initDefaultFields`: the `id` field (and an auth collection's password, tokenKey, email,
 * emailVisibility and verified) must be there. One found by name and type is made a system field with
 * its fixed flags; a missing one is put back (`id` first, the others last), as it was or by default; one
 * of the wrong type is replaced in place (keeping its id), except `id`, which then is a duplicate name.
 */
function initSystemFields(fields: FieldDef[], target: FieldsTarget): FieldDef[] {
  if (target.type === 'view') return fields;
  const templates = [idField(), ...(target.type === 'auth' ? authSystemFields() : [])];
  const out = [...fields];
  for (const template of templates) {
    const i = out.findIndex((f) => f.name === template.name);
    const found = out[i];
    if (found && found.type === template.type) {
      out[i] = enforceSystem(found);
      continue;
    }
    const kept = target.previous.find(
      (f) => f.system && f.name === template.name && f.type === template.type,
    );
    const fallback = { ...(kept ?? template) };
    // Its id held by another field (a renamed system field): PocketBase's list lets that field take the
    // `id` slot (so the primary key is missing), and gives the others a numbered id (so the rename shows).
    if (out.some((f) => f.id === fallback.id)) {
      if (template.name === 'id') continue;
      const base = fallback.id;
      for (let n = 2; out.some((f) => f.id === fallback.id); n++) fallback.id = base + n;
    }
    if (template.name === 'id') out.unshift(fallback);
    else if (found) out[i] = { ...fallback, id: found.id };
    else out.push(fallback);
  }
  return out;
}

function enforceSystem(f: FieldDef): FieldDef {
  const out: FieldDef = { ...f, system: true, ...LOCKED_FLAGS[f.name] };
  if (f.name === 'id' && !out.pattern) out.pattern = idField().pattern;
  return out;
}

/** PocketBase's checks of a fields list, in its order; the first that fails is the answer. */
function checkFields(
  fields: FieldDef[],
  target: FieldsTarget,
  ctx: OptionsContext,
): ErrorData | FieldError | undefined {
  const duplicate = findDuplicate(fields);
  if (duplicate) return duplicate;
  if (fields.length === 0) return { code: 'validation_required', message: 'Cannot be blank.' };
  const pk = fields.find((f) => f.name === 'id');
  if (target.type !== 'view' && !(pk?.type === 'text' && pk.primaryKey === true))
    return { code: 'validation_missing_primary_key', message: 'Missing or invalid "id" PK field.' };
  const byId = new Map(fields.map((f) => [f.id, f]));
  if (!target.isNew && target.type !== 'view') {
    for (const old of target.previous) {
      if (old.system && byId.get(old.id)?.name !== old.name)
        return {
          code: 'validation_system_field_change',
          message: 'System fields cannot be deleted or renamed.',
        };
    }
    const typeChanges: ErrorData = {};
    const before = new Map(target.previous.map((f) => [f.id, f]));
    fields.forEach((f, i) => {
      const old = before.get(f.id);
      if (old && old.type !== f.type)
        typeChanges[String(i)] = {
          code: 'validation_field_type_change',
          message: 'Field type cannot be changed.',
        };
    });
    if (Object.keys(typeChanges).length) return typeChanges;
  }
  if (target.type === 'auth') {
    const reserved: ErrorData = {};
    fields.forEach((f, i) => {
      if (RESERVED_AUTH_NAMES.has(f.name))
        reserved[String(i)] = {
          name: {
            code: 'validation_reserved_field_name',
            message: 'The field name is reserved and cannot be used.',
          },
        };
    });
    if (Object.keys(reserved).length) return reserved;
  }
  const settings: ErrorData = {};
  const before = new Map(target.previous.map((f) => [f.id, f]));
  fields.forEach((f, i) => {
    const e = checkFieldSettings(f, before.get(f.id), ctx);
    if (Object.keys(e).length) settings[String(i)] = e;
  });
  return Object.keys(settings).length ? settings : undefined;
}

/** The first repeated id, else the first repeated name (case-insensitive: names are columns). */
function findDuplicate(fields: FieldDef[]): ErrorData | undefined {
  const ids = new Set<string>();
  const names = new Set<string>();
  for (const [i, f] of fields.entries()) {
    if (ids.has(f.id))
      return {
        [String(i)]: {
          id: {
            code: 'validation_duplicated_field_id',
            message: `Duplicated or invalid field id "${f.id}".`,
          },
        },
      };
    const lower = f.name.toLowerCase();
    if (names.has(lower))
      return {
        [String(i)]: {
          name: {
            code: 'validation_duplicated_field_name',
            message: `Duplicated or invalid field name ${f.name}.`,
            params: { fieldName: f.name },
          },
        },
      };
    ids.add(f.id);
    names.add(lower);
  }
  return undefined;
}
