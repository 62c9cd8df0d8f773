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

/**
 * The table and the one index that keeps retention and time-ordered pages cheap (every index is paid for
 * by every request's entry: `level` has none, a filter on it reads the newest entries first anyway).
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
        ...d.createIndexSql({
          name: 'idx__logs_created',
          table: LOGS_TABLE,
          unique: false,
          columns: [{ name: 'created', kind: 'text' }],
        }),
      ];
      for (const text of statements) await db.run(trx, text, []);
    },
  },
];
