import type { ErrorData } from '../errors/index.ts';

/**
 * How a field is stored. The schema layer maps field types to these; each dialect maps them to its
 * column types. Every kind but `json` is NOT NULL with a zero default (PocketBase's storage model).
 */
export type ColumnKind = 'id' | 'text' | 'number' | 'bool' | 'json' | 'jsonArray' | 'jsonObject';

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /**
   * For `text`: every value the field can hold is at most `BOUNDED_TEXT_CHARS` characters (dates, short
   * text and select values). MySQL stores such a column as a VARCHAR, which an index covers whole (it can
   * then order a list and answer a count); the other engines store all text alike.
   */
  bounded?: boolean;
}

/** The longest value of a `bounded` text column, in characters. */
export const BOUNDED_TEXT_CHARS = 255;

export interface IndexSpec {
  name: string;
  table: string;
  unique: boolean;
  /** `kind` is how the column is stored, when the schema layer knows it (MySQL indexes by kind). */
  columns: Array<{ name: string; nocase?: boolean; desc?: boolean; kind?: ColumnKind }>;
  /** Optional partial-index condition, as `column op literal` terms joined by AND. */
  where?: Array<{ column: string; op: '=' | '!=' | '<>'; value: string | number }>;
}

/** A database error turned into field errors, or the kind of failure for retry decisions. */
export interface TranslatedError {
  /**
   * `timeout`: the statement ran past the engine's time limit (pools.ts). `unavailable`: the database could
   * not be reached or answered (refused, lost, shutting down, too many connections, a client-side timeout).
   * `full`: the disk or table is full. The last two are outages: the request may succeed later (503).
   */
  kind: 'unique' | 'notNull' | 'tooLong' | 'retry' | 'timeout' | 'unavailable' | 'full' | 'other';
  /** Column names involved, when the engine reports them. */
  columns: string[];
  /** The violated index, when the engine names it instead of its columns (MySQL): callers map it back. */
  index?: string;
}

/**
 * The seam between the SQL engines: everything engine-specific that is not plain query building.
 * One implementation per engine in `dialects/`.
 */
