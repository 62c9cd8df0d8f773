import type { Database } from '../db/index.ts';
import { raw } from '../query/index.ts';
import type { Collection } from '../schema/index.ts';
import { type CompiledList, listStatements } from './read.ts';
import { createShape, type RecordShape } from './serialize.ts';

/** SQL for one collection, compiled once per collection version (Fastify's "prepare at start-up"). */
export interface PreparedCollection {
  shape: RecordShape;
  selectById: string;
  /** `selectById` locking the row until the transaction ends, for read-modify-write inside one. */
  selectByIdForUpdate: string;
  insert: { sql: string; columns: string[] };
  update: { sql: string; columns: string[] };
  deleteById: string;
  /** The quoted table name. */
  table: string;
  /** The list without filter or sort, its LIMIT and OFFSET still to add (read.ts `pageClause`). */
  list: CompiledList;
  /**
   * Lists compiled for a filter and sort of the collection's own fields, by caller kind and text (read.ts);
   * dropped with the rest on a schema change.
   */
  lists: Map<string, CompiledList>;
}

export function prepareCollection(db: Database, collection: Collection): PreparedCollection {
  const q = db.dialect.quote;
  const table = q(collection.name);
  const columns = collection.fields.map((f) => f.name);
  const nonId = columns.filter((c) => c !== 'id');

  return {
    shape: createShape(collection),
    selectById: `SELECT * FROM ${table} WHERE ${q('id')} = ? LIMIT 1`,
    selectByIdForUpdate: `SELECT * FROM ${table} WHERE ${q('id')} = ? LIMIT 1${db.dialect.lockingSelectSuffix('update')}`,
    insert: {
      sql: `INSERT INTO ${table} (${columns.map(q).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      columns,
    },
    update: {
      sql: `UPDATE ${table} SET ${nonId.map((c) => `${q(c)} = ?`).join(', ')} WHERE ${q('id')} = ?`,
      columns: nonId,
    },
    deleteById: `DELETE FROM ${table} WHERE ${q('id')} = ?`,
    table,
    list: listStatements(db, raw(`${table}.*`), raw(table), raw(''), raw('')),
    lists: new Map(),
  };
}
