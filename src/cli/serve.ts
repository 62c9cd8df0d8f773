import { createApp } from '../app.ts';
import type { Config } from '../config/index.ts';
import { createLogger } from '../log/index.ts';

/** `plinth serve`: listens until SIGTERM/SIGINT, then drains in-flight requests and closes the database. */
export async function serve(config: Config): Promise<number> {
  const log = createLogger(config.logLevel);
  const app = await createApp(config, log);
  await app.server.listen({ host: config.host, port: config.port });
  const base = config.appUrl;
  process.stdout.write(
    `\nPlinth is listening on http://${config.host}:${config.port}\n  REST API:  ${base}/api/\n  Dashboard: ${base}/_/\n  Data:      ${config.dataDir}\n\n`,
  );
  const installer = await app.auth.installerToken();
  if (installer) {
    // Printed to the terminal, deliberately not to the structured log: it is a credential.
    process.stdout.write(
      `No superuser yet. Create the first one within 30 minutes at:\n  ${base}/_/#/pbinstall/${installer}\nor run: npx plinth superuser upsert EMAIL PASSWORD\n\n`,
    );
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      app.close().then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
