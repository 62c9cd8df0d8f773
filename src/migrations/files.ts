import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppMigration } from './types.ts';

/**
 * A migration that cannot be listed, loaded, run or written: its message names the file (or folder) and
 * the cause, and is what the CLI prints (no stack trace).
 */
export class MigrationError extends Error {}

/** Migration files: `.ts` or `.js`, not hidden (editors' and our own temporary files), not `.d.ts`. */
const FILE = /^[^.].*\.(ts|js)$/;
/** What `create NAME` accepts: a plain word, so that the file lands in the folder with a sane name. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** The migration files in `dir`, in name order (the order they apply in); none if it does not exist. */
export function listMigrationFiles(dir: string): string[] {
  let entries: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new MigrationError(`migrations dir ${dir} is not a folder`);
    entries = readdirSync(dir);
  } catch (err) {
    if (err instanceof MigrationError) throw err;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new MigrationError(`cannot read migrations dir ${dir}: ${(err as Error).message}`);
  }
  return entries.filter((f) => FILE.test(f) && !f.endsWith('.d.ts')).sort(compareFiles);
}

/**
 * Leading numbers (timestamps) compared as numbers, so `10000000000_x` follows `9999999999_y`; the rest
 * in plain code-unit order, not the locale's: every machine must apply them in the same order.
 */
export function compareFiles(a: string, b: string): number {
  const [, na = '', ra = ''] = /^0*(\d*)(.*)$/s.exec(a) ?? [];
  const [, nb = '', rb = ''] = /^0*(\d*)(.*)$/s.exec(b) ?? [];
  if (na.length !== nb.length) return na.length - nb.length;
  if (na !== nb) return na < nb ? -1 : 1;
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

let loads = 0;

/** Imports one migration file and checks its shape: a default export (or the module) with up and down. */
export async function loadMigration(dir: string, file: string): Promise<AppMigration> {
  let mod: Record<string, unknown>;
  try {
    // A fresh URL per load: a file edited since an earlier load in this process is read again.
    mod = await import(`${pathToFileURL(join(dir, file)).href}?load=${++loads}`);
  } catch (err) {
    throw new MigrationError(`migration ${file} could not be loaded: ${firstLine(err)}`);
  }
  const candidate = (mod.default ?? mod) as Partial<AppMigration> | null;
  if (typeof candidate?.up !== 'function' || typeof candidate.down !== 'function')
    throw new MigrationError(
      `migration ${file} must export default { up(m) {...}, down(m) {...} } (got ${describe(mod.default)})`,
    );
  return candidate as AppMigration;
}

/** The first line of an error's message: enough to find the fault, without a stack trace. */
export function firstLine(err: unknown): string {
  const text =
    err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
  return text.split('\n')[0]!.slice(0, 500);
}

function describe(value: unknown): string {
  if (value === undefined) return 'no default export';
  if (value === null) return 'null';
  return Array.isArray(value)
    ? 'an array'
    : typeof value === 'object'
      ? 'an object without up/down'
      : typeof value;
}

/** Checks a name given to `create` (a file name part, never a path). */
export function checkMigrationName(name: string): void {
  if (!NAME.test(name))
    throw new MigrationError(
      `invalid migration name ${JSON.stringify(name.slice(0, 120))}: use 1 to 100 letters, digits, _ or - (starting with a letter or digit)`,
    );
}

/**
 * The unix timestamp for a new file: now, or one past the newest file's if that is not earlier, so that
 * files written in the same second (or after a clock step back) still sort in the order they were made.
 */
export function nextTimestamp(dir: string, now = Date.now()): number {
  let newest = 0;
  for (const f of listMigrationFiles(dir)) {
    const m = /^(\d+)_/.exec(f);
    if (m) newest = Math.max(newest, Number(m[1]));
  }
  return Math.max(Math.floor(now / 1000), newest + 1);
}

/**
 * Writes a new file whole or not at all: into a hidden temporary file first, then linked to its name
 * (which fails if the name is taken), so neither a crash nor a clash leaves half a migration behind.
 */
export function writeMigrationFile(dir: string, file: string, text: string): string {
  const path = join(dir, file);
  const temp = join(dir, `.${file}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(temp, text, { flag: 'wx' });
    linkSync(temp, path);
  } catch (err) {
    throw new MigrationError(`cannot write migration ${path}: ${(err as Error).message}`);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      /* never made */
    }
  }
  return path;
}
