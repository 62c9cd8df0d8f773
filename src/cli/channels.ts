import type { Worker } from 'node:cluster';
import type { Channel } from '../bus/index.ts';

/**
 * What the primary tells a worker: start (the first one hands out the installer link); send its metrics
 * for a scrape, or the summed metrics of a scrape it asked for (worker-metrics.ts). Signals stop it.
 */
export type ToWorker =
  | { plinth: 'start'; first: boolean }
  | { plinth: 'metrics.get'; id: number }
  | { plinth: 'metrics.answer'; id: number; text?: string };

/**
 * What a worker tells the primary: it is loaded (`hello`), it answers (`ready`, with its connection cap
 * and, from the first, the installer link to print), or every worker must restart (a restore).
 */
export type FromWorker =
  | { plinth: 'hello' }
  | { plinth: 'ready'; cap?: number; installer?: string }
  | { plinth: 'restart' }
  | { plinth: 'metrics.ask'; id: number }
  | { plinth: 'metrics.part'; id: number; metrics: unknown[] };

/** A send to a channel closing under it fails quietly: the close is reported by `onClose`. */
const ignore = () => {};

type Sendable = Parameters<Channel['send']>[0] | ToWorker | FromWorker;

/** A worker's channel to the primary (its IPC channel). */
export function processChannel(): Channel & { send(message: Sendable): boolean } {
  return {
    send(message) {
      if (!process.connected || !process.send) return false;
      process.send(message, undefined, undefined, ignore);
      return true;
    },
    onMessage(handler) {
      process.on('message', handler);
    },
    onClose(handler) {
      process.once('disconnect', handler);
    },
  };
}

/** The primary's channel to one worker. */
export function workerChannel(worker: Worker): Channel & { send(message: Sendable): boolean } {
  return {
    send(message) {
      if (!worker.isConnected()) return false;
      worker.send(message, undefined, ignore);
      return true;
    },
    onMessage(handler) {
      worker.on('message', handler);
    },
    onClose(handler) {
      worker.once('exit', handler);
    },
  };
}
