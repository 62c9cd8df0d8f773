import { createPool } from 'mysql2';
import pg from 'pg';

/** Connection pool sizes and timeouts: small enough for a shared server, big enough for one node's load. */
const POOL_MAX = 10;
const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 30_000;

/** A `pg` pool for a `postgres://` URL. Statements time out, so one stuck query cannot hold a connection. */
export function postgresPool(url: string): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: POOL_MAX,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idleTimeoutMillis: 30_000,
    statement_timeout: STATEMENT_TIMEOUT_MS,
  });
  // An idle client that loses its connection emits here; without a listener it would crash the process.
  pool.on('error', () => {});
  return pool;
}

/** A `mysql2` pool for a `mysql://` or `mariadb://` URL, speaking utf8mb4 with exact (binary) collation. */
export function mysqlPool(url: string) {
  const u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  const pool = createPool({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.slice(1)),
    connectionLimit: POOL_MAX,
    connectTimeout: CONNECT_TIMEOUT_MS,
    charset: 'utf8mb4_bin',
    supportBigNumbers: true,
    dateStrings: true,
  });
  // The same statement time limit as on PostgreSQL (MariaDB's variable, in seconds).
  pool.on('connection', (conn) => {
    conn.query(`SET SESSION max_statement_time = ${STATEMENT_TIMEOUT_MS / 1000}`, () => {});
  });
  return pool;
}
