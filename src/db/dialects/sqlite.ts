import type { ColumnSpec, IndexSpec, SqlDialect, TranslatedError } from '../dialect.ts';
import { commonColumnDdl, doubleQuote, standardLiteral } from '../dialect.ts';

const COLUMN_TYPES: Record<ColumnSpec['kind'], string> = {
  id: 'TEXT PRIMARY KEY NOT NULL',
  text: "TEXT DEFAULT '' NOT NULL",
  number: 'NUMERIC DEFAULT 0 NOT NULL',
  bool: 'BOOLEAN DEFAULT FALSE NOT NULL',
  json: 'JSON DEFAULT NULL',
  jsonArray: "JSON DEFAULT '[]' NOT NULL",
  jsonObject: `JSON DEFAULT '{"lon":0,"lat":0}' NOT NULL`,
};

const quote = doubleQuote;
const literal = standardLiteral;

const columnSql = (c: ColumnSpec) => `${quote(c.name)} ${COLUMN_TYPES[c.kind]}`;

/** SQLite: DDL is transactional, so a failed table sync rolls back whole. */
export const sqliteDialect: SqlDialect = {
  name: 'sqlite',
  transactionalDdl: true,
  boundedText: false,
  tableOptions: '',
  quote,
  nativeSql: (sql) => sql,
  columnSql,
  createTableSql: (table, columns) => [`CREATE TABLE ${quote(table)} (${columns.map(columnSql).join(', ')})`],
  renameTableSql: (from, to) => [`ALTER TABLE ${quote(from)} RENAME TO ${quote(to)}`],
  ...commonColumnDdl(quote, columnSql),
  // Text is one type here, whatever its length.
  retypeColumnSql: () => [],
  convertColumnSql(table, column, from, to) {
    const t = quote(table);
    const c = quote(column);
    // Column types are loose in SQLite: only the values change, the declared type may stay.
    if (from === 'text' && to === 'jsonArray') {
      return [`UPDATE ${t} SET ${c} = CASE WHEN ${c} = '' THEN '[]' ELSE json_array(${c}) END`];
    }
    if (from === 'jsonArray' && to === 'text') {
      return [`UPDATE ${t} SET ${c} = COALESCE(json_extract(${c}, '$[#-1]'), '')`];
    }
    return [];
  },
  createIndexSql(index: IndexSpec) {
    const cols = index.columns
      .map((c) => `${quote(c.name)}${c.nocase ? ' COLLATE NOCASE' : ''}${c.desc ? ' DESC' : ''}`)
      .join(', ');
    const where = index.where?.length
      ? ` WHERE ${index.where.map((w) => `${quote(w.column)} ${w.op} ${literal(w.value)}`).join(' AND ')}`
      : '';
    return [
      `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quote(index.name)} ON ${quote(index.table)} (${cols})${where}`,
    ];
  },
  dropIndexSql: (index) => [`DROP INDEX IF EXISTS ${quote(index.name)}`],
  // SQLite's LOWER lowers ASCII only (no ICU in node:sqlite), exactly like COLLATE NOCASE.
  castTextSql: (expr) => `CAST(${expr} AS TEXT)`,
  foldCaseSql: (expr) => `LOWER(${expr})`,
  randomSql: () => 'RANDOM()',
  rowidSql: () => '_rowid_',
  boundLimitSql: () => 'LIMIT +?',
  jsonArrayLengthSql: (column) => `json_array_length(${quote(column)})`,
  jsonArrayContainsSql: (column) =>
    `EXISTS (SELECT 1 FROM json_each(${quote(column)}) WHERE json_each.value = ?)`,
  listTablesSql: () =>
    "SELECT name FROM sqlite_master WHERE type IN ('table','view','index') AND name NOT LIKE 'sqlite_%'",
  // One connection writes, so schema changes and read-modify-write transactions never interleave.
  schemaLockSql: () => undefined,
  lockingSelectSuffix: () => '',
  decodeBool: (v) => v === 1 || v === true || v === '1' || v === 1n,
  translateError(err: unknown): TranslatedError | undefined {
    if (err instanceof Error && (err as { code?: string }).code === 'PLINTH_STATEMENT_TIMEOUT')
      return { kind: 'timeout', columns: [] };
    if (!(err instanceof Error) || (err as { code?: string }).code !== 'ERR_SQLITE_ERROR') return undefined;
    const errcode = (err as { errcode?: number }).errcode ?? 0;
    const primary = errcode & 0xff;
    if (primary === 13) return { kind: 'full', columns: [] };
    // I/O errors, a file that cannot be opened, a database that became read-only underneath.
    if (primary === 10 || primary === 14 || primary === 8) return { kind: 'unavailable', columns: [] };
    const columnsOf = (msg: string) =>
      (/constraint failed: (.+)$/.exec(msg)?.[1] ?? '')
        .split(',')
        .map((s) => s.trim().split('.').pop() ?? '')
        .filter(Boolean);
    if (errcode === 2067 || errcode === 1555) return { kind: 'unique', columns: columnsOf(err.message) };
    if (errcode === 1299) return { kind: 'notNull', columns: columnsOf(err.message) };
    if (errcode === 5 || errcode === 6 || (errcode & 0xff) === 5) return { kind: 'retry', columns: [] };
    return { kind: 'other', columns: [] };
  },
};
