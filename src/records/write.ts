import { badRequest, type ErrorData, fieldError, hasErrors, notFound } from '../errors/index.ts';
import { isPlainObject, nowString, randomString } from '../lib/index.ts';
import { type Collection, fieldType } from '../schema/index.ts';
import { canManage, requireRule } from './access.ts';
import type { RecordsContext } from './context.ts';
import { applyInput } from './input.ts';
import { findRecord } from './read.ts';
import { resolveRecordId } from './record-id.ts';
import { checkRelations } from './relations.ts';
import type { AuthContext, RecordValues } from './types.ts';

const TOKEN_KEY_LENGTH = 50;
const TOKEN_KEY_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export const newTokenKey = () => randomString(TOKEN_KEY_LENGTH, TOKEN_KEY_ALPHABET);

function zeroValues(collection: Collection): RecordValues {
  const values: RecordValues = {};
  for (const f of collection.fields) values[f.name] = fieldType(f.type).zero(f);
  return values;
}

function setAutodates(collection: Collection, values: RecordValues, isCreate: boolean) {
  const now = nowString();
  for (const f of collection.fields) {
    if (f.type !== 'autodate') continue;
    if ((isCreate && f.onCreate) || (!isCreate && f.onUpdate)) values[f.name] = now;
  }
}

function paramsFor(collection: Collection, columns: string[], values: RecordValues): unknown[] {
  const byName = new Map(collection.fields.map((f) => [f.name, f]));
  return columns.map((c) => {
    const f = byName.get(c)!;
    return fieldType(f.type).toDb(f, values[c]);
  });
}

/** Database failures a client caused (a duplicate value) become field errors; the rest propagate. */
function translateWriteError(ctx: RecordsContext, err: unknown, message: string): never {
  const t = ctx.db.dialect.translateError(err);
  if (t?.kind === 'unique') {
    const data: ErrorData = {};
    for (const c of t.columns.length ? t.columns : ['id'])
      data[c] = fieldError('validation_not_unique', 'Value must be unique.');
    throw badRequest(message, data);
  }
  throw err;
}

/** Auth-collection rules shared by create and update: password confirmation and manager-only fields. */
async function checkAuthInput(
  ctx: RecordsContext,
  collection: Collection,
  body: Record<string, unknown>,
  input: ReturnType<typeof applyInput>,
  original: RecordValues | undefined,
  auth: AuthContext,
) {
  if (collection.type !== 'auth') return;
  const manage = canManage(collection, auth);
  const password = input.passwords.password;
  if (password !== undefined && body.passwordConfirm !== password) {
    input.errors.passwordConfirm = fieldError('validation_values_mismatch', "Values don't match.");
  }
  if (original && password !== undefined && !manage) {
    const old = typeof body.oldPassword === 'string' ? body.oldPassword : '';
    if (!old || !(await ctx.passwords.verify(String(original.password ?? ''), old))) {
      input.errors.oldPassword = fieldError(
        'validation_invalid_old_password',
        'Missing or invalid old password.',
      );
    }
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

async function hashPasswords(
  ctx: RecordsContext,
  collection: Collection,
  values: RecordValues,
  passwords: Record<string, string>,
) {
  for (const [name, plain] of Object.entries(passwords)) values[name] = await ctx.passwords.hash(plain);
  if (collection.type === 'auth' && passwords.password !== undefined) values.tokenKey = newTokenKey();
}

/** `POST /records`. Validates everything before writing; one transaction with the create hooks. */
export async function createRecord(
  ctx: RecordsContext,
  collection: Collection,
  body: unknown,
  auth: AuthContext,
): Promise<Record<string, unknown>> {
  requireRule(collection, 'createRule', auth);
  if (!isPlainObject(body)) throw badRequest('Invalid request body.');
  const input = applyInput(collection, body, zeroValues(collection));
  input.values.id = resolveRecordId(collection, body.id, input.errors);
  if (collection.type === 'auth') input.values.tokenKey = newTokenKey();
  await checkAuthInput(ctx, collection, body, input, undefined, auth);
  setAutodates(collection, input.values, true);
  const p = ctx.prepared(collection);

  const values = await ctx.db.transaction(async (trx) => {
    await checkRelations(trx, ctx.collections, collection, input.values, input.touched, input.errors);
    if (hasErrors(input.errors)) throw badRequest('Failed to create record.', input.errors);
    await hashPasswords(ctx, collection, input.values, input.passwords);
    const event = { collection, record: input.values, auth };
    await ctx.hooks.create.trigger(event, async (e) => {
      try {
        await ctx.db.run(trx, p.insert.sql, paramsFor(collection, p.insert.columns, e.record));
      } catch (err) {
        translateWriteError(ctx, err, 'Failed to create record.');
      }
    });
    return event.record;
  });
  await ctx.hooks.afterCreate.trigger({ collection, record: values, auth });
  return p.shape.toJson(values, auth);
}

/** `PATCH /records/:id`. */
export async function updateRecord(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  body: unknown,
  auth: AuthContext,
): Promise<Record<string, unknown>> {
  requireRule(collection, 'updateRule', auth);
  if (!isPlainObject(body)) throw badRequest('Invalid request body.');
  const p = ctx.prepared(collection);
  const values = await ctx.db.transaction(async (trx) => {
    const original = await findRecord(ctx, trx, collection, id);
    if (!original) throw notFound();
    const input = applyInput(collection, body, original);
    await checkAuthInput(ctx, collection, body, input, original, auth);
    await checkRelations(trx, ctx.collections, collection, input.values, input.touched, input.errors);
    if (hasErrors(input.errors)) throw badRequest('Failed to update record.', input.errors);
    await hashPasswords(ctx, collection, input.values, input.passwords);
    setAutodates(collection, input.values, false);
    const event = { collection, record: input.values, original, auth };
    await ctx.hooks.update.trigger(event, async (e) => {
      try {
        await ctx.db.run(trx, p.update.sql, [...paramsFor(collection, p.update.columns, e.record), id]);
      } catch (err) {
        translateWriteError(ctx, err, 'Failed to update record.');
      }
    });
    return event.record;
  });
  await ctx.hooks.afterUpdate.trigger({ collection, record: values, auth });
  return p.shape.toJson(values, auth);
}
