import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from './config.ts';

/** The key file made in the data dir when no `encryptionKey` is configured (see encryption-key.ts). */
export const KEY_FILE = 'encryption.key';

/** Files in the data dir that hold secrets; each is kept at 0600. */
const SECRET_FILES = [KEY_FILE, 'jwt_keys.json'];

/**
 * Makes the data dir private before anything is written to it: the directory 0700 and the SQLite
 * database 0600, created here before SQLite opens it, because the database holds password hashes,
 * sessions and (encrypted) secrets, and SQLite gives its `-wal` and `-shm` files the database file's
 * mode. An existing directory or file open to other users is tightened, with a line for the log; one
 * that cannot be changed (not ours) is reported and left. Modes are set with chmod after creating, so
 * no umask can loosen them.
 */
export function prepareDataDir(
  config: Pick<Config, 'dataDir' | 'databaseUrl'>,
  warn: (message: string) => void,
): void {
  const dir = config.dataDir;
  if (existsSync(dir)) {
    // Not a directory: left alone, for the database to fail on with its own error.
    if (isDirectory(dir)) restrict(dir, 0o700, warn);
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  const database = sqliteFile(config);
  if (database && isDirectory(dirname(database))) {
    // A file the URL names is tightened only if it is a SQLite database (or empty): a mistyped path must
    // not change the mode of some other file before SQLite refuses it.
    if (existsSync(database)) {
      if (isSqliteFile(database)) restrict(database, 0o600, warn);
    } else {
      closeSync(openSync(database, 'a', 0o600));
      chmodSync(database, 0o600);
    }
    for (const suffix of ['-wal', '-shm', '-journal'])
      if (existsSync(database + suffix)) restrict(database + suffix, 0o600, warn);
  }
  for (const name of SECRET_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) restrict(path, 0o600, warn);
  }
}

/** The SQLite file the config points at, or undefined for a server database or an in-memory one. */
export function sqliteFile(config: Pick<Config, 'dataDir' | 'databaseUrl'>): string | undefined {
  const url = config.databaseUrl;
  if (!url) return join(config.dataDir, 'data.db');
  if (!url.startsWith('sqlite:')) return undefined;
  const path = url.slice('sqlite:'.length);
  return path && path !== ':memory:' && !path.startsWith('file:') ? path : undefined;
}

const isDirectory = (path: string) => existsSync(path) && statSync(path).isDirectory();

const SQLITE_HEADER = 'SQLite format 3\u0000';

/** True for an empty regular file or one that starts with SQLite's header. */
function isSqliteFile(path: string): boolean {
  const stat = statSync(path);
  if (!stat.isFile()) return false;
  if (stat.size === 0) return true;
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(16);
    readSync(fd, head, 0, 16, 0);
    return head.toString('latin1') === SQLITE_HEADER;
  } finally {
    closeSync(fd);
  }
}

/** Removes group and other permissions beyond `mode` from an existing path. */
function restrict(path: string, mode: number, warn: (message: string) => void): void {
  const current = statSync(path).mode & 0o777;
  if ((current & ~mode) === 0) return;
  const octal = (m: number) => `0${m.toString(8)}`;
  try {
    chmodSync(path, current & mode);
    warn(`${path} was open to other users (mode ${octal(current)}); changed to ${octal(current & mode)}`);
  } catch (err) {
    warn(
      `${path} is open to other users (mode ${octal(current)}) and could not be changed: ${(err as Error).message}`,
    );
  }
}
