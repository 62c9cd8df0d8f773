import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, Kysely, MysqlDialect, PostgresDialect, type Transaction } from 'kysely';
import type { Logger } from '../log/index.ts';
import type { SqlDialect } from './dialect.ts';
import { mysqlDialect } from './dialects/mysql.ts';
import { postgresDialect } from './dialects/postgres.ts';
import { sqliteDialect } from './dialects/sqlite.ts';
import { createGate, type Gate } from './gate.ts';
import { inlineReads } from './inline-reads.ts';
import { mysqlPool, POOL_MAX, type PoolLimits, postgresPool } from './pools.ts';
import { namedStatements, type RunNow } from './postgres-statements.ts';
import { type QueryOptions, queryLane, type Statement } from './query-lane.ts';
import { NodeSqliteDialect, openSqlite, toSqliteValue, type WriteLock } from './sqlite-driver.ts';
import { WalSync } from './sqlite-group.ts';
import { createReaderPool, type ReaderPool } from './sqlite-readers.ts';
import { lockedTransaction, withRetries } from './transactions.ts';

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
  /**
   * Runs SQL that was compiled once at start-up (hot paths), with fresh parameters: a lookup by key, a write,
   * or any statement inside a transaction. Data-dependent reads outside transactions go through `query`.
   */
  run<R>(executor: Executor, sql: string, params: readonly unknown[]): Promise<R[]>;
  /**
   * A read outside any transaction whose cost depends on the data (a list, a count, a filter, a rule): it
   * waits its turn in the query lane (a fair share of the pool per caller; 503 when the lane stays full),
   * runs off the event loop (SQLite: on a reader thread) and stops at the time limit with a 400.
   */
  query<R>(sql: string, params: readonly unknown[], options?: QueryOptions): Promise<R[]>;
  /**
   * Several such reads as one (a page and its count): on SQLite one trip to a reader and one snapshot; on
   * server engines side by side. Answers each statement's rows, in order.
   */
  queryBatch(statements: readonly Statement[], options?: QueryOptions): Promise<unknown[][]>;
  /**
   * Server engines: a list's page carries its total as a column (one statement, one round trip to the
   * database, one connection of the pool). SQLite runs the page and its count as a batch instead: one trip
   * to a reader, or none (a cheap read runs on the event loop).
   */
  readonly countsInPage: boolean;
  /** The time limit of one statement, in milliseconds. */
  readonly queryTimeoutMs: number;
  /**
   * The connection pool's state now (metrics), on PostgreSQL and MySQL/MariaDB; undefined on SQLite,
   * which has one connection and reader threads rather than a pool.
   */
  poolStats?(): PoolStats;
  /**
   * SQLite with group commit (synchronous=FULL): calls `watcher` with the number of committed writes
   * waiting for their sync to disk, each time it changes. Admission lets that many requests wait outside
   * their slot: they hold no connection and need no CPU until answered, and the next group gathers
   * meanwhile (docs/decisions/0010-group-commit.md).
   */
  watchDurableWaits?(watcher: (writes: number) => void): void;
  close(): Promise<void>;
}

/** Connections of the pool: open, idle among them, and callers waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

export type { QueryOptions, Statement };

export interface TransactionOptions {
  /**
   * Takes the schema lock first (`SqlDialect.schemaLockSql`): the transaction runs alone among those that
   * take it, on every connection, process and node, so it may read the schema and change it safely. Its
   * statements have no time limit (a schema change may take long on a big table): on server engines it
   * runs on a small pool of its own.
   */
  schemaLock?: boolean;
}

export interface DatabaseOptions {
  url: string;
  dataDir: string;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  log: Logger;
  /** Time limit of one statement (server engines: every statement but schema changes). Default 5 s. */
  queryTimeoutMs?: number;
  /**
   * SQLite: writes that arrive together share one transaction and one fsync, each answered once durable
   * (docs/decisions/0010-group-commit.md). Default on.
   */
  sqliteGroupCommit?: boolean;
  /** SQLite reader threads for `query` (default 4; 0 runs queries on the event loop, for tools). */
  sqliteReaders?: number;
  /**
   * SQLite: a `query` that took less than this many ms last time, with the same SQL and parameters, runs on
   * the event loop instead of a reader (inline-reads.ts). Default 0.1; 0 sends every query to a reader.
   */
  sqliteInlineBudgetMs?: number;
  /** SQLite with group commit: the lock the processes writing the same file take in turn (sqlite-driver.ts). */
  sqliteWriteLock?: WriteLock;
}

