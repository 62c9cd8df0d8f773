import type { App } from '../app.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { banner } from './banner.ts';
import { capConnections } from './open-files.ts';
import { closeWithin, installerLink, startApp } from './start-app.ts';

/** `plinth serve` as one process (`--workers 1`). */
export async function serveAlone(config: Config, log: Logger): Promise<number> {
  // A restore (docs/backups.md) closes the app and opens it again on the restored data, in this process.
  for (;;) {
    const outcome = await serveOnce(config, log);
    if (outcome !== 'restart') return outcome;
    log.warn('reopening after a restore');
  }
}

async function serveOnce(config: Config, log: Logger): Promise<number | 'restart'> {
  const app = await startApp(config, log);
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
  process.stdout.write(banner(config, cap));
  const installer = await installerLink(app);
  if (installer) process.stdout.write(installer);
  return stopped;
}

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
      closeWithin(app, log, timeoutSeconds, 'shutdown').then(resolve);
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
