import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, type Transaction } from 'kysely';
import type pg from 'pg';
import type { Logger } from '../log/index.ts';
import type { SqlDialect } from './dialect.ts';
import { mysqlDialect } from './dialects/mysql.ts';
import { postgresDialect } from './dialects/postgres.ts';
import { sqliteDialect } from './dialects/sqlite.ts';
import { mysqlPool, postgresPool } from './pools.ts';
import { NodeSqliteDialect, openSqlite } from './sqlite-driver.ts';

// biome-ignore lint/suspicious/noExplicitAny: tables are defined at run time by collections.
export type AnyDb = Kysely<any>;
// biome-ignore lint/suspicious/noExplicitAny: see AnyDb.
export type AnyTrx = Transaction<any>;
/** Either the database or an open transaction: query code takes this so it runs inside either. */
export type Executor = AnyDb | AnyTrx;

/** The data store: a Kysely instance, its dialect helpers, and transactions. */
export interface Database {
  readonly kysely: AnyDb;
  readonly dialect: SqlDialect;
  /** Runs `fn` in one transaction; everything it does commits or nothing does. */
  transaction<T>(fn: (trx: AnyTrx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs SQL that was compiled once at start-up (hot paths), with fresh parameters. */
  run<R>(executor: Executor, sql: string, params: readonly unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export interface TransactionOptions {
  /**
   * Takes the schema lock first (`SqlDialect.schemaLockSql`): the transaction runs alone among those that
   * take it, on every connection, process and node, so it may read the schema and change it safely.
   */
  schemaLock?: boolean;
}

export interface DatabaseOptions {
  url: string;
  dataDir: string;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  log: Logger;
}

/** Opens the configured engine: embedded SQLite by default, PostgreSQL or MySQL/MariaDB by URL. */
export function createDatabase(options: DatabaseOptions): Database {
  const url = options.url;
  if (/^postgres(ql)?:/.test(url)) {
    const pool = postgresPool(url);
    return wrap(
      new Kysely({ dialect: new PostgresDialect({ pool }) }),
      postgresDialect,
      namedStatements(pool),
    );
  }
  if (/^(mysql|mariadb):/.test(url))
    return wrap(new Kysely({ dialect: new MysqlDialect({ pool: mysqlPool(url) }) }), mysqlDialect);
  if (url && !url.startsWith('sqlite:'))
    throw new Error(`unsupported database URL scheme ${url.split(':')[0]}`);
  mkdirSync(options.dataDir, { recursive: true });
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(options.dataDir, 'data.db');
  const dialect = new NodeSqliteDialect(() => openSqlite(file, options.sqliteSynchronous));
  const kysely = new Kysely({ dialect });
  return wrap(kysely, sqliteDialect, (sql, params) => dialect.driver?.runNow(sql, params)?.rows);
}

/**
 * A shortcut for one statement outside transactions, given the engine's native SQL; undefined when it
 * cannot take it (the caller then goes through Kysely).
 */
type RunNow = (sql: string, params: readonly unknown[]) => unknown[] | Promise<unknown[]> | undefined;

/** Distinct statements a PostgreSQL connection keeps prepared; past this, statements go unnamed. */
const MAX_NAMED_STATEMENTS = 2000;

/**
 * PostgreSQL parses and plans an unnamed statement every time; a named one once per connection. Hot-path
 * SQL is a small set of strings built once per collection (or a filter clients repeat), so it is named by
 * a hash of its text.
 */
function namedStatements(pool: pg.Pool): RunNow {
  const names = new Map<string, string>();
  let generation = 0;
  const nameOf = (sql: string) =>
    `p${generation}_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
  // SQL seen once (a one-off filter) runs unnamed; the second time it gets a name. Bounded, so a flood of
  // distinct filters cannot use up the names the hot path needs.
  let seenOnce = new Set<string>();
  return (sql, params) => {
    let name = names.get(sql);
    if (name === undefined) {
      if (names.size >= MAX_NAMED_STATEMENTS) return undefined;
      if (!seenOnce.has(sql)) {
        if (seenOnce.size >= MAX_NAMED_STATEMENTS) seenOnce = new Set();
        seenOnce.add(sql);
        return undefined;
      }
      seenOnce.delete(sql);
      name = nameOf(sql);
      names.set(sql, name);
    }
    const query = (n: string) =>
      pool.query({ name: n, text: sql, values: params as unknown[] }).then((r) => r.rows);
    return query(name).catch((err: unknown) => {
      // A schema change (here or on another node) altered the columns behind a prepared `SELECT *`:
      // prepare it again under a new name. Old names die with their connections.
      if (!/cached plan must not change result type/.test(String((err as Error)?.message))) throw err;
      generation++;
      const fresh = nameOf(sql);
      names.set(sql, fresh);
      return query(fresh);
    });
  };
}

function wrap(kysely: AnyDb, dialect: SqlDialect, runNow?: RunNow): Database {
  // Hot-path SQL is the same few strings over and over: convert each once.
  const nativeCache = new Map<string, string>();
  const native = (sql: string) => {
    let out = nativeCache.get(sql);
    if (out === undefined) {
      out = dialect.nativeSql(sql);
      if (nativeCache.size >= 1000) nativeCache.clear();
      nativeCache.set(sql, out);
    }
    return out;
  };
  return {
    kysely,
    dialect,
    transaction: (fn, options) =>
      withRetries(dialect, () =>
        options?.schemaLock ? lockedTransaction(kysely, dialect, fn) : kysely.transaction().execute(fn),
      ),
    async run<R>(executor: Executor, sql: string, params: readonly unknown[]) {
      const now = executor === kysely ? runNow?.(native(sql), params) : undefined;
      if (now) return (await now) as R[];
      const result = await executor.executeQuery<R>(CompiledQuery.raw(native(sql), params as unknown[]));
      return result.rows;
    },
    close: () => kysely.destroy(),
  };
}

/** A transaction that holds the schema lock, on one connection so that a session-scoped lock can be released. */
async function lockedTransaction<T>(
  kysely: AnyDb,
  dialect: SqlDialect,
  fn: (trx: AnyTrx) => Promise<T>,
): Promise<T> {
  const lock = dialect.schemaLockSql();
  if (!lock) return kysely.transaction().execute(fn);
  return kysely.connection().execute(async (conn) => {
    let failed = false;
    try {
      return await conn.transaction().execute(async (trx) => {
        const [row] = (await trx.executeQuery<{ locked: unknown }>(CompiledQuery.raw(lock.lock))).rows;
        if (!row?.locked) throw new Error('timed out waiting for the schema lock');
        return fn(trx);
      });
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      // After a failure the connection may be gone (which frees the lock too): keep the first error.
      if (lock.unlock)
        await conn.executeQuery(CompiledQuery.raw(lock.unlock)).catch((err) => {
          if (!failed) throw err;
        });
    }
  });
}

/** Serialization failures and deadlocks are the engine asking for a retry: up to 3 more attempts. */
async function withRetries<T>(dialect: SqlDialect, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (i >= 3 || dialect.translateError(err)?.kind !== 'retry') throw err;
      await new Promise((r) => setTimeout(r, 5 * 2 ** i + Math.random() * 10));
    }
  }
}
