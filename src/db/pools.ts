import type { Pool } from 'pg';
import { lazyPackage } from '../lib/index.ts';

const pg = lazyPackage<typeof import('pg')>('pg');
const mysql = lazyPackage<typeof import('mysql2')>('mysql2');

/** Connections per node's pool: small enough for a shared server, big enough for one node's load. */
export const POOL_MAX = 10;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Time limits of a pool's statements (see `DatabaseOptions.queryTimeoutMs`); 0 for none (the pool schema
 * changes run on: a column added to a big table may take minutes).
 */
export interface PoolLimits {
  /** The server stops a statement that runs longer. */
  statementTimeoutMs: number;
  /**
   * The client stops waiting for an answer after this long, so that a hung database (or network) does not
   * hang requests: a little longer than the server's own limit, which normally answers first.
   */
  clientTimeoutMs: number;
}

/** A `pg` pool for a `postgres://` URL. */
export function postgresPool(url: string, limits: PoolLimits, max = POOL_MAX): Pool {
  const pool = new (pg().Pool)({
    connectionString: url,
    max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    // 0 is left out: the server's default (none).
    statement_timeout: limits.statementTimeoutMs || undefined,
    query_timeout: limits.clientTimeoutMs || undefined,
    keepAlive: true,
  });
  // An idle client that loses its connection emits here; without a listener it would crash the process.
  pool.on('error', () => {});
  // So does a client checked out between two statements (in a transaction, or hung and then cut off when
  // the server goes): the pool listens only to idle ones. Its next statement fails, and that error is the
  // one that is reported (a 503); released, the client is dropped, not reused (pg-pool checks).
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** A `mysql2` pool for a `mysql://` or `mariadb://` URL, speaking utf8mb4 with exact (binary) collation. */
export function mysqlPool(url: string, limits: PoolLimits, max = POOL_MAX) {
  const u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const pool = mysql().createPool({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
    connectionLimit: max,
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'utf8mb4_bin',
    supportBigNumbers: true,
    dateStrings: true,
    enableKeepAlive: true,
  });
  // The same statement time limit as on PostgreSQL (MariaDB's variable, in seconds).
  pool.on('connection', (conn) => {
    if (limits.statementTimeoutMs)
      conn.query(`SET SESSION max_statement_time = ${limits.statementTimeoutMs / 1000}`, () => {});
    if (limits.clientTimeoutMs) withClientTimeout(conn, limits.clientTimeoutMs);
  });
  return pool;
}

/** mysql2 has no pool-wide query timeout: every query on this connection gets one unless it sets its own. */
function withClientTimeout(conn: object, timeout: number): void {
  const target = conn as { query: (...args: unknown[]) => unknown };
  const query = target.query.bind(conn);
  target.query = (first: unknown, ...rest: unknown[]) => {
    if (typeof first === 'string') return query({ sql: first, timeout }, ...rest);
    if (first && Object.getPrototypeOf(first) === Object.prototype && !('timeout' in (first as object)))
      return query({ ...(first as object), timeout }, ...rest);
    return query(first, ...rest);
  };
}
