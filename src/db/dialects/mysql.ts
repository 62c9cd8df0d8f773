import type { ColumnSpec, IndexSpec, SqlDialect, TranslatedError } from '../dialect.ts';
import { BOUNDED_TEXT_CHARS, commonColumnDdl, isNetworkFailure } from '../dialect.ts';
import { type MysqlSqlHelpers, mysqlCreateIndexSql, mysqlDropIndexSql } from './mysql-indexes.ts';

/**
 * Binary and NO PAD: `=`, GROUP BY and unique keys compare code points exactly, trailing spaces included,
 * as on SQLite and PostgreSQL (`utf8mb4_bin` is PAD SPACE: 'a' = 'a ' there).
 */
const COLLATION = 'utf8mb4_nopad_bin';

// JSON kinds are LONGTEXT, not JSON: MariaDB's JSON is LONGTEXT plus a JSON_VALID check that refuses
// documents nested deeper than 32 levels, which SQLite and PostgreSQL store. Plinth writes only JSON it
// serialized itself, and MariaDB's JSON functions read LONGTEXT the same.
const COLUMN_TYPES: Record<ColumnSpec['kind'], string> = {
  id: 'VARCHAR(255) PRIMARY KEY NOT NULL',
  text: "LONGTEXT DEFAULT '' NOT NULL",
  number: 'DOUBLE DEFAULT 0 NOT NULL',
  bool: 'BOOLEAN DEFAULT FALSE NOT NULL',
  json: 'LONGTEXT DEFAULT NULL',
  jsonArray: "LONGTEXT DEFAULT '[]' NOT NULL",
  jsonObject: `LONGTEXT DEFAULT '{"lon":0,"lat":0}' NOT NULL`,
};

const ASCII_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function quote(identifier: string): string {
  return `\`${identifier.replaceAll('`', '``')}\``;
}

/** A literal that reads the same whatever the server's sql_mode (a backslash is an escape unless NO_BACKSLASH_ESCAPES). */
function literal(value: string | number): string {
  if (typeof value === 'number') return String(value);
  if (value.includes('\\')) return `_utf8mb4 X'${Buffer.from(value).toString('hex')}'`;
  return `'${value.replaceAll("'", "''")}'`;
}

/** LOWER would fold every letter (É too); nested REPLACEs (always case-sensitive) fold A-Z only. */
function foldCaseSql(expr: string): string {
  let out = expr;
  for (const c of ASCII_UPPER) out = `REPLACE(${out}, '${c}', '${c.toLowerCase()}')`;
  return out;
}

const helpers: MysqlSqlHelpers = { quote, literal, foldCaseSql };

/** `Duplicate entry 'x' for key 'name'` (MySQL 8 writes `'table.name'`): the key's name. */
function duplicateKey(message: string): string | undefined {
  return /for key '(?:[^']*\.)?([^'.]+)'$/.exec(message)?.[1];
}

/**
 * Bounded text is a VARCHAR: an index covers it whole, so it can give a list its order and answer a COUNT
 * alone (LONGTEXT is indexed by a prefix only). VARCHAR(255) rather than the exact bound: past 63
 * characters InnoDB may keep the value off the row, so a table takes many of them (a shorter one always
 * stays in the row, whose 8 KB limit a few dozen would exhaust), and a bound that changes within 255
 * needs no ALTER. The schema layer caps how many a table gets (MySQL's 64 KB row limit).
 */
const BOUNDED_TEXT = `VARCHAR(${BOUNDED_TEXT_CHARS}) DEFAULT '' NOT NULL`;

const columnType = (c: ColumnSpec) => (c.kind === 'text' && c.bounded ? BOUNDED_TEXT : COLUMN_TYPES[c.kind]);
const columnSql = (c: ColumnSpec) => `${quote(c.name)} ${columnType(c)}`;

/** `Data too long for column 'x' at row 1`: the column. */
function longColumn(message: string): string[] {
  const name = /for column '([^']+)'/.exec(message)?.[1];
  return name ? [name] : [];
}

/**
 * MySQL/MariaDB (MariaDB 10.6+ is what Plinth runs and tests; see docs/decisions/0005-mysql.md). Tables use
 * utf8mb4 with a binary NO PAD collation. DDL is not transactional: each statement commits on its own,
 * so the schema layer undoes a failed change itself.
 */
