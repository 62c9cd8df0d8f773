import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { StartupError } from './startup-errors.ts';

/**
 * Kernel file systems: files there are not storage, and reading or opening some of them blocks for
 * ever (a terminal, a pipe, /proc/kmsg). Paths under them are refused before any call that opens.
 */
const SYSTEM_ROOTS = ['/proc', '/sys', '/dev'];

const ELSEWHERE = 'choose another with --dir (or PLINTH_DIR)';
const DIR_HINT = `C${ELSEWHERE.slice(1)}`;

/**
 * Checks, before Plinth touches it, that the data directory can be used: not on a kernel file system,
 * a directory (or creatable as one), and writable by this user. Only stat, realpath and access are
 * called, none of which opens a file. Throws a StartupError naming the problem and the fix.
 */
export function checkDataDir(dir: string): void {
  const path = resolve(dir);
  refuseSystemPath(path, 'the data directory');
  const existing = nearestExisting(path);
  refuseSystemPath(realpathSync(existing), 'the data directory');
  const isDir = statSync(existing).isDirectory();
  if (existing === path) {
    if (!isDir) throw new StartupError(`the data directory ${path} is a file, not a directory. ${DIR_HINT}`);
    if (!writable(path))
      throw new StartupError(
        `the data directory ${path} is not writable by this user. Make this user its owner (chown), or ${ELSEWHERE}`,
      );
    return;
  }
  if (!isDir)
    throw new StartupError(
      `cannot create the data directory ${path}: ${existing} is a file, not a directory. ${DIR_HINT}`,
    );
  if (!writable(existing))
    throw new StartupError(
      `cannot create the data directory ${path}: this user may not write in ${existing}. Create it for this user first, or ${ELSEWHERE}`,
    );
}

/** Refuses a SQLite file (from a `sqlite:` URL) on a kernel file system, where opening it could block. */
export function checkSqlitePath(file: string): void {
  const path = resolve(file);
  refuseSystemPath(path, 'the SQLite database');
  refuseSystemPath(realpathSync(nearestExisting(path)), 'the SQLite database');
}

function refuseSystemPath(path: string, what: string): void {
  const root = SYSTEM_ROOTS.find((r) => path === r || path.startsWith(`${r}/`));
  if (root)
    throw new StartupError(
      `${what} ${path} is under ${root}, a kernel file system, not storage. Use a directory on a disk, e.g. /var/lib/plinth`,
    );
}

/**
 * The path itself or its closest ancestor that exists (stat follows links; it never opens). A file in
 * the middle of the path (ENOTDIR) counts as missing, so the file is found and named; other errors
 * (EACCES) propagate, and the CLI words them.
 */
function nearestExisting(path: string): string {
  let p = path;
  while (!exists(p)) {
    const parent = dirname(p);
    if (parent === p) break;
    p = parent;
  }
  return p;
}

function exists(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false }) !== undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw err;
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
