import cluster from 'node:cluster';
import { createWorkerBus, createWorkerLock } from '../bus/index.ts';
import type { Config } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { type FromWorker, processChannel, type ToWorker } from './channels.ts';
import { capConnections } from './open-files.ts';
import { closeWithin, installerLink, startApp } from './start-app.ts';
import { workerMetrics } from './worker-metrics.ts';

/**
 * One worker process of `plinth serve --workers N` (the primary runs workers.ts). It serves the app as a
 * single process would, with three differences: the primary says when to start, and stops it with a
 * signal (a signal to this process alone stops it too, and the primary starts another); the bus and the counters
 * go through the primary unless Redis is configured; and a restore asks the primary to restart every
 * worker, since none may hold the database while the restored one is swapped in.
 */
export async function serveWorker(config: Config): Promise<number> {
  const worker = cluster.worker!;
  // From the start a signal asks for a stop: the primary stops a worker with SIGTERM (and ends it with
  // SIGKILL after a second signal of its own), and a terminal's Ctrl-C reaches every process of the
  // group. Either way the worker drains once; one still starting closes as soon as it is up.
  let stop: (why: string) => void = () => {};
  let stopAsked: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    stopAsked ??= signal;
    stop(signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const log = createLogger(config.logLevel).child({ worker: worker.id });
    const channel = processChannel();
    const send = (message: FromWorker) => channel.send(message);
    const start = await new Promise<Extract<ToWorker, { plinth: 'start' }>>((resolve) => {
      channel.onMessage((message) => {
        if ((message as ToWorker).plinth === 'start')
          resolve(message as Extract<ToWorker, { plinth: 'start' }>);
      });
      send({ plinth: 'hello' });
    });
    if (stopAsked) return 0;
    const app = await startApp(config, log, {
      workerBus: (onError) => createWorkerBus(channel, onError),
      writeLock: createWorkerLock(channel),
      sharedMetrics: workerMetrics(channel),
      finishRestore: start.first,
      reusePort: true,
    });
    const stopped = new Promise<number>((resolve) => {
      let stopping = false;
      stop = (why) => {
        if (stopping) return;
        stopping = true;
        log.info({ why, shutdownTimeout: config.shutdownTimeout }, 'worker shutting down');
        closeWithin(app, log, config.shutdownTimeout, `worker ${worker.id}'s shutdown`).then(resolve);
      };
    });
    if (stopAsked) stop(stopAsked);
    else {
      app.backups.onRestart = () => send({ plinth: 'restart' });
      const cap = capConnections(app.server.server, log);
      const installer = start.first ? await installerLink(app) : undefined;
      send({ plinth: 'ready', cap, installer });
    }
    return await stopped;
  } finally {
    // The signal handlers stay while the process ends: the primary passes on a stop's signal, which can
    // come after this worker has closed (it got the same signal from the terminal or the process group), and
    // Node's default for it would end the process there, before its exit handlers ran.
    // The channel to the primary keeps a worker alive: closing it lets the process end with its code.
    worker.disconnect();
  }
}
