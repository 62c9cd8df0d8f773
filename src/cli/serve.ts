import { resolve } from 'node:path';
import { type App, createApp } from '../app.ts';
import type { Config } from '../config/index.ts';
import { createLogger, type Logger } from '../log/index.ts';
import { capConnections } from './open-files.ts';
import { explainListenError, StartupError } from './startup-errors.ts';

/** Seconds past the drain deadline that closing the rest (database, mail) may take before the process quits. */
const CLOSE_GRACE_SECONDS = 10;

/**
 * `plinth serve`: listens until SIGTERM/SIGINT, then drains in-flight requests for up to
 * `shutdownTimeout` seconds and closes the database. A second signal exits at once.
 */
export async function serve(config: Config): Promise<number> {
  const log = createLogger(config.logLevel);
  // A restore (docs/backups.md) closes the app and opens it again on the restored data, in this process.
  for (;;) {
    const outcome = await serveOnce(config, log);
    if (outcome !== 'restart') return outcome;
    log.warn('reopening after a restore');
  }
}

async function serveOnce(config: Config, log: Logger): Promise<number | 'restart'> {
  const app = await createApp(config, log);
  try {
    // As PocketBase does: pending app migrations first (each under the schema lock, so nodes starting
    // together apply each once), and no request sees the schema half-way.
    await app.migrations.up((file) => log.info({ file }, 'applied app migration'));
  } catch (err) {
    await app.close();
    throw err;
  }
  try {
    await app.server.listen({ host: config.host, port: config.port });
  } catch (err) {
    await app.close();
    const line = explainListenError(err, config.host, config.port);
    throw line ? new StartupError(line) : err;
  }
  // From here a signal drains and closes (before, Node's default ends the process, which is safe).
  const signals = stopOnSignal(app, log, config.shutdownTimeout);
  const restart = new Promise<'restart'>((resolve) => {
    app.backups.onRestart = () => {
      signals.dispose();
      app.close().then(
        () => resolve('restart'),
        (err) => {
          log.error({ err }, 'closing for a restore failed');
          resolve('restart');
        },
      );
    };
  });
  const stopped = Promise.race([signals.stopped, restart]);
  const cap = capConnections(app.server.server, log);
  const base = config.appUrl;
  process.stdout.write(
    `\nPlinth is listening on http://${config.host}:${config.port}\n  REST API:  ${base}/api/\n  Dashboard: ${base}/_/\n  Data:      ${config.dataDir}\n${
      cap ? `  Connections: at most ${cap} (open-file limit)\n` : ''
    }\n`,
  );
  // A signal may already have closed the database: then there is no link to print, and no error.
  const installer = await app.auth.installerToken().catch((err: unknown) => {
    if (app.server.drain.draining) return undefined;
    throw err;
  });
  if (installer) {
    // Printed to the terminal, deliberately not to the structured log: it is a credential.
    process.stdout.write(
      `No superuser yet. Create the first one within 30 minutes at:\n  ${base}/_/#/pbinstall/${installer}\nor run: ${upsertCommand(config)}\n\n`,
    );
  }
  return stopped;
}

/**
 * The `superuser upsert` command that reaches this server's database: with the same `--dir` and `--db`
 * (a password in the URL is not printed: the operator has it, and terminals get logged).
 */
export function upsertCommand(config: Pick<Config, 'dataDir' | 'databaseUrl'>): string {
  const parts = ['npx plinth superuser upsert EMAIL PASSWORD'];
  if (config.dataDir !== resolve('plinth_data')) parts.push(`--dir ${shellWord(config.dataDir)}`);
  if (config.databaseUrl) parts.push(`--db ${shellWord(withoutPassword(config.databaseUrl))}`);
  return parts.join(' ');
}

function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = 'PASSWORD';
    return u.toString();
  } catch {
    return url;
  }
}

/** Quoted for a POSIX shell when it holds anything but plain path and URL characters. */
const shellWord = (text: string) =>
  /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;

/** `stopped` resolves with the exit code once a signal has stopped the app; `dispose` stops listening. */
function stopOnSignal(
  app: App,
  log: Logger,
  timeoutSeconds: number,
): { stopped: Promise<number>; dispose(): void } {
  let dispose = () => {};
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        // An operator pressing Ctrl-C twice, or a supervisor in a hurry: do not wait for the drain.
        process.stderr.write(`plinth: ${signal} again: exiting without waiting for requests to finish.\n`);
        process.exit(1);
      }
      stopping = true;
      log.info({ signal, shutdownTimeout: timeoutSeconds }, 'shutting down');
      // A backstop: even if closing hangs after the drain (a database that never answers), the process ends.
      setTimeout(
        () => {
          process.stderr.write('plinth: shutdown did not finish in time; exiting.\n');
          process.exit(1);
        },
        (timeoutSeconds + CLOSE_GRACE_SECONDS) * 1000,
      ).unref();
      app.close().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    dispose = () => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    };
  });
  return { stopped, dispose };
}
