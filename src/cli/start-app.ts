import { resolve } from 'node:path';
import type { FastifyListenOptions } from 'fastify';
import { type App, type AppOptions, createApp } from '../app.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { CLOSE_GRACE_SECONDS } from './banner.ts';
import { explainListenError, StartupError } from './startup-errors.ts';

/**
 * Builds the app, applies pending app migrations and listens. As PocketBase does: pending app migrations
 * first (each under the schema lock, so nodes starting together apply each once), and no request sees the
 * schema half-way. Closes what it opened when it fails.
 */
export async function startApp(
  config: Config,
  log: Logger,
  options?: AppOptions & {
    /**
     * Each worker binds a socket of its own to the port (SO_REUSEPORT) and the kernel spreads new
     * connections over them: the primary stays out of every connection, and one that a dying worker had
     * not accepted yet is refused rather than left hanging.
     */
    reusePort?: boolean;
  },
): Promise<App> {
  const app = await createApp(config, log, options);
  try {
    await app.migrations.up((file) => log.info({ file }, 'applied app migration'));
  } catch (err) {
    await app.close();
    throw err;
  }
  try {
    // Node's own option, which Fastify passes on but does not declare.
    const listen: FastifyListenOptions & { reusePort?: boolean } = {
      host: config.host,
      port: config.port,
      reusePort: options?.reusePort,
    };
    await app.server.listen(listen);
  } catch (err) {
    await app.close();
    const line = explainListenError(err, config.host, config.port);
    throw line ? new StartupError(line) : err;
  }
  return app;
}

/**
 * Closes the app (the drain, then the rest); resolves with the exit code. A backstop ends the process if
 * closing hangs after the drain (a database that never answers).
 */
export function closeWithin(app: App, log: Logger, timeoutSeconds: number, what: string): Promise<number> {
  setTimeout(
    () => {
      process.stderr.write(`plinth: ${what} did not finish in time; exiting.\n`);
      process.exit(1);
    },
    (timeoutSeconds + CLOSE_GRACE_SECONDS) * 1000,
  ).unref();
  return app.close().then(
    () => 0,
    (err) => {
      log.error({ err }, `${what} failed`);
      return 1;
    },
  );
}

/**
 * The lines that hand out the installer link while there is no superuser, else undefined. Printed to the
 * terminal, deliberately not to the structured log: the link is a credential. A signal may already have
 * closed the database: then there is no link to print, and no error.
 */
export async function installerLink(app: App): Promise<string | undefined> {
  const installer = await app.auth.installerToken().catch((err: unknown) => {
    if (app.server.drain.draining) return undefined;
    throw err;
  });
  if (!installer) return undefined;
  return `No superuser yet. Create the first one within 30 minutes at:\n  ${app.config.appUrl}/_/#/pbinstall/${installer}\nor run: ${upsertCommand(app.config)}\n\n`;
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
