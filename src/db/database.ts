import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CompiledQuery, Kysely, type Transaction } from 'kysely';
import type { Logger } from '../log/index.ts';
import type { SqlDialect } from './dialect.ts';
import { sqliteDialect } from './dialects/sqlite.ts';
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
  transaction<T>(fn: (trx: AnyTrx) => Promise<T>): Promise<T>;
  /** Runs SQL that was compiled once at start-up (hot paths), with fresh parameters. */
  run<R>(executor: Executor, sql: string, params: readonly unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  dataDir: string;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  log: Logger;
}

/** Opens the configured engine. PostgreSQL and MySQL arrive with the engines issue. */
export function createDatabase(options: DatabaseOptions): Database {
  const url = options.url;
  if (url && !url.startsWith('sqlite:')) {
    throw new Error(`database engine of ${url.split(':')[0]} is not supported yet; only embedded SQLite is`);
  }
  mkdirSync(options.dataDir, { recursive: true });
  const file = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : join(options.dataDir, 'data.db');
  const dialect = new NodeSqliteDialect(() => openSqlite(file, options.sqliteSynchronous));
  const kysely = new Kysely({ dialect });
  return wrap(kysely, sqliteDialect, (sql, params) => dialect.driver?.runNow(sql, params)?.rows);
}

/** A synchronous shortcut for one statement outside transactions; undefined when it cannot run now. */
type RunNow = (sql: string, params: readonly unknown[]) => unknown[] | undefined;

function wrap(kysely: AnyDb, dialect: SqlDialect, runNow?: RunNow): Database {
  return {
    kysely,
    dialect,
    transaction: (fn) => kysely.transaction().execute(fn),
    async run<R>(executor: Executor, sql: string, params: readonly unknown[]) {
      const now = executor === kysely ? runNow?.(sql, params) : undefined;
      if (now) return now as R[];
      const result = await executor.executeQuery<R>(CompiledQuery.raw(sql, params as unknown[]));
      return result.rows;
    },
    close: () => kysely.destroy(),
  };
}
