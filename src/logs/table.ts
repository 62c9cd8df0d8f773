import type { Database, Migration } from '../db/index.ts';
import { blankCollection, type Collection, type FieldDef } from '../schema/index.ts';

/** Request logs live in `_logs`: a separate SQLite file beside `data.db`, or a table of the server database. */
export const LOGS_TABLE = '_logs';

const column = (name: string, type: string): FieldDef => ({
  id: `_logs_${name}`,
  name,
  type,
  system: true,
  hidden: false,
  presentable: false,
  required: false,
});

/**
 * `_logs` described as a collection, so that `filter` and `sort` compile through the query language as they
 * do for records (`data.status >= 400 && created > "2026-01-01"`). It is never stored as one: no records
 * API, no rules; only superusers read it.
 */
export const LOGS_COLLECTION: Collection = blankCollection('base', {
  id: LOGS_TABLE,
  name: LOGS_TABLE,
  system: true,
  fields: [
    column('id', 'text'),
    column('created', 'date'),
    column('level', 'number'),
    column('message', 'text'),
    column('data', 'json'),
  ],
});

const CREATED_INDEX = {
  name: 'idx__logs_created',
  table: LOGS_TABLE,
  unique: false,
  columns: [{ name: 'created', kind: 'text' as const }],
};

/**
 * The table, keyed by ids made in time order. Every index is paid for by every request's row, so there is
 * no other: retention deletes by id range, pages are newest first by id, a sort on `created` is a sort on
 * `id` (reader.ts). The first version had a `created` index: on SQLite it cost about a quarter of each
 * row's insert (docs/benchmarks.md, "Request logs"), and 0002 drops it.
 */
export const LOGS_MIGRATIONS: readonly Migration[] = [
  {
    name: 'logs_0001_table',
    async up(trx, db: Database) {
      const d = db.dialect;
      const statements = [
        ...d.createTableSql(LOGS_TABLE, [
          { name: 'id', kind: 'id' },
          { name: 'created', kind: 'text' },
          { name: 'level', kind: 'number' },
          { name: 'message', kind: 'text' },
          { name: 'data', kind: 'json' },
        ]),
        ...d.createIndexSql(CREATED_INDEX),
      ];
      for (const text of statements) await db.run(trx, text, []);
    },
  },
  {
    name: 'logs_0002_no_created_index',
    async up(trx, db: Database) {
      for (const text of db.dialect.dropIndexSql(CREATED_INDEX)) await db.run(trx, text, []);
    },
  },
];
