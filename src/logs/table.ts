import type { Database, Migration } from '../db/index.ts';
import { blankCollection, type Collection, type FieldDef } from '../schema/index.ts';

/** Request logs live in `_logs`: a separate SQLite file beside `data.db`, or a table of the server database. */
export const LOGS_TABLE = '_logs';

/** What the API reads on SQLite: `_logs` with its id and message made (logs_0003). */
export const LOGS_VIEW = '_logs_api';

/**
 * SQLite's `seq` (logs_0003): an entry made at `time` ms is keyed from `time × SEQ_PER_MS` up, so that a
 * time bounds the keys (retention deletes by key range) and 1,024 entries a millisecond fit in order.
 */
export const SEQ_PER_MS = 1024;

/** A SQLite log id (the key in 15 hexadecimal digits) as its key, or undefined when it is not one. */
export function seqOfId(id: string): number | undefined {
  if (!/^[0-9a-f]{15}$/.test(id)) return undefined;
  const seq = Number.parseInt(id, 16);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

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
  {
    // SQLite: each row's insert is the largest part of what request logs cost (docs/benchmarks.md,
    // "Request logs"). A text primary key is a second B-tree beside the table's, and the message of a
    // request entry repeats its data's method and URL: the table is keyed by an integer (`seq`, the
    // entry's time in ms × SEQ_PER_MS plus a counter) and stores a message only when it is more than that.
    // The API reads `_logs_api`, a view that makes the 15-character id (the key in hexadecimal) and the
    // message when read. Rows written before are kept, numbered in their order (their ids change).
    name: 'logs_0003_sqlite_integer_key',
    async up(trx, db: Database) {
      if (db.dialect.name !== 'sqlite') return;
      for (const text of [
        `CREATE TABLE "_logs_new" ("seq" INTEGER PRIMARY KEY, "created" TEXT DEFAULT '' NOT NULL, "level" NUMERIC DEFAULT 0 NOT NULL, "msg" TEXT DEFAULT '' NOT NULL, "data" JSON DEFAULT NULL)`,
        `INSERT INTO "_logs_new" ("seq", "created", "level", "msg", "data") SELECT ROW_NUMBER() OVER (ORDER BY "id"), "created", "level", "message", "data" FROM "_logs"`,
        'DROP TABLE "_logs"',
        'ALTER TABLE "_logs_new" RENAME TO "_logs"',
        `CREATE VIEW "${LOGS_VIEW}" AS SELECT printf('%015x', "seq") AS "id", "created", "level", CASE WHEN "msg" <> '' THEN "msg" ELSE COALESCE(json_extract("data", '$.method') || ' ' || json_extract("data", '$.url'), '') END AS "message", "data", "seq" FROM "_logs"`,
      ])
        await db.run(trx, text, []);
    },
  },
];