const DEFAULT_QUERY_TIMEOUT_MS = 5000;
/** How long a client waits for the server engine's answer beyond the server's own limit. */
const CLIENT_TIMEOUT_GRACE_MS = 5000;
/** On SQLite, a rule checked inside a write transaction runs on the event loop: it gets at most this. */
const INLINE_LIMIT_MS = 1000;
/**
 * SQLite reader threads, at most (started when queries need them, ended when idle): enough that a lone
 * client's queries run side by side and a slow client's leave threads for the others.
 */
const DEFAULT_READERS = 4;
/** Connections kept out of the query lane for lookups by key, writes and transactions. */
const POOL_RESERVE = 2;

/** Opens the configured engine: embedded SQLite by default, PostgreSQL or MySQL/MariaDB by URL. */
export function createDatabase(options: DatabaseOptions): Database {
  const url = options.url;
  const timeoutMs = options.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS;
  const limits: PoolLimits = {
    statementTimeoutMs: timeoutMs,
    clientTimeoutMs: timeoutMs + CLIENT_TIMEOUT_GRACE_MS,
  };
  const serverGate = () => laneGate(POOL_MAX - POOL_RESERVE, timeoutMs);
  if (/^postgres(ql)?:/.test(url)) {
    const pool = postgresPool(url, limits);
    const kysely = new Kysely({ dialect: new PostgresDialect({ pool }) });
    // Schema changes run on a pool of their own, without time limits (connections open on first use).
    const schema = new Kysely({ dialect: new PostgresDialect({ pool: postgresPool(url, NO_LIMITS, 2) }) });
    const db = withSchemaPool(
      wrap(kysely, postgresDialect, timeoutMs, namedStatements(pool), serverGate(), undefined, schema),
      schema,
    );
    return {
      ...db,
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    };
  }
  if (/^(mysql|mariadb):/.test(url)) {
    const pool = mysqlPool(url, limits);
    const kysely = new Kysely({ dialect: new MysqlDialect({ pool }) });
    const schema = new Kysely({ dialect: new MysqlDialect({ pool: mysqlPool(url, NO_LIMITS, 2) }) });
    const db = withSchemaPool(
      wrap(kysely, mysqlDialect, timeoutMs, undefined, serverGate(), undefined, schema),
      schema,
    );
    return { ...db, poolStats: () => mysqlPoolStats(pool) };
  }
  if (url && !url.startsWith('sqlite:'))
    throw new Error(`unsupported database URL scheme ${url.split(':')[0]}`);
  mkdirSync(options.dataDir, { recursive: true });
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(options.dataDir, 'data.db');
  const inlineMs = Math.min(timeoutMs, INLINE_LIMIT_MS);
  const groupCommit = options.sqliteGroupCommit ?? true;
  // FULL with group commit: SQLite's COMMIT does not sync, the driver syncs the WAL off the event loop.
  const wal =
    groupCommit && options.sqliteSynchronous === 'FULL' && file !== ':memory:'
      ? new WalSync(`${file}-wal`)
      : undefined;
  const open = () => openSqlite(file, wal ? 'NORMAL' : options.sqliteSynchronous);
  const dialect = new NodeSqliteDialect(open, inlineMs, groupCommit, wal, options.sqliteWriteLock);
  const kysely = new Kysely({ dialect });
  const runNow: RunNow = (sql, params) => {
    const result = dialect.driver?.run(sql, params);
    return result instanceof Promise ? result.then((r) => r.rows) : result?.rows;
  };
  const size = file === ':memory:' ? 0 : (options.sqliteReaders ?? DEFAULT_READERS);
  // The readers open the file once the writer has created it (and set WAL mode): on first use.
  let readers: ReaderPool | undefined;
  const inline = inlineReads({ budgetMs: options.sqliteInlineBudgetMs });
  const reader = (statements: readonly Statement[]) => {
    const jobs = statements.map((s) => ({ sql: s.sql, params: s.params.map(toSqliteValue) }));
    const key = inline.key(jobs);
    if (key !== undefined && inline.allows(key)) {
      const rows = readInline(key, jobs);
      if (rows) return Promise.resolve(rows);
    }
    readers ??= createReaderPool({ file, size, log: options.log });
    // A reader may have seen a group whose WAL sync is under way: answer once it is durable.
    return readers.run(jobs, timeoutMs).then(({ rows, ms }) => {
      if (key !== undefined) inline.record(key, ms);
      const settled = dialect.driver?.settled();
      return settled ? settled.then(() => rows) : rows;
    });
  };
  /** A read seen cheap, on the event loop; undefined when the connection is busy or the read failed here. */
  const readInline = (key: string, jobs: Statement[]) => {
    const start = performance.now();
    try {
      const rows = dialect.driver?.readBatchNow(jobs);
      if (rows) inline.record(key, performance.now() - start);
      return rows;
    } catch {
      // A reader runs it again, and answers with its own error (a timeout is the client's 400 there).
      inline.forget(key);
      return undefined;
    }
  };
  const db = wrap(
    kysely,
    sqliteDialect,
    timeoutMs,
    runNow,
    laneGate(Math.max(size, 1), timeoutMs),
    size ? reader : undefined,
  );
  return {
    ...db,
    watchDurableWaits: wal && ((watcher) => wal.watch(watcher)),
    close: () => Promise.all([readers?.close(), db.close()]).then(() => undefined),
  };
}

