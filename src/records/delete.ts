import type { AnyTrx } from '../db/index.ts';
import { badRequest, notFound } from '../errors/index.ts';
import type { Collection } from '../schema/index.ts';
import { requireWritable } from './access.ts';
import type { RecordsContext } from './context.ts';
import { findRecord, ruleAllows } from './read.ts';
import { findReferencing, referencesTo } from './relations.ts';
import { ruleScope } from './rules.ts';
import type { AuthContext, RecordEvent } from './types.ts';

/** Cascades deeper than this are refused rather than risking a runaway delete. */
const MAX_CASCADE_DEPTH = 1000;

/** `DELETE /records/:id`: removes the record and fixes up or cascades to the records that point at it. */
export async function deleteRecord(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  auth: AuthContext,
): Promise<void> {
  requireWritable(collection);
  const scope = ruleScope(ctx, collection, 'deleteRule', auth);
  const deleted: RecordEvent[] = [];
  await ctx.db.transaction(async (trx) => {
    const values = await findRecord(ctx, trx, collection, id, true);
    // A record the delete rule does not reach is a 404, like a missing one.
    if (!values || !(await ruleAllows(ctx, trx, collection, id, scope))) throw notFound();
    await deleteWithReferences(ctx, trx, collection, id, auth, deleted, 0);
  });
  for (const event of deleted) await ctx.hooks.afterDelete.trigger(event);
}

/**
 * `DELETE /api/collections/:c/truncate`: deletes every record one by one in one transaction, so that
 * relations are fixed up and cascades and hooks run as for single deletes. Superusers only (the route checks).
 */
export async function truncateRecords(
  ctx: RecordsContext,
  collection: Collection,
  auth: AuthContext,
): Promise<void> {
  if (collection.type === 'view')
    throw badRequest("View collections cannot be truncated since they don't store their own records.");
  const deleted: RecordEvent[] = [];
  const q = ctx.db.dialect.quote;
  await ctx.db.transaction(async (trx) => {
    const rows = await ctx.db.run<{ id: string }>(trx, `SELECT ${q('id')} FROM ${q(collection.name)}`, []);
    for (const row of rows)
      await deleteWithReferences(ctx, trx, collection, String(row.id), auth, deleted, 0);
  });
  for (const event of deleted) await ctx.hooks.afterDelete.trigger(event);
}

async function deleteWithReferences(
  ctx: RecordsContext,
  trx: AnyTrx,
  collection: Collection,
  id: string,
  auth: AuthContext,
  deleted: RecordEvent[],
  depth: number,
): Promise<void> {
  if (depth > MAX_CASCADE_DEPTH) throw badRequest('The delete cascades too deep.');
  const values = await findRecord(ctx, trx, collection, id, true);
  if (!values) return;
  const event: RecordEvent = { collection, record: values, auth };
  await ctx.hooks.delete.trigger(event, async () => {
    await ctx.db.run(trx, ctx.prepared(collection).deleteById, [id]);
  });
  deleted.push(event);
  for (const ref of referencesTo(ctx.collections, collection)) {
    const rows = await findReferencing(ctx.db, trx, ref, id);
    const p = ctx.prepared(ref.collection);
    for (const row of rows) {
      const other = p.shape.fromRow(row);
      const current = other[ref.field];
      const next = ref.multi ? (current as string[]).filter((v) => v !== id) : '';
      const empty = ref.multi ? (next as string[]).length === 0 : true;
      if (empty && ref.cascade) {
        await deleteWithReferences(ctx, trx, ref.collection, String(other.id), auth, deleted, depth + 1);
      } else if (empty && ref.required) {
        throw badRequest(
          `The record cannot be deleted because it is required by ${ref.collection.name}.${ref.field}.`,
        );
      } else {
        const q = ctx.db.dialect.quote;
        await ctx.db.run(
          trx,
          `UPDATE ${q(ref.collection.name)} SET ${q(ref.field)} = ? WHERE ${q('id')} = ?`,
          [ref.multi ? JSON.stringify(next) : '', other.id],
        );
      }
    }
  }
}