export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres' | 'mysql';
  /**
   * False where DDL commits as it runs (MySQL/MariaDB): a failed schema change cannot be rolled back
   * there, so the schema layer checks what it can before any DDL and undoes the steps that ran.
   */
  readonly transactionalDdl: boolean;
  /**
   * True where a `bounded` text column is stored apart from the others (MySQL: VARCHAR against LONGTEXT),
   * so that a change of bound is a change of column; elsewhere it changes nothing.
   */
  readonly boundedText: boolean;
  /** Options appended to every CREATE TABLE (MySQL: engine, character set and exact collation). */
  readonly tableOptions: string;
  quote(identifier: string): string;
  /** Turns SQL written with `?` placeholders into the engine's own (PostgreSQL: `$1, $2...`). */
  nativeSql(sql: string): string;
  columnSql(column: ColumnSpec): string;
  createTableSql(table: string, columns: ColumnSpec[]): string[];
  renameTableSql(from: string, to: string): string[];
  dropTableSql(table: string): string[];
  addColumnSql(table: string, column: ColumnSpec): string[];
  dropColumnSql(table: string, column: string): string[];
  renameColumnSql(table: string, from: string, to: string): string[];
  /**
   * Changes a column's storage to `column`'s (a text column becoming bounded or unbounded): MySQL's
   * VARCHAR and LONGTEXT; nothing elsewhere. No index may cover the column meanwhile.
   */
  retypeColumnSql(table: string, column: ColumnSpec): string[];
  /** Converts stored values when a field switches between one value and a list. */
  convertColumnSql(table: string, column: string, from: ColumnKind, to: ColumnKind): string[];
  createIndexSql(index: IndexSpec): string[];
  dropIndexSql(index: IndexSpec): string[];
  /**
   * `expr` with only the ASCII letters A-Z lowered (SQLite's NOCASE): the one case folding every engine
   * can do identically, used by case-insensitive unique indexes and lookups (emails). `é` ≠ `e`, `É` ≠ `é`.
   */
  foldCaseSql(expr: string): string;
  /** `expr` as this engine's text columns hold text (their collation included), for view columns. */
  castTextSql(expr: string): string;
  /** SQL for a random sort key. */
  randomSql(): string;
  /** SQL for the physical insertion order (`@rowid`); the engines issue maps it per engine. */
  rowidSql(): string;
  /**
   * A LIMIT whose count is the bound parameter (one `?`). SQLite compiles a statement again at every run
   * when it is a bare `?`, since the value may change the plan; `+?` keeps the value and not that.
   */
  boundLimitSql(): string;
  /** A condition true when the JSON array in `column` holds the bound parameter (one `?`). */
  jsonArrayContainsSql(column: string): string;
  /** The number of items of the JSON array in `column` (a column of kind `jsonArray`). */
  jsonArrayLengthSql(column: string): string;
  /** Lists the names of user tables, views and indexes that exist now (one namespace: to detect clashes). */
  listTablesSql(): string;
  /**
   * Serializes schema changes across connections, processes and nodes. `lock` runs first in the
   * transaction and answers one row whose `locked` is true once the lock is held; `unlock`, for a lock
   * that outlives transactions (MySQL's `GET_LOCK`, which survives the implicit commits of its DDL), runs
   * on the same connection after the transaction ends. Undefined where one connection writes anyway (SQLite).
   */
  schemaLockSql(): { lock: string; unlock?: string } | undefined;
  /**
   * What to append to a `SELECT` inside a transaction to lock the rows it reads until the end of the
   * transaction: `update` for rows about to be rewritten from what was read (read-modify-write),
   * `share` for rows that must not change or vanish (relation targets). Empty where writes are serialized.
   */
  lockingSelectSuffix(mode: 'update' | 'share'): string;
  /** Reads engine-specific representations back into JS values (e.g. 0/1 → boolean). */
  decodeBool(value: unknown): boolean;
  translateError(err: unknown): TranslatedError | undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * Helper for the server engines' dialects: a driver or socket failure to reach the database (no SQL error
 * code): refused or reset connections, a name that does not resolve, a pool that cannot hand out a
 * connection in time, a connection lost mid-query.
 */
export function isNetworkFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|not queryable|Connection lost|Pool is closed|connect ETIMEDOUT/i.test(
    err.message,
  );
}

/** Helper for dialects: field errors for a unique violation on known columns. */
export function uniqueErrorData(columns: string[]): ErrorData {
  const data: ErrorData = {};
  for (const c of columns) data[c] = { code: 'validation_not_unique', message: 'Value must be unique.' };
  return data;
}

/**
 * `?` placeholders → `$1, $2...`, skipping quoted strings and identifiers. Plinth's hand-written SQL uses
 * `?` everywhere; PostgreSQL wants numbered ones.
 */
export function numberPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  let quote: string | undefined;
  for (const ch of sql) {
    if (quote) {
      if (ch === quote) quote = undefined;
      out += ch;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
      out += ch;
    } else out += ch === '?' ? `$${++n}` : ch;
  }
  return out;
}

/** Standard SQL identifier quoting (SQLite, PostgreSQL). */
export function doubleQuote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`;
}

/** A standard SQL string or number literal (SQLite, PostgreSQL: no backslash escapes). */
export function standardLiteral(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

/** The column DDL every engine spells the same way, given its quoting and column definitions. */
export function commonColumnDdl(
  quote: (identifier: string) => string,
  columnSql: (column: ColumnSpec) => string,
): Pick<SqlDialect, 'dropTableSql' | 'addColumnSql' | 'dropColumnSql' | 'renameColumnSql'> {
  return {
    dropTableSql: (table) => [`DROP TABLE IF EXISTS ${quote(table)}`],
    addColumnSql: (table, c) => [`ALTER TABLE ${quote(table)} ADD COLUMN ${columnSql(c)}`],
    dropColumnSql: (table, column) => [`ALTER TABLE ${quote(table)} DROP COLUMN ${quote(column)}`],
    renameColumnSql: (table, from, to) => [
      `ALTER TABLE ${quote(table)} RENAME COLUMN ${quote(from)} TO ${quote(to)}`,
    ],
  };
}
