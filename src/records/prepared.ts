import type { Database } from '../db/index.ts';
import type { SortKey } from '../query/index.ts';
import type { Collection } from '../schema/index.ts';
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
  count: string;
  /** `LIMIT ? OFFSET ?` page query for a sort; cached per distinct sort. */
  list(sort: SortKey[]): string;
}

const LIST_CACHE_LIMIT = 64;

export function prepareCollection(db: Database, collection: Collection): PreparedCollection {
  const q = db.dialect.quote;
  const table = q(collection.name);
  const columns = collection.fields.map((f) => f.name);
  const nonId = columns.filter((c) => c !== 'id');
  const listCache = new Map<string, string>();

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
    count: `SELECT COUNT(*) AS ${q('total')} FROM ${table}`,
    list(sort) {
      const key = JSON.stringify(sort);
      let text = listCache.get(key);
      if (!text) {
        const order = sort.map((s) =>
          s.kind === 'random'
            ? db.dialect.randomSql()
            : `${s.kind === 'rowid' ? db.dialect.rowidSql() : q(s.name)} ${s.desc ? 'DESC' : 'ASC'}`,
        );
        text = `SELECT * FROM ${table}${order.length ? ` ORDER BY ${order.join(', ')}` : ''} LIMIT ? OFFSET ?`;
        if (listCache.size >= LIST_CACHE_LIMIT) listCache.clear();
        listCache.set(key, text);
      }
      return text;
    },
  };
}
