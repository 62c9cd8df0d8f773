import { sql } from 'kysely';
import type { Database, Executor } from '../db/index.ts';
import { badRequest, type ErrorData } from '../errors/index.ts';
import { type Collection, type CollectionStore, fieldType } from '../schema/index.ts';
import type { RecordValues } from './types.ts';

/**
 * Adds an error for each touched relation field whose ids do not all exist in the target collection. Inside
 * a transaction, `lockSuffix` (the dialect's share lock) keeps the targets from being deleted before it ends,
 * so that a concurrent delete either sees the new reference or makes this check fail.
 */
export async function checkRelations(
  trx: Executor,
  collections: CollectionStore,
  collection: Collection,
  values: RecordValues,
  touched: Set<string>,
  errors: ErrorData,
  lockSuffix = '',
): Promise<void> {
  for (const field of collection.fields) {
    if (field.type !== 'relation' || !touched.has(field.name) || errors[field.name]) continue;
    const ids = ([] as string[]).concat((values[field.name] as string | string[]) || []).filter(Boolean);
    if (ids.length === 0) continue;
    const target = collections.find(String(field.collectionId));
    const found = target
      ? await trx
          .selectFrom(target.name)
          .select('id')
          .where('id', 'in', ids)
          .$if(lockSuffix !== '', (qb) => qb.modifyEnd(sql.raw(lockSuffix)))
          .execute()
      : [];
    if (found.length !== ids.length) {
      errors[field.name] = {
        code: 'validation_missing_rel_records',
        message: 'Failed to find all relation records with the provided ids.',
      };
    }
  }
}

export interface Reference {
  collection: Collection;
  field: string;
  multi: boolean;
  cascade: boolean;
  required: boolean;
}

/** Every relation field, in any collection, that points at `target`. */
export function referencesTo(collections: CollectionStore, target: Collection): Reference[] {
  const out: Reference[] = [];
  for (const c of collections.list()) {
    // A view's relations are read-only copies of its source's: the source table holds the reference.
    if (c.type === 'view') continue;
    for (const f of c.fields) {
      if (f.type !== 'relation' || f.collectionId !== target.id) continue;
      out.push({
        collection: c,
        field: f.name,
        multi: fieldType('relation').isMulti(f),
        cascade: f.cascadeDelete === true,
        required: f.required,
      });
    }
  }
  return out;
}

/** Rows of `ref.collection` whose relation field holds `id`, locked for the fix-up that rewrites them. */
export async function findReferencing(
  db: Database,
  trx: Executor,
  ref: Reference,
  id: string,
): Promise<Record<string, unknown>[]> {
  const q = db.dialect.quote;
  const where = ref.multi ? db.dialect.jsonArrayContainsSql(ref.field) : `${q(ref.field)} = ?`;
  const lock = db.dialect.lockingSelectSuffix('update');
  return db.run(trx, `SELECT * FROM ${q(ref.collection.name)} WHERE ${where}${lock}`, [id]);
}

export function referenceBlocked(ref: Reference): never {
  throw badRequest(
    `The record cannot be deleted because it is part of a required reference in ${ref.collection.name}.${ref.field}.`,
  );
}
