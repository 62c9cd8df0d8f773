import { type Config, sqliteFile } from '../config/index.ts';

/**
 * A start-up problem the operator can fix, worded as one line: `<problem>. <fix>`. The CLI prints it
 * after `plinth: ` and exits 1, with no stack trace.
 */
export class StartupError extends Error {}

const URL_HINT = 'the database URL (--db or PLINTH_DB)';
/** How pg words a connection that never completed (mysql2 says ETIMEDOUT). */
const CONNECT_TIMEOUT = /connection timeout|timeout exceeded when trying to connect|timeout expired/i;

/** Why listening on `host:port` failed, as one line, or undefined for an error that is not about it. */
export function explainListenError(err: unknown, host: string, port: number): string | undefined {
  const address = `${host}:${port}`;
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'EADDRINUSE':
      return `${address} is already in use by another process. Stop that process, or listen elsewhere with --http HOST:PORT (or PLINTH_HTTP)`;
    case 'EACCES':
      return `no permission to listen on ${address} (ports below 1024 need privileges). Use a port from 1024 up behind a reverse proxy, or grant CAP_NET_BIND_SERVICE`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine. Listen on one of its addresses, 127.0.0.1 or 0.0.0.0, with --http HOST:PORT`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve ${host}, the host to listen on. Use an IP address or a known host name in --http HOST:PORT`;
    default:
      return undefined;
  }
}

/**
 * Why the database or the data directory could not be opened, as one line, or undefined for an error
 * that is not one of the known start-up problems (which then keeps its stack trace: it is a bug).
 * Messages name the host, port, database and user from the URL, never the password, and never quote
 * a driver's message.
 */
export function explainStartupError(err: unknown, config: Config): string | undefined {
  if (err instanceof StartupError) return err.message;
  const e = (err ?? {}) as { code?: unknown; errcode?: unknown; message?: unknown; path?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number') return sqliteProblem(e.errcode, config);
  const server = describeServer(config.databaseUrl);
  if (server) {
    const at = `${server.host}:${server.port}`;
    if (code === 'ECONNREFUSED')
      return `cannot reach the ${server.engine} database at ${at} (connection refused). Start the database server, or fix the host and port in ${URL_HINT}`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      return `cannot resolve the database host ${server.host}. Fix the host name in ${URL_HINT}`;
    if (
      ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET'].includes(code) ||
      CONNECT_TIMEOUT.test(message)
    )
      return `the ${server.engine} database at ${at} did not answer (${code || 'timed out'}). Check that it is running and that no firewall blocks the port`;
    if (code === '3D000' || code === 'ER_BAD_DB_ERROR')
      return `the database "${server.database}" does not exist on ${at}. Create it (CREATE DATABASE ${server.database}) or fix its name in ${URL_HINT}`;
    if (
      ['28P01', '28000', 'ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR'].includes(code) ||
      /^SASL: .*password/.test(message)
    )
      return `the ${server.engine} server at ${at} refused user "${server.user}" (wrong user name or password, or not allowed from this host). Fix the credentials in ${URL_HINT}`;
    if (code === 'ER_DBACCESS_DENIED_ERROR' || code === '42501')
      return `user "${server.user}" may not create tables in the database "${server.database}" on ${at}. Grant it (GRANT ALL ON DATABASE, and on PostgreSQL ON SCHEMA public) or use the database's owner`;
  }
  return fileProblem(code, e.path);
}

function sqliteProblem(errcode: number, config: Config): string | undefined {
  const file = sqliteFile(config) ?? 'the SQLite database';
  switch (errcode & 0xff) {
    case 14: // SQLITE_CANTOPEN
      return `cannot open the SQLite database ${file}. Check that its directory exists and that this user may create and write files in it`;
    case 8: // SQLITE_READONLY
      return `the SQLite database ${file} is read-only. Give this user write permission on the file and its directory (SQLite writes -wal and -shm files beside it)`;
    case 26: // SQLITE_NOTADB
      return `${file} is not a SQLite database. Move it away, or point --dir or --db at a Plinth database`;
    case 11: // SQLITE_CORRUPT
      return `the SQLite database ${file} is damaged. Restore it from a backup`;
    case 13: // SQLITE_FULL
      return `the disk holding ${file} is full. Free some space`;
    case 5: // SQLITE_BUSY
      return `the SQLite database ${file} is locked by another process. Stop that process and start again`;
    default:
      return undefined;
  }
}

const FILE_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied. Give this user access, or choose another directory with --dir',
  EPERM: 'operation not permitted. Give this user access, or choose another directory with --dir',
  EROFS: 'the file system is read-only. Choose a writable directory with --dir',
  ENOSPC: 'the disk is full. Free some space',
  ENOTDIR: 'part of the path is a file, not a directory. Fix the path, or choose another with --dir',
  EEXIST: 'a file is in the way. Move it, or choose another directory with --dir',
};

function fileProblem(code: string, path: unknown): string | undefined {
  const problem = FILE_PROBLEMS[code];
  return problem && typeof path === 'string' ? `cannot use ${path}: ${problem}` : undefined;
}

/** Engine, host, port, database and user named by a server database URL; never its password. */
function describeServer(url: string) {
  const m = /^(postgres|postgresql|mysql|mariadb):/.exec(url);
  if (!m) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  const postgres = m[1]!.startsWith('postgres');
  return {
    engine: postgres ? 'PostgreSQL' : 'MySQL/MariaDB',
    host: u.hostname || 'localhost',
    port: Number(u.port || (postgres ? 5432 : 3306)),
    database: decodeURIComponent(u.pathname.slice(1)) || (postgres ? decodeURIComponent(u.username) : ''),
    user: decodeURIComponent(u.username) || (postgres ? 'the current OS user' : ''),
  };
}