/**
 * mysql2 has no public figures for its pool: these are the queues it keeps (stable across its 3.x
 * releases). Anything unexpected reads as 0 rather than failing a scrape.
 */
function mysqlPoolStats(pool: object): PoolStats {
  const length = (name: string) => {
    const n = (pool as Record<string, { length?: unknown } | undefined>)[name]?.length;
    return typeof n === 'number' ? n : 0;
  };
  return {
    total: length('_allConnections'),
    idle: length('_freeConnections'),
    waiting: length('_connectionQueue'),
  };
}

const NO_LIMITS: PoolLimits = { statementTimeoutMs: 0, clientTimeoutMs: 0 };

function withSchemaPool(db: Database, schema: AnyDb): Database {
  return { ...db, close: () => Promise.all([db.close(), schema.destroy()]).then(() => undefined) };
}

/**
 * The query lane's gate: `slots` at once; one caller at most half of them while others wait, and all but
 * one when nobody else does.
 */
function laneGate(slots: number, timeoutMs: number): Gate {
  return createGate({
    slots,
    perCaller: Math.max(1, Math.ceil(slots / 2)),
    maxPerCaller: Math.max(1, slots - 1),
    maxWaiting: 64 * slots,
    maxWaitMs: timeoutMs,
  });
}

function wrap(
  kysely: AnyDb,
  dialect: SqlDialect,
  queryTimeoutMs: number,
  runNow: RunNow | undefined,
  gate: Gate,
  reader?: (statements: readonly Statement[]) => Promise<unknown[][]>,
  schema: AnyDb = kysely,
): Database {
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
  async function run<R>(executor: Executor, sql: string, params: readonly unknown[]): Promise<R[]> {
    const now = executor === kysely ? runNow?.(native(sql), params) : undefined;
    if (now) return (await now) as R[];
    const result = await executor.executeQuery<R>(CompiledQuery.raw(native(sql), params as unknown[]));
    return result.rows;
  }
  const execute = reader
    ? (sql: string, params: readonly unknown[]) => reader([{ sql, params }]).then((r) => r[0] as unknown[])
    : (sql: string, params: readonly unknown[]) => run<unknown>(kysely, sql, params);
  const lane = queryLane({ gate, dialect, timeoutMs: queryTimeoutMs, execute, executeBatch: reader });
  return {
    kysely,
    dialect,
    queryTimeoutMs,
    transaction: (fn, options) =>
      withRetries(dialect, () =>
        options?.schemaLock ? lockedTransaction(schema, dialect, fn) : kysely.transaction().execute(fn),
      ),
    run,
    query: lane.query,
    queryBatch: lane.queryBatch,
    countsInPage: dialect.name !== 'sqlite',
    close: () => kysely.destroy(),
  };
}
