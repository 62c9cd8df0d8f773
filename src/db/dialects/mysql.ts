import type { ColumnSpec, IndexSpec, SqlDialect, TranslatedError } from '../dialect.ts';

// First version, to be completed by the engines work: see the notes on issue 3.
const COLUMN_TYPES: Record<ColumnSpec['kind'], string> = {
  id: 'VARCHAR(255) PRIMARY KEY NOT NULL',
  text: "LONGTEXT DEFAULT '' NOT NULL",
  number: 'DOUBLE DEFAULT 0 NOT NULL',
  bool: 'BOOLEAN DEFAULT FALSE NOT NULL',
  json: 'JSON DEFAULT NULL',
  jsonArray: "JSON DEFAULT ('[]') NOT NULL",
  jsonObject: `JSON DEFAULT ('{"lon":0,"lat":0}') NOT NULL`,
};

function quote(identifier: string): string {
  return `\`${identifier.replaceAll('`', '``')}\``;
}

function literal(value: string | number): string {
  return typeof value === 'number'
    ? String(value)
    : `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}

/**
 * MySQL/MariaDB. Tables use utf8mb4 with a binary collation, so that `=` compares exactly as on SQLite and
 * PostgreSQL (no accent- or case-insensitive matches). DDL is not transactional here.
 */
export const mysqlDialect: SqlDialect = {
  name: 'mysql',
  quote,
  nativeSql: (sql) => sql,
  columnSql: (c) => `${quote(c.name)} ${COLUMN_TYPES[c.kind]}`,
  createTableSql: (table, columns) => [
    `CREATE TABLE ${quote(table)} (${columns.map((c) => mysqlDialect.columnSql(c)).join(', ')}, \`_rowid\` BIGINT NOT NULL AUTO_INCREMENT UNIQUE) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
  ],
  renameTableSql: (from, to) => [`RENAME TABLE ${quote(from)} TO ${quote(to)}`],
  dropTableSql: (table) => [`DROP TABLE IF EXISTS ${quote(table)}`],
  addColumnSql: (table, c) => [`ALTER TABLE ${quote(table)} ADD COLUMN ${mysqlDialect.columnSql(c)}`],
  dropColumnSql: (table, column) => [`ALTER TABLE ${quote(table)} DROP COLUMN ${quote(column)}`],
  renameColumnSql: (table, from, to) => [
    `ALTER TABLE ${quote(table)} RENAME COLUMN ${quote(from)} TO ${quote(to)}`,
  ],
  convertColumnSql: () => [],
  createIndexSql(index: IndexSpec) {
    const cols = index.columns.map((c) => `${quote(c.name)}${c.desc ? ' DESC' : ''}`).join(', ');
    void literal;
    return [
      `CREATE ${index.unique ? 'UNIQUE ' : ''}INDEX ${quote(index.name)} ON ${quote(index.table)} (${cols})`,
    ];
  },
  dropIndexSql: (name, table) => [`DROP INDEX ${quote(name)} ON ${quote(table)}`],
  randomSql: () => 'RAND()',
  rowidSql: () => quote('_rowid'),
  jsonArrayContainsSql: (column) => `JSON_CONTAINS(${quote(column)}, JSON_QUOTE(?))`,
  listTablesSql: () =>
    'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() UNION SELECT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE()',
  decodeBool: (v) => v === 1 || v === true || v === '1',
  translateError(err: unknown): TranslatedError | undefined {
    const e = err as { errno?: unknown; sqlMessage?: unknown };
    if (!(err instanceof Error) || typeof e.errno !== 'number') return undefined;
    if (e.errno === 1062) return { kind: 'unique', columns: [] };
    if (e.errno === 1048) return { kind: 'notNull', columns: [] };
    if (e.errno === 1406) return { kind: 'tooLong', columns: [] };
    if (e.errno === 1213 || e.errno === 1205) return { kind: 'retry', columns: [] };
    return { kind: 'other', columns: [] };
  },
};
