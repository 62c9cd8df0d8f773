import type { Executor } from '../db/index.ts';
import { badRequest, fieldError, hasErrors, notFound } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';
import type { Collection } from '../schema/index.ts';
import { canManage, requireRule, requireWritable } from './access.ts';
import { checkAuthIdUnique } from './auth-id.ts';
import type { RecordsContext } from './context.ts';
import { storeUploads, withUploadsUndone } from './file-store.ts';
import type { Uploads } from './files.ts';
import { applyInput } from './input.ts';
import { findRecord, managesRecord, ruleAllows } from './read.ts';
import { resolveRecordId } from './record-id.ts';
import { checkRelations } from './relations.ts';
import { ruleScope } from './rules.ts';
import type { AuthContext, RecordValues } from './types.ts';
import {
  checkAuthFields,
  checkOldPassword,
  hashPasswords,
  newTokenKey,
  paramsFor,
  setAutodates,
  translateWriteError,
  zeroValues,
} from './write-support.ts';

export { newTokenKey };

const shareLock = (ctx: RecordsContext) => ctx.db.dialect.lockingSelectSuffix('share');
const inputOptions = (auth: AuthContext, uploads: Uploads | undefined, create = false) => ({
  writeHidden: auth.isSuperuser,
  create,
  uploads,
});

/**
 * Called once the caller is known to be allowed and the body valid, just before the write: where the route
 * checks what it reads after the write (`expand`, `fields`), so that a bad one is a 400 with nothing
 * written, yet never hides the 403/404 an unauthorized caller gets.
 */
export type BeforeWrite = () => void;

/** What a write may come with besides its body. */
export interface WriteOptions {
  beforeWrite?: BeforeWrite;
  /** Files sent with the write (multipart), by stored name; the body's file fields name the ones to keep. */
  uploads?: Uploads;
}

/**
 * `POST /records`. Everything is validated before the transaction (all field errors at once) and slow work
 * (hashing) happens outside it; inside, relations are re-checked and the insert runs with the create hooks.
 */
export async function createRecord(
  ctx: RecordsContext,
  collection: Collection,
  body: unknown,
  auth: AuthContext,
  { beforeWrite, uploads }: WriteOptions = {},
): Promise<Record<string, unknown>> {
  requireWritable(collection);
  requireRule(collection, 'createRule', auth);
  if (!isPlainObject(body)) throw badRequest('Invalid request body.');
  const base = zeroValues(collection);
  if (collection.type === 'auth') base.tokenKey = newTokenKey();
  const input = applyInput(collection, body, base, inputOptions(auth, uploads, true));
  const scope = ruleScope(ctx, collection, 'createRule', auth, input.ruleBody);
  input.values.id = resolveRecordId(collection, body.id, input.errors);
  // A record that does not exist yet cannot meet an expression manageRule: only `""` and superusers manage here.
  checkAuthFields(collection, body, input, undefined, canManage(collection, auth));
  await checkRelations(ctx.db.kysely, ctx.collections, collection, input.values, input.touched, input.errors);
  if (hasErrors(input.errors)) throw badRequest('Failed to create record.', input.errors);
  Object.assign(input.values, await hashPasswords(ctx, collection, input.passwords));
  setAutodates(collection, input.values, true);
  const p = ctx.prepared(collection);
  const insert = async (executor: Executor, record: RecordValues) => {
    try {
      await ctx.db.run(executor, p.insert.sql, paramsFor(collection, p.insert.columns, record));
    } catch (err) {
      translateWriteError(ctx, collection, err, 'Failed to create record.');
    }
  };

  const setsRelations = collection.fields.some((f) => f.type === 'relation' && input.touched.has(f.name));
  const lone = !setsRelations && ctx.hooks.create.size === 0 && scope.kind === 'all';
  const undo = await storeUploads(ctx, collection, String(input.values.id), input.values, uploads);
  const values = await withUploadsUndone(ctx, undo, async () => {
    if (lone && collection.type !== 'auth') {
      // A lone INSERT is atomic by itself: no transaction, and on a server engine two round trips fewer.
      beforeWrite?.();
      await insert(ctx.db.kysely, input.values);
      return input.values;
    }
    return ctx.db.transaction(async (trx) => {
      const errors = {};
      await checkRelations(
        trx,
        ctx.collections,
        collection,
        input.values,
        input.touched,
        errors,
        shareLock(ctx),
      );
      if (collection.type === 'auth') await checkAuthIdUnique(ctx, trx, collection, input.values.id, errors);
      if (hasErrors(errors)) throw badRequest('Failed to create record.', errors);
      const event = { collection, record: input.values, auth };
      await ctx.hooks.create.trigger(event, (e) => insert(trx, e.record));
      // The create rule reads the record as stored (defaults, relations); denied, nothing is kept.
      if (!(await ruleAllows(ctx, trx, collection, String(event.record.id), scope)))
        throw badRequest('Failed to create record.');
      beforeWrite?.();
      return event.record;
    });
  });
  await ctx.hooks.afterCreate.trigger({ collection, record: values, auth });
  return p.shape.toJson(values, auth, canManage(collection, auth));
}

