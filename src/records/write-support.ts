import { badRequest, type ErrorData, fieldError } from '../errors/index.ts';
import { nowString, randomString } from '../lib/index.ts';
import { type Collection, fieldType, indexColumns } from '../schema/index.ts';
import type { RecordsContext } from './context.ts';
import type { InputResult } from './input.ts';
import type { RecordValues } from './types.ts';

const TOKEN_KEY_LENGTH = 50;
const TOKEN_KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** A fresh auth-record token key; changing it retires every token issued for the record. */
export const newTokenKey = () => randomString(TOKEN_KEY_LENGTH, TOKEN_KEY_ALPHABET);

export function zeroValues(collection: Collection): RecordValues {
  const values: RecordValues = {};
  for (const f of collection.fields) values[f.name] = fieldType(f.type).zero(f);
  return values;
}

export function setAutodates(collection: Collection, values: RecordValues, isCreate: boolean): void {
  const now = nowString();
  for (const f of collection.fields) {
    if (f.type !== 'autodate') continue;
    if ((isCreate && f.onCreate) || (!isCreate && f.onUpdate)) values[f.name] = now;
  }
}

export function paramsFor(collection: Collection, columns: string[], values: RecordValues): unknown[] {
  const byName = new Map(collection.fields.map((f) => [f.name, f]));
  return columns.map((c) => {
    const f = byName.get(c)!;
    return fieldType(f.type).toDb(f, values[c]);
  });
}

/** Database failures a client caused (a duplicate value) become field errors; the rest propagate. */
export function translateWriteError(
  ctx: RecordsContext,
  collection: Collection,
  err: unknown,
  message: string,
): never {
  const t = ctx.db.dialect.translateError(err);
  if (t?.kind === 'unique') {
    const data: ErrorData = {};
    // Where the engine names the index instead (MySQL), the collection's definition knows its columns.
    const columns = t.columns.length
      ? t.columns
      : t.index
        ? indexColumns(collection.indexes, t.index)
        : undefined;
    for (const c of columns?.length ? columns : ['id'])
      data[c] = fieldError('validation_not_unique', 'Value must be unique.');
    throw badRequest(message, data);
  }
  // A value past a column's bound (MySQL's bounded text): the field checks keep them out, but a hook may
  // set one after them.
  if (t?.kind === 'tooLong') {
    const data: ErrorData = {};
    for (const c of t.columns.length ? t.columns : ['id'])
      data[c] = fieldError('validation_max_text_constraint', 'The value is too long.');
    throw badRequest(message, data);
  }
  throw err;
}

/**
 * Auth-collection checks that need no I/O: password confirmation, and the fields only managers may change
 * (`verified` always, `email` on update).
 */
export function checkAuthFields(
  collection: Collection,
  body: Record<string, unknown>,
  input: InputResult,
  original: RecordValues | undefined,
  manage: boolean,
): void {
  if (collection.type !== 'auth') return;
  const password = input.passwords.password;
  const confirm =
    typeof body.passwordConfirm === 'number' ? String(body.passwordConfirm) : body.passwordConfirm;
  if (password !== undefined && confirm !== password) {
    input.errors.passwordConfirm = fieldError('validation_values_mismatch', "Values don't match.");
  }
  const before = original ?? { verified: false, email: '' };
  if (!manage && input.values.verified !== before.verified) {
    input.errors.verified = fieldError(
      'validation_manage_only',
      'Only superusers and managers can change the verified state.',
    );
  }
  if (!manage && original && input.values.email !== original.email) {
    input.errors.email = fieldError(
      'validation_manage_only',
      'Use request-email-change to change the email address.',
    );
  }
}

/** A user changing their own password must prove the old one (managers need not). */
export async function checkOldPassword(
  ctx: RecordsContext,
  collection: Collection,
  body: Record<string, unknown>,
  input: InputResult,
  original: RecordValues,
  manage: boolean,
): Promise<void> {
  if (collection.type !== 'auth' || input.passwords.password === undefined || manage) return;
  const old = typeof body.oldPassword === 'string' ? body.oldPassword : '';
  if (old) await ctx.passwordGuard?.attempt(collection, original);
  if (!old || !(await ctx.passwords.verify(String(original.password ?? ''), old))) {
    input.errors.oldPassword = fieldError(
      'validation_invalid_old_password',
      'Missing or invalid old password.',
    );
  } else await ctx.passwordGuard?.succeeded(collection, original);
}

/**
 * Hashes the passwords being set (argon2id: slow on purpose, so done before the transaction that holds
 * the connection). Returns the values to store: hashes, and a new tokenKey when `password` changes.
 */
export async function hashPasswords(
  ctx: RecordsContext,
  collection: Collection,
  passwords: Record<string, string>,
): Promise<RecordValues> {
  const out: RecordValues = {};
  for (const [name, plain] of Object.entries(passwords)) out[name] = await ctx.passwords.hash(plain);
  if (collection.type === 'auth' && passwords.password !== undefined) out.tokenKey = newTokenKey();
  return out;
}
