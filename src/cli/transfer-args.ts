import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

/** Where a command writes: its output and its messages (tests pass their own streams). */
export interface Io {
  out: Writable;
  err: Writable & { isTTY?: boolean };
}

/** The process's own streams. */
export const STDIO: Io = { out: process.stdout, err: process.stderr };

/** The options `main` parses for every command (they pick the data dir and database). */
const COMMON = new Set(['http', 'dir', 'db', 'redis', 'origins', 'config', 'log-level', 'shutdown-timeout']);

/**
 * Splits `plinth export|import ...` arguments into those `main` parses (the command word and the common
 * options) and the command's own, so that `main`'s fixed option list need not know this command's flags.
 * Other commands' arguments pass through whole.
 */
export function splitTransferArgs(argv: string[]): { common: string[]; own: string[] } {
  const common: string[] = [];
  const own: string[] = [];
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0]! : '';
    if (arg === '--help' || arg === '-h') common.push(arg);
    else if (COMMON.has(name)) {
      common.push(arg);
      if (!arg.includes('=') && i + 1 < argv.length) common.push(argv[++i]!);
    } else if (command === undefined && !arg.startsWith('-')) {
      command = arg;
      common.push(arg);
    } else if (command === 'export' || command === 'import') own.push(arg);
    else common.push(arg);
  }
  return { common, own };
}

/** `plinth export`'s own flags. */
export function parseExportArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      out: { type: 'string', short: 'o' },
      filter: { type: 'string' },
      fields: { type: 'string' },
      all: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
}

/** `plinth import`'s own flags. */
export function parseImportArgs(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      map: { type: 'string', multiple: true },
      drop: { type: 'string', multiple: true },
      default: { type: 'string', multiple: true },
      cast: { type: 'string', multiple: true },
      batch: { type: 'string' },
      'dry-run': { type: 'boolean' },
      resume: { type: 'boolean' },
      'skip-invalid': { type: 'boolean' },
      'max-errors': { type: 'string' },
      state: { type: 'string' },
      all: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
}

/** The flag values `plinth import` parsed. */
export type ImportFlags = ReturnType<typeof parseImportArgs>['values'];