export const mysqlDialect: SqlDialect = {
  name: 'mysql',
  transactionalDdl: false,
  boundedText: true,
  tableOptions: ` ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=${COLLATION}`,
  quote,
  nativeSql: (sql) => sql,
  columnSql,
  createTableSql: (table, columns) => [
    `CREATE TABLE ${quote(table)} (${columns.map(columnSql).join(', ')}, \`_rowid\` BIGINT NOT NULL AUTO_INCREMENT UNIQUE INVISIBLE)${mysqlDialect.tableOptions}`,
  ],
  renameTableSql: (from, to) => [`RENAME TABLE ${quote(from)} TO ${quote(to)}`],
  ...commonColumnDdl(quote, columnSql),
  retypeColumnSql: (table, column) => [`ALTER TABLE ${quote(table)} MODIFY COLUMN ${columnSql(column)}`],
  convertColumnSql(table, column, from, to) {
    const t = quote(table);
    const c = quote(column);
    // Text and JSON kinds are all LONGTEXT here (the schema layer makes a bounded text column LONGTEXT
    // before it converts it): only the values and the default change.
    if (from === 'text' && to === 'jsonArray') {
      return [
        `UPDATE ${t} SET ${c} = CASE WHEN ${c} = '' THEN '[]' ELSE JSON_ARRAY(${c}) END`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT '[]'`,
      ];
    }
    if (from === 'jsonArray' && to === 'text') {
      // The last element; '' for none or a JSON null (no `$[last]` before MariaDB 10.9).
      return [
        `UPDATE ${t} SET ${c} = CASE WHEN JSON_LENGTH(${c}) > 0 THEN COALESCE(JSON_VALUE(${c}, CONCAT('$[', JSON_LENGTH(${c}) - 1, ']')), '') ELSE '' END`,
        `ALTER TABLE ${t} ALTER COLUMN ${c} SET DEFAULT ''`,
      ];
    }
    return [];
  },
  createIndexSql: (index: IndexSpec) => mysqlCreateIndexSql(index, helpers),
  dropIndexSql: (index: IndexSpec) => mysqlDropIndexSql(index, helpers),
  castTextSql: (expr) => `CAST(${expr} AS CHAR CHARACTER SET utf8mb4) COLLATE ${COLLATION}`,
  foldCaseSql,
  randomSql: () => 'RAND()',
  rowidSql: () => quote('_rowid'),
  boundLimitSql: () => 'LIMIT ?',
  jsonArrayLengthSql: (column) => `JSON_LENGTH(${quote(column)})`,
  jsonArrayContainsSql: (column) => `JSON_CONTAINS(${quote(column)}, JSON_QUOTE(?))`,
  // Index names are per table here; PRIMARY is every primary key's, not a name a collection could clash with.
  listTablesSql: () =>
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() UNION SELECT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name <> 'PRIMARY'",
  // A named lock, not a row lock: DDL commits implicitly here, which would release a row lock half-way.
  // Named per database (locks are server-wide); released on the same connection after the transaction.
  schemaLockSql: () => ({
    lock: "SELECT GET_LOCK(CONCAT('plinth:schema:', SHA1(DATABASE())), 30) AS locked",
    unlock: "SELECT RELEASE_LOCK(CONCAT('plinth:schema:', SHA1(DATABASE())))",
  }),
  // LOCK IN SHARE MODE rather than FOR SHARE: MariaDB knows only the former.
  lockingSelectSuffix: (mode) => (mode === 'update' ? ' FOR UPDATE' : ' LOCK IN SHARE MODE'),
  decodeBool: (v) => v === 1 || v === true || v === '1',
  translateError(err: unknown): TranslatedError | undefined {
    const e = err as { errno?: unknown; sqlMessage?: unknown; code?: unknown };
    if (isNetworkFailure(err) || (typeof e.code === 'string' && /^PROTOCOL_/.test(e.code)))
      return { kind: 'unavailable', columns: [] };
    if (!(err instanceof Error) || typeof e.errno !== 'number') return undefined;
    // Too many connections, shutdown in progress, server gone or lost, read-only server.
    if ([1040, 1053, 1077, 2002, 2003, 2006, 2013, 1290, 1836].includes(e.errno))
      return { kind: 'unavailable', columns: [] };
    // Disk full (also as "errno: 28" inside a storage engine error), table full.
    if (e.errno === 1021 || e.errno === 1114 || /errno: 28\b|No space left/i.test(String(e.sqlMessage)))
      return { kind: 'full', columns: [] };
    if (e.errno === 1062) {
      // The message names the key, not its columns: the schema layer knows which columns an index covers.
      const key = duplicateKey(String(e.sqlMessage ?? ''));
      if (key === 'PRIMARY') return { kind: 'unique', columns: ['id'] };
      return { kind: 'unique', columns: [], ...(key ? { index: key } : {}) };
    }
    if (e.errno === 1048) return { kind: 'notNull', columns: [] };
    if (e.errno === 1406) return { kind: 'tooLong', columns: longColumn(String(e.sqlMessage ?? '')) };
    if (e.errno === 1969 || e.errno === 3024) return { kind: 'timeout', columns: [] };
    // Deadlock, lock wait timeout, and MariaDB 11's snapshot-isolation conflict ("Record has changed").
    if (e.errno === 1213 || e.errno === 1205 || e.errno === 1020) return { kind: 'retry', columns: [] };
    return { kind: 'other', columns: [] };
  },
};
