import type { App } from '../app.ts';
import type { Config } from '../config/index.ts';
import { ApiError } from '../errors/index.ts';
import {
  blankMigration,
  checkMigrationName,
  MigrationError,
  nextTimestamp,
  writeMigrationFile,
  writeSnapshot,
} from '../migrations/index.ts';

const USAGE = 'usage: plinth migrate up | down [N] | create NAME | collections | history-sync\n';

/** The most `down` reverts at once: a typo of many digits should not read as "all of them, forever". */
const MAX_DOWN = 100_000;

/** Where a command writes: the process's streams, or a test's buffers. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * `plinth migrate ...` (docs/migrations.md). `create` needs no database; the others open the app with
 * `openApp` and close it again. A migration that fails prints its file and error and exits 1.
 */
export async function migrate(
  config: Config,
  args: string[],
  openApp: () => Promise<App>,
  io: Output = STDIO,
): Promise<number> {
  const [action, arg, ...extra] = args;
  const dir = config.migrationsDir;
  const wants = { up: 0, down: 1, create: 1, collections: 0, 'history-sync': 0 } as Record<string, number>;
  if (!action || !(action in wants) || extra.length || (arg !== undefined && wants[action] === 0)) {
    io.err(USAGE);
    return 2;
  }
  try {
    if (action === 'create') {
      if (arg === undefined) {
        io.err(USAGE);
        return 2;
      }
      checkMigrationName(arg);
      const path = writeMigrationFile(dir, `${nextTimestamp(dir)}_${arg}.ts`, blankMigration(dir));
      io.out(`Created ${path}\n`);
      return 0;
    }
    let n = 1;
    if (action === 'down' && arg !== undefined) {
      n = /^\d{1,6}$/.test(arg) ? Number(arg) : 0;
      if (n < 1 || n > MAX_DOWN) {
        io.err(
          `plinth: down takes a number of migrations from 1 to ${MAX_DOWN}, got ${JSON.stringify(arg.slice(0, 40))}\n`,
        );
        return 2;
      }
    }
    const app = await openApp();
    try {
      return await run(app, action, n, dir, io.out);
    } finally {
      await app.close();
    }
  } catch (err) {
    if (err instanceof MigrationError || err instanceof ApiError) {
      io.err(`plinth: ${err.message}${details(err)}\n`);
      return 1;
    }
    throw err;
  }
}

async function run(
  app: App,
  action: string,
  n: number,
  dir: string,
  say: (text: string) => void,
): Promise<number> {
  const runner = app.migrations;
  if (action === 'up') {
    const applied = await runner.up((file) => say(`Applied ${file}\n`));
    say(applied.length ? `${applied.length} migration(s) applied.\n` : 'No migrations to apply.\n');
  } else if (action === 'down') {
    const reverted = await runner.down(n, (file) => say(`Reverted ${file}\n`));
    if (!reverted.length) say('No migrations to revert.\n');
    else if (reverted.length < n) say(`Only ${reverted.length} migration(s) were applied; all reverted.\n`);
  } else if (action === 'collections') {
    say(`Created ${await writeSnapshot({ collections: app.collections, runner, dir })}\n`);
  } else {
    const gone = await runner.historySync();
    for (const file of gone) say(`Forgot ${file}\n`);
    say(gone.length ? `${gone.length} record(s) of missing files removed.\n` : 'History is in sync.\n');
  }
  return 0;
}

/** An ApiError's field errors (a collection change a migration made that did not validate), one a line. */
function details(err: Error): string {
  const source = err instanceof ApiError ? err : err.cause instanceof ApiError ? err.cause : undefined;
  const text = source ? JSON.stringify(source.data) : '{}';
  return text === '{}' ? '' : `\n  ${text.slice(0, 1000)}`;
}
