import { parseArgs } from 'node:util';
import { createApp } from '../app.ts';
import { ConfigError, type ConfigInput, loadConfig } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { ForeignTablesError } from '../schema/index.ts';
import { serve } from './serve.ts';
import { superuser } from './superuser.ts';

const HELP = `plinth — an open-source backend in one command

Usage:
  plinth serve [--http 127.0.0.1:8090] [--dir ./plinth_data] [--db URL] [--origins *]
  plinth superuser upsert EMAIL PASSWORD [--dir DIR]
  plinth superuser create EMAIL PASSWORD [--dir DIR]
  plinth superuser delete EMAIL [--dir DIR]

Options:
  --http HOST:PORT     address to listen on (default 127.0.0.1:8090; env PLINTH_HTTP)
  --dir DIR            data directory (default ./plinth_data; env PLINTH_DIR)
  --db URL             database URL (default: embedded SQLite in DIR; env PLINTH_DB)
  --origins LIST       comma-separated CORS origins (default *; env PLINTH_ORIGINS)
  --config FILE        JSON config file (default ./plinth.config.json if present)
  --log-level LEVEL    fatal|error|warn|info|debug|trace|silent (default info)
  -h, --help           this text
  -v, --version        the version
`;

/** Runs the `plinth` command; returns the exit code (serve resolves only when the server stops). */
export async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
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
    origins: values.origins,
    logLevel: values['log-level'],
    config: values.config,
  };
  try {
    const config = loadConfig(flags);
    if (command === 'serve') return await serve(config);
    if (command === 'superuser') {
      const log = createLogger(values['log-level'] ?? 'warn');
      const app = await createApp(config, log);
      try {
        return await superuser(app, rest);
      } finally {
        await app.close();
      }
    }
    process.stderr.write(`unknown command ${command}\n\n${HELP}`);
    return 2;
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ForeignTablesError) {
      process.stderr.write(`plinth: ${err.message}\n`);
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
      origins: { type: 'string' },
      config: { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
}
