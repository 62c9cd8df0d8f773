import { type App, createApp } from '../app.ts';
import type { Config } from '../config/index.ts';
import { ApiError } from '../errors/index.ts';
import { createLogger } from '../log/index.ts';
import { TransferError } from '../transfer/index.ts';
import { exportCommand } from './export.ts';
import { importCommand } from './import.ts';
import { type Io, STDIO } from './transfer-args.ts';

export { splitTransferArgs } from './transfer-args.ts';

/**
 * `plinth export` and `plinth import` against the configured data dir or database (a running server may
 * share it). Problems with the input or the flags are one line on stderr and exit 1, never a stack.
 */
export async function runTransfer(
  config: Config,
  command: 'export' | 'import',
  args: string[],
  logLevel = 'warn',
): Promise<number> {
  const app = await createApp(config, createLogger(logLevel));
  try {
    return await transferWithApp(app, command, args);
  } finally {
    await app.close();
  }
}

/** Runs the command on an app already made (tests pass theirs, and their own streams). */
export async function transferWithApp(
  app: App,
  command: 'export' | 'import',
  args: string[],
  io: Io = STDIO,
): Promise<number> {
  try {
    return command === 'export' ? await exportCommand(app, args, io) : await importCommand(app, args, io);
  } catch (err) {
    if (err instanceof TransferError || err instanceof ApiError) {
      io.err.write(`plinth ${command}: ${err.message}\n`);
      return 1;
    }
    // A file that cannot be opened, read or written (ENOENT, EACCES, EISDIR...): the system's one line.
    if ((err as NodeJS.ErrnoException).syscall) {
      io.err.write(`plinth ${command}: ${(err as Error).message}\n`);
      return 1;
    }
    // parseArgs: an unknown flag or a missing value.
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`plinth ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
