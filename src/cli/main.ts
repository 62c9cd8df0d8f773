import { parseArgs } from 'node:util';
import { type Config, ConfigError, type ConfigInput, loadConfig, sqliteFile } from '../config/index.ts';
import { SecretBoxError } from '../lib/index.ts';
import { createLogger } from '../log/index.ts';
import { checkDataDir, checkSqlitePath } from './check-dir.ts';
import { serve } from './serve.ts';
import { explainStartupError } from './startup-errors.ts';
import { splitTransferArgs } from './transfer-args.ts';

// The other commands' modules load when run, and so does the app: every process of `plinth serve` runs
// this file, and the primary of `--workers N` never builds an app (docs/benchmarks.md, "Start and idle
// memory").
const createApp: typeof import('../app.ts').createApp = async (...args) =>
  (await import('../app.ts')).createApp(...args);

const HELP = `plinth — an open-source backend in one command

Usage:
  plinth serve [--http 127.0.0.1:8090] [--dir ./plinth_data] [--db URL] [--redis URL] [--origins *]
               [--shutdown-timeout 30] [--workers N]
  plinth superuser upsert EMAIL PASSWORD [--dir DIR] [--db URL]
  plinth superuser create EMAIL PASSWORD [--dir DIR] [--db URL]
  plinth superuser delete EMAIL [--dir DIR] [--db URL]
  plinth superuser allow-any-ip [--dir DIR] [--db URL]   (clears superuserIPs)
  plinth collections export [FILE]                       (every collection as JSON)
  plinth collections import FILE [--delete-missing] [--dry-run] [--allow-destructive]
                       shows what changes, then applies it; data loss needs --allow-destructive
  plinth migrate up | down [N] | create NAME | collections | history-sync
               [--migrations-dir DIR] [--dir DIR] [--db URL]   (docs/migrations.md)
  plinth export COLLECTION [--format jsonl|csv] [--out FILE] [--filter EXPR] [--fields a,b] | --all --out DIR
  plinth import COLLECTION FILE|- [--format jsonl|csv] [--map old:new] [--drop col] [--default f=v]
                [--cast f:type] [--batch 500] [--dry-run] [--skip-invalid] [--resume]  (docs/data-transfer.md)
  plinth import --all DIR [--dry-run] [--skip-invalid] [--resume]  (what export --all wrote)
  plinth backup [NAME.zip] [--dir DIR] | plinth backup verify FILE | plinth restore FILE [--dir DIR]

Options:
  --http HOST:PORT     address to listen on (default 127.0.0.1:8090; env PLINTH_HTTP)
  --dir DIR            data directory (default ./plinth_data; env PLINTH_DIR)
  --db URL             database URL (default: embedded SQLite in DIR; env PLINTH_DB)
  --origins LIST       comma-separated CORS origins (default *; env PLINTH_ORIGINS)
  --shutdown-timeout S seconds a shutdown waits for in-flight requests (default 30;
                       env PLINTH_SHUTDOWN_TIMEOUT)
  --workers N          processes serving one port (default: the number of cores;
                       env PLINTH_WORKERS; docs/scale-out.md)
  --migrations-dir DIR app migrations (default plinth_migrations beside DIR;
                       env PLINTH_MIGRATIONS_DIR)
  --automigrate        write a migration for each collection change (development;
                       env PLINTH_AUTOMIGRATE)
  --config FILE        JSON config file (default ./plinth.config.json if present)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help           this text
  -v, --version        the version
`;

/** Runs the `plinth` command; returns the exit code (serve resolves only when the server stops). */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const { common, own } = splitTransferArgs(argv);
  try {
    parsed = parse(common);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write('plinth 0.1.0\n');
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(HELP);
    return positionals.length === 0 && !values.help ? 2 : 0;
  }
  const [command, ...rest] = positionals;
  const flags: ConfigInput & { config?: string } = {
    http: values.http,
    dir: values.dir,
    db: values.db,
    redis: values.redis,
    origins: values.origins,
    logLevel: values['log-level'],
    shutdownTimeout: values['shutdown-timeout'],
    workers: values.workers,
    migrationsDir: values['migrations-dir'],
    automigrate: values.automigrate,
    config: values.config,
  };
  let config: Config | undefined;
  try {
    config = loadConfig(flags);
    checkDataDir(config.dataDir);
    const sqlite = sqliteFile(config);
    if (sqlite) checkSqlitePath(sqlite);
    if (command === 'serve') return await serve(config);
    if (command === 'superuser' || command === 'collections') {
      const log = createLogger(values['log-level'] ?? 'warn');
      const app = await createApp(config, log);
      try {
        if (command === 'superuser') return await (await import('./superuser.ts')).superuser(app, rest);
        return await (await import('./collections.ts')).collectionsCommand(app, rest, {
          deleteMissing: values['delete-missing'] === true,
          dryRun: values['dry-run'] === true,
          allowDestructive: values['allow-destructive'] === true,
        });
      } finally {
        await app.close();
      }
    }
    if (command === 'migrate')
      return await (await import('./migrate.ts')).migrate(config, rest, () =>
        createApp(config!, createLogger(values['log-level'] ?? 'warn')),
      );
    if (command === 'export' || command === 'import')
      return await (await import('./transfer.ts')).runTransfer(
        config,
        command,
        [...rest, ...own],
        values['log-level'],
      );
    if (command === 'backup' || command === 'restore')
      return await (await import('./backup.ts')).backupCommand(command, rest, config, values['log-level']);
    process.stderr.write(`unknown command ${command}\n\n${HELP}`);
    return 2;
  } catch (err) {
    // A stored secret the configured encryption keys cannot open: the message says which key is missing.
    if (err instanceof ConfigError || err instanceof SecretBoxError || (await isKnownAppError(err))) {
      process.stderr.write(`plinth: ${(err as Error).message}\n`);
      return 1;
    }
    // Known start-up problems (port in use, database unreachable, data dir unusable): one line, no stack.
    const line = config && explainStartupError(err, config);
    if (line) {
      process.stderr.write(`plinth: ${line}.\n`);
      return 1;
    }
    throw err;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      http: { type: 'string' },
      dir: { type: 'string' },
      db: { type: 'string' },
      redis: { type: 'string' },
      origins: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      'shutdown-timeout': { type: 'string' },
      workers: { type: 'string' },
      'delete-missing': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'allow-destructive': { type: 'boolean' },
      'migrations-dir': { type: 'string' },
      automigrate: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}

/** A foreign table in the database or a failed migration: errors whose message is the whole story. */
async function isKnownAppError(err: unknown): Promise<boolean> {
  const [{ MigrationError }, { ForeignTablesError }] = await Promise.all([
    import('../migrations/index.ts'),
    import('../schema/index.ts'),
  ]);
  return err instanceof ForeignTablesError || err instanceof MigrationError;
}
