import type { ColumnSpec, IndexSpec, SqlDialect, TranslatedError } from '../dialect.ts';
import {
  commonColumnDdl,
  doubleQuote,
  isNetworkFailure,
  numberPlaceholders,
  standardLiteral,
} from '../dialect.ts';

// Text is compared and ordered by code point ("C"), as on the other engines; an ORDER BY or index on it
// then needs no per-query collation (which would keep the planner from using the index).
const COLUMN_TYPES: Record<ColumnSpec['kind'], string> = {
  id: 'TEXT COLLATE "C" PRIMARY KEY NOT NULL',
  text: `TEXT COLLATE "C" DEFAULT '' NOT NULL`,
  // Double precision, so values come back as JS numbers (NUMERIC would come back as strings).
  number: 'DOUBLE PRECISION DEFAULT 0 NOT NULL',
  bool: 'BOOLEAN DEFAULT FALSE NOT NULL',
  json: 'JSONB DEFAULT NULL',
  jsonArray: "JSONB DEFAULT '[]'::jsonb NOT NULL",
  jsonObject: `JSONB DEFAULT '{"lon":0,"lat":0}'::jsonb NOT NULL`,
};

/** The advisory lock key that serializes schema changes. */
const SCHEMA_LOCK_KEY = '8100965752852986483';

const quote = doubleQuote;
const literal = standardLiteral;

const columnSql = (c: ColumnSpec) => `${quote(c.name)} ${COLUMN_TYPES[c.kind]}`;

/** PostgreSQL: DDL is transactional, so a failed table sync rolls back whole. */
export const postgresDialect: SqlDialect = {
  name: 'postgres',
  transactionalDdl: true,
  boundedText: false,
  tableOptions: '',
  quote,
  nativeSql: numberPlaceholders,
  columnSql,
  createTableSql: (table, columns) => [
    `CREATE TABLE ${quote(table)} (${columns.map(columnSql).join(', ')}, "_rowid" BIGSERIAL NOT NULL)`,
  ],
  renameTableSql: (from, to) => [`ALTER TABLE ${quote(from)} RENAME TO ${quote(to)}`],
  ...commonColumnDdl(quote, columnSql),
  // Text is one type here, whatever its length.
  retypeColumnSql: () => [],
  convertColumnSql(table, column, from, to) {
    const t = quote(table);
    const c = quote(column);
    if (from === 'text' && to === 'jsonArray') {
      return [
        `ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE JSONB USING (CASE WHEN ${c} = '' THEN '[]'::jsonb ELSE jsonb_build_array(${c}) END)`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT '[]'::jsonb`,
      ];
    }
    if (from === 'jsonArray' && to === 'text') {
      return [
        `ALTER TABLE ${t} ALTER COLUMN ${c} DROP DEFAULT`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} TYPE TEXT COLLATE "C" USING COALESCE(${c} ->> -1, '')`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ''`,
      ];
    }
    return [];
  },
  createIndexSql(index: IndexSpec) {
    // COLLATE NOCASE becomes an index on the folded column: the same case-insensitive uniqueness as SQLite's.
    const cols = index.columns
      .map(
        (c) =>
          `${c.nocase ? `(${postgresDialect.foldCaseSql(quote(c.name))})` : quote(c.name)}${c.desc ? ' DESC' : ''}`,
      )
      .join(', ');
    const where = index.where?.length
      ? ` WHERE ${index.where.map((w) => `${quote(w.column)} ${w.op} ${literal(w.value)}`).join(' AND ')}`
      : '';
    return [
      `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quote(index.name)} ON ${quote(index.table)} (${cols})${where}`,
    ];
  },
  dropIndexSql: (index) => [`DROP INDEX IF EXISTS ${quote(index.name)}`],
  // Under the "C" collation LOWER lowers ASCII only, like SQLite's NOCASE (the default locale lowers É too).
  castTextSql: (expr) => `CAST(${expr} AS TEXT) COLLATE "C"`,
  foldCaseSql: (expr) => `LOWER(${expr} COLLATE "C")`,
  randomSql: () => 'RANDOM()',
  rowidSql: () => quote('_rowid'),
  boundLimitSql: () => 'LIMIT ?',
  jsonArrayLengthSql: (column) => `jsonb_array_length(${quote(column)})`,
  jsonArrayContainsSql: (column) => `${quote(column)} @> jsonb_build_array(CAST(? AS TEXT))`,
  listTablesSql: () =>
    'SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema() UNION SELECT indexname AS name FROM pg_indexes WHERE schemaname = current_schema() UNION SELECT sequencename AS name FROM pg_sequences WHERE schemaname = current_schema()',
  // Transaction-scoped advisory lock on a constant key (the bytes of 'plinth:s'); per database.
  schemaLockSql: () => ({ lock: `SELECT true AS locked FROM pg_advisory_xact_lock(${SCHEMA_LOCK_KEY})` }),
  lockingSelectSuffix: (mode) => (mode === 'update' ? ' FOR UPDATE' : ' FOR SHARE'),
  decodeBool: (v) => v === true || v === 't' || v === 1,
  translateError(err: unknown): TranslatedError | undefined {
    if (isNetworkFailure(err)) return { kind: 'unavailable', columns: [] };
    const e = err as { code?: unknown; detail?: unknown; column?: unknown };
    if (!(err instanceof Error) || typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code))
      return undefined;
    // Connection exceptions, shutdown, too many connections, out of memory, a read-only standby.
    if (/^08/.test(e.code) || /^57P0[123]$/.test(e.code) || ['53300', '53200', '25006'].includes(e.code))
      return { kind: 'unavailable', columns: [] };
    // A restore swapping the database (docs/backups.md): connections are refused for a moment, and one
    // made during the rename finds its database gone; the next connection reaches the restored one.
    if (e.code === '3D000' || (e.code === '55000' && /not currently accepting connections/.test(err.message)))
      return { kind: 'unavailable', columns: [] };
    if (e.code === '53100') return { kind: 'full', columns: [] };
    if (e.code === '23505') {
      // detail: Key (a, b)=(x, y) already exists. / Key (lower(email COLLATE "C"))=(x) already exists.
      const cols = /Key \((.+?)\)=/.exec(String(e.detail ?? ''))?.[1] ?? '';
      return {
        kind: 'unique',
        columns: cols
          .split(',')
          .map((c) =>
            c
              .trim()
              .replace(/^lower\((.+?)(?: COLLATE "C")?\)$/i, '$1')
              .replaceAll('"', ''),
          )
          .filter(Boolean),
      };
    }
    if (e.code === '23502')
      return { kind: 'notNull', columns: typeof e.column === 'string' ? [e.column] : [] };
    if (e.code === '22001') return { kind: 'tooLong', columns: [] };
    if (e.code === '57014') return { kind: 'timeout', columns: [] };
    if (e.code === '40001' || e.code === '40P01') return { kind: 'retry', columns: [] };
    return { kind: 'other', columns: [] };
  },
};
