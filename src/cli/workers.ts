import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createBusHub } from '../bus/index.ts';
import type { Config } from '../config/index.ts';
import type { Logger } from '../log/index.ts';
import { banner, CLOSE_GRACE_SECONDS } from './banner.ts';
import { type FromWorker, workerChannel } from './channels.ts';
import { explainListenError, StartupError } from './startup-errors.ts';
import { metricsGatherer } from './worker-metrics.ts';

/** A worker that ended right after it started waits this long before the next one, doubling to the max. */
const RESPAWN_FIRST_MS = 250;
const RESPAWN_MAX_MS = 8000;
/** A worker that ran this long before it ended is not counted as crashing in a loop. */
const STABLE_MS = 30_000;

/**
 * Workers share the port through SO_REUSEPORT, which Linux grants to any process of the same user that
 * asks: a second `plinth serve` started on the port would quietly take half its connections. So the port
 * must be free before the first worker binds it (config.ts keeps port 0 to one worker).
 */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0)
    throw new StartupError('several workers need a fixed port: give --http HOST:PORT a port, or --workers 1');
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (err) => {
      const line = explainListenError(err, host, port);
      reject(line ? new StartupError(line) : err);
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

class ExitedBeforeReady extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`a worker exited with code ${code} before it answered`);
    this.code = code;
  }
}

/**
 * The primary process of `plinth serve --workers N`: it opens no database and serves no request. It
 * starts the first worker alone (it applies pending migrations and finishes a staged restore before the
 * others open the database), then the rest; each binds the port itself and the kernel spreads new
 * connections over them. It relays the workers' bus messages and keeps their shared counters (src/bus/ipc.ts),
 * starts a new worker when one ends unasked, restarts them all for a restore, and on SIGTERM/SIGINT has
 * each drain and close; a second signal ends them at once.
 */
export async function superviseWorkers(config: Config, log: Logger): Promise<number> {
  await checkPortFree(config.host, config.port);
  const hub = createBusHub();
  const live = new Map<Worker, ReturnType<typeof workerChannel>>();
  const metrics = metricsGatherer(() => [...live.values()]);
  const exits: (() => void)[] = [];
  let phase: 'starting' | 'running' | 'restarting' | 'stopping' = 'starting';
  // A function, so that TypeScript does not take the phase for what it was set to before an await.
  const stopping = () => phase === 'stopping';
  let worstExit = 0;
  let respawnDelay = RESPAWN_FIRST_MS;

  /** Starts one worker; resolves once it answers, with what it said then. */
  const fork = (first: boolean) =>
    new Promise<Extract<FromWorker, { plinth: 'ready' }>>((resolve, reject) => {
      const worker = cluster.fork();
      const channel = workerChannel(worker);
      const startedAt = Date.now();
      let ready = false;
      live.set(worker, channel);
      hub.attach(channel);
      channel.onMessage((message) => {
        const m = message as FromWorker;
        if (m.plinth === 'hello') channel.send({ plinth: 'start', first });
        else if (m.plinth === 'ready') {
          ready = true;
          resolve(m);
        } else if (m.plinth === 'restart') void restartAll();
        else if (m.plinth === 'metrics.ask') metrics.ask(channel, m.id);
        else if (m.plinth === 'metrics.part') metrics.part(m.id, m.metrics);
      });
      worker.once('exit', (code, signal) => {
        live.delete(worker);
        // One that the stop's SIGTERM ended before its handlers were in place stopped as asked.
        const asked = signal === 'SIGTERM' && (phase === 'stopping' || phase === 'restarting');
        const status = code ?? (asked ? 0 : 1);
        if (phase === 'stopping' || phase === 'restarting') worstExit = Math.max(worstExit, status);
        for (const wake of exits.splice(0)) wake();
        if (!ready) reject(new ExitedBeforeReady(status));
        else if (phase === 'running') {
          if (Date.now() - startedAt > STABLE_MS) respawnDelay = RESPAWN_FIRST_MS;
          log.error({ worker: worker.id, code, signal }, 'a worker ended; starting another');
          void replace();
        }
      });
    });

  /** Starts a worker in place of one that ended, again and again while they fail to start. */
  const replace = async () => {
    while (phase === 'running') {
      await sleep(respawnDelay);
      respawnDelay = Math.min(respawnDelay * 2, RESPAWN_MAX_MS);
      if (phase !== 'running') return;
      try {
        await fork(false);
        return;
      } catch (err) {
        log.error({ err }, 'a new worker failed to start');
      }
    }
  };

  const allExited = async () => {
    while (live.size) await new Promise<void>((wake) => exits.push(wake));
  };

  const signalAll = (signal: NodeJS.Signals) => {
    for (const worker of live.keys()) worker.process.kill(signal);
  };

  /** The first worker, then the others together. Answers the first's exit code if it fails to start. */
  const startAll = async (announce: boolean): Promise<number | undefined> => {
    phase = 'starting';
    let first: Extract<FromWorker, { plinth: 'ready' }>;
    try {
      first = await fork(true);
    } catch (err) {
      // A signal that came while it started ended it: that is a stop, which `finished` reports.
      if (err instanceof ExitedBeforeReady) return stopping() ? undefined : err.code || 1;
      throw err;
    }
    const others = await Promise.allSettled(Array.from({ length: config.workers - 1 }, () => fork(false)));
    if (phase !== 'starting') return undefined;
    for (const outcome of others)
      if (outcome.status === 'rejected') log.error({ err: outcome.reason }, 'a worker failed to start');
    phase = 'running';
    // Workers that failed to start are tried again, as one that ends later would be.
    for (const outcome of others) if (outcome.status === 'rejected') void replace();
    if (announce) process.stdout.write(banner(config, first.cap, config.workers) + (first.installer ?? ''));
    return undefined;
  };

  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const restartAll = async () => {
    if (phase !== 'running') return;
    phase = 'restarting';
    log.warn('restarting every worker on the restored data');
    signalAll('SIGTERM');
    await allExited();
    if (phase !== 'restarting') return;
    worstExit = 0;
    const failed = await startAll(false);
    if (failed !== undefined) finish(failed);
    // A warning like the one that began it, so that whoever reads warnings sees the restart end.
    else if (!stopping()) log.warn('every worker restarted on the restored data');
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (phase === 'stopping') {
      process.stderr.write(`plinth: ${signal} again: exiting without waiting for requests to finish.\n`);
      signalAll('SIGKILL');
      finish(1);
      return;
    }
    phase = 'stopping';
    log.info({ signal, shutdownTimeout: config.shutdownTimeout }, 'shutting down');
    // Each worker has the same deadline and backstop; this one covers a worker that hangs anyway.
    setTimeout(
      () => {
        process.stderr.write('plinth: the workers did not shut down in time; ending them.\n');
        signalAll('SIGKILL');
        finish(1);
      },
      (config.shutdownTimeout + CLOSE_GRACE_SECONDS + 5) * 1000,
    ).unref();
    signalAll('SIGTERM');
    allExited().then(() => finish(worstExit));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    const failed = await startAll(true);
    if (failed !== undefined) return failed;
    return await finished;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    log.flush();
  }
}