/**
 * `PATCH /records/:id`. A first pass outside the transaction validates and does the slow work (old
 * password check, hashing); the transaction re-reads the record and re-applies the body to it, so
 * modifiers like `n+` stay atomic under concurrent updates.
 */
export async function updateRecord(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  body: unknown,
  auth: AuthContext,
  { beforeWrite, uploads }: WriteOptions = {},
): Promise<Record<string, unknown>> {
  requireWritable(collection);
  requireRule(collection, 'updateRule', auth);
  if (!isPlainObject(body)) throw badRequest('Invalid request body.');
  const current = await findRecord(ctx, ctx.db.kysely, collection, id);
  if (!current) throw notFound();
  // Rules read the body as it will be stored (modifiers resolved against this record).
  const first = applyInput(collection, body, current, inputOptions(auth, uploads));
  // A record the update rule does not reach is a 404 before any validation, like a missing one.
  const scope = ruleScope(ctx, collection, 'updateRule', auth, first.ruleBody, current);
  if (!(await ruleAllows(ctx, ctx.db.kysely, collection, id, scope, auth))) throw notFound();
  const manage = await managesRecord(ctx, collection, id, auth, first.ruleBody);
  if (Object.hasOwn(body, 'id') && idText(body.id) !== id)
    first.errors = {
      id: fieldError('validation_pk_change', 'The record primary key cannot be changed.'),
      ...first.errors,
    };
  checkAuthFields(collection, body, first, current, manage);
  await checkOldPassword(ctx, collection, body, first, current, manage);
  await checkRelations(ctx.db.kysely, ctx.collections, collection, first.values, first.touched, first.errors);
  if (hasErrors(first.errors)) throw badRequest('Failed to update record.', first.errors);
  beforeWrite?.();
  const hashed = await hashPasswords(ctx, collection, first.passwords);
  const p = ctx.prepared(collection);
  const undo = await storeUploads(ctx, collection, id, first.values, uploads);

  const { values, original } = await withUploadsUndone(ctx, undo, () =>
    ctx.db.transaction(async (trx) => {
      const original = await findRecord(ctx, trx, collection, id, true);
      if (!original) throw notFound();
      const input = applyInput(collection, body, original, inputOptions(auth, uploads));
      const locked = ruleScope(ctx, collection, 'updateRule', auth, input.ruleBody, original);
      if (!(await ruleAllows(ctx, trx, collection, id, locked))) throw notFound();
      checkAuthFields(collection, body, input, original, manage);
      // The old password was checked against this hash; a change in between voids that check.
      if (first.passwords.password !== undefined && original.password !== current.password) {
        input.errors.oldPassword = {
          code: 'validation_invalid_old_password',
          message: 'Missing or invalid old password.',
        };
      }
      await checkRelations(
        trx,
        ctx.collections,
        collection,
        input.values,
        input.touched,
        input.errors,
        shareLock(ctx),
      );
      if (hasErrors(input.errors)) throw badRequest('Failed to update record.', input.errors);
      Object.assign(input.values, hashed);
      setAutodates(collection, input.values, false);
      const event = { collection, record: input.values, original, auth };
      await ctx.hooks.update.trigger(event, async (e) => {
        try {
          await ctx.db.run(trx, p.update.sql, [...paramsFor(collection, p.update.columns, e.record), id]);
        } catch (err) {
          translateWriteError(ctx, collection, err, 'Failed to update record.');
        }
      });
      return { values: event.record, original };
    }),
  );
  await ctx.hooks.afterUpdate.trigger({ collection, record: values, original, auth });
  return p.shape.toJson(values, auth, manage);
}

/** A body's `id` as PocketBase reads it (its text cast): numbers and bools as text, anything else as "". */
function idText(value: unknown): string {
  if (typeof value === 'string') return value;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}
