import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { type Deadline, installGuard } from './sqlite-guard.ts';

/** Bound on the prepared-statement cache; dynamic SQL (filters) must not grow it forever. */
const STATEMENT_CACHE_LIMIT = 1000;

type SqliteValue = null | number | bigint | string | Uint8Array;

/**
 * Kysely dialect for Node's built-in `node:sqlite`: no native module to build. One connection, as
 * node:sqlite is synchronous; a mutex keeps a transaction's queries together across awaits.
 */
export class NodeSqliteDialect implements Dialect {
  readonly #open: () => DatabaseSync;
  readonly #limitMs: number;
  /** The driver Kysely made, for the synchronous fast path (`runNow`). */
  driver?: NodeSqliteDriver;
  /**
   * `limitMs`: statements on this connection run on the event loop, so those the guard can stop (compiled
   * rules and filters: sqlite-guard.ts) stop after this long.
   */
  constructor(open: () => DatabaseSync, limitMs = Number.POSITIVE_INFINITY) {
    this.#open = open;
    this.#limitMs = limitMs;
  }
  createDriver(): Driver {
    this.driver = new NodeSqliteDriver(this.#open, this.#limitMs);
    return this.driver;
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  createIntrospector(db: Kysely<unknown>) {
    return new SqliteIntrospector(db);
  }
}

/** Opens a SQLite file with the pragmas Plinth relies on. */
export function openSqlite(path: string, synchronous: 'FULL' | 'NORMAL'): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 10000');
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA temp_store = MEMORY');
  db.exec('PRAGMA cache_size = -32000');
  return db;
}

export class NodeSqliteDriver implements Driver {
  readonly #open: () => DatabaseSync;
  readonly #limitMs: number;
  #db?: DatabaseSync;
  #connection?: NodeSqliteConnection;
  #lock: Promise<void> = Promise.resolve();
  #unlock?: () => void;
  /** Acquirers holding or waiting for the connection. */
  #users = 0;

  constructor(open: () => DatabaseSync, limitMs: number) {
    this.#open = open;
    this.#limitMs = limitMs;
  }

  async init(): Promise<void> {
    this.#db = this.#open();
    this.#connection = new NodeSqliteConnection(this.#db, installGuard(this.#db), this.#limitMs);
  }

  /**
   * Runs one statement at once when nobody holds or awaits the connection, else returns undefined. A
   * statement runs synchronously, so with the connection free nothing can interleave with it: this skips
   * the mutex and Kysely's executor on the hot read path.
   */
  runNow<R>(sql: string, params: readonly unknown[]): QueryResult<R> | undefined {
    if (this.#users > 0 || !this.#connection) return undefined;
    return this.#connection.executeSync<R>(sql, params);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    this.#users++;
    const previous = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => {
      release = resolve;
    });
    await previous;
    this.#unlock = release;
    return this.#connection!;
  }

  async releaseConnection(): Promise<void> {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    this.#users--;
    unlock?.();
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }
  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }
  async savepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`savepoint "${name}"`));
  }
  async rollbackToSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`rollback to savepoint "${name}"`));
  }
  async releaseSavepoint(connection: DatabaseConnection, name: string): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw(`release savepoint "${name}"`));
  }

  async destroy(): Promise<void> {
    this.#connection?.clear();
    this.#db?.close();
    this.#db = undefined;
  }
}

class NodeSqliteConnection implements DatabaseConnection {
  readonly #db: DatabaseSync;
  readonly #deadline: Deadline;
  readonly #limitMs: number;
  readonly #statements = new Map<string, { stmt: StatementSync; reader: boolean }>();

  constructor(db: DatabaseSync, deadline: Deadline, limitMs: number) {
    this.#db = db;
    this.#deadline = deadline;
    this.#limitMs = limitMs;
  }

  clear(): void {
    this.#statements.clear();
  }

  #prepare(sql: string): { stmt: StatementSync; reader: boolean } {
    let entry = this.#statements.get(sql);
    if (!entry) {
      const stmt = this.#db.prepare(sql);
      entry = { stmt, reader: stmt.columns().length > 0 };
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      this.#statements.set(sql, entry);
    }
    return entry;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    return this.executeSync(query.sql, query.parameters);
  }

  executeSync<R>(sql: string, parameters: readonly unknown[]): QueryResult<R> {
    const { stmt, reader } = this.#prepare(sql);
    const params = parameters.map(toSqliteValue);
    this.#deadline.arm(this.#limitMs);
    if (reader) return { rows: stmt.all(...params) as R[] };
    const { changes, lastInsertRowid } = stmt.run(...params);
    return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
  }

  async *streamQuery<R>(query: CompiledQuery): AsyncIterableIterator<QueryResult<R>> {
    const { stmt } = this.#prepare(query.sql);
    for (const row of stmt.iterate(...query.parameters.map(toSqliteValue))) yield { rows: [row as R] };
  }
}

/** A JS value as node:sqlite binds it (booleans as 1/0, dates as ISO text, objects as JSON). */
export function toSqliteValue(value: unknown): SqliteValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value;
  if (value instanceof Uint8Array) return value;
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value);
}
