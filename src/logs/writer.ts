import type { Database } from '../db/index.ts';
import { formatDate } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import type { LogSink, QueuedEntry } from './sinks.ts';
import { LOGS_TABLE } from './table.ts';

/** One log entry as the request path hands it over: no id, no formatted date yet (made when written). */
export interface LogEntry {
  /** Milliseconds since the epoch. */
  time: number;
  /** slog's levels, as PocketBase stores them: -4 debug, 0 info, 4 warn, 8 error. */
  level: number;
  message: string;
  data: Record<string, unknown>;
}

export interface LogWriterOptions {
  /** The log database, for the hourly sweep. */
  db: Database;
  /** Where entries are written (sinks.ts). */
  sink: LogSink;
  log: Logger;
  /** PocketBase's `logs.maxDays`, read at each sweep. */
  maxDays(): number;
  /** Milliseconds between writes (entries wait in memory meanwhile). */
  flushEveryMs?: number;
  /** Entries kept in memory at most; past it new ones are dropped (and counted). */
  maxPending?: number;
}

/** Entries that are written at once rather than at the next tick of the timer (bigger batches, fewer commits). */
const BATCH = 2048;
const SWEEP_EVERY_MS = 3600_000;
const DAY_MS = 86_400_000;

/**
 * Writes log entries off the request path: `add` only queues (the cheapest thing a request can do), and a
 * timer writes what is queued in one transaction a second. If the database is slow or down the queue is
 * capped (what comes past the cap is dropped and counted), so memory stays bounded; entries older than `maxDays` are swept every hour.
 */
export function createLogWriter(options: LogWriterOptions) {
  const { db, log } = options;
  const q = db.dialect.quote;
  const maxPending = options.maxPending ?? 10_000;
  let pending: QueuedEntry[] = [];
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let closed = false;

  async function write(batch: QueuedEntry[]): Promise<void> {
    const failed = await options.sink.write(batch);
    if (failed) log.warn({ entries: failed }, 'request log entries could not be written');
  }

  /** Writes what is queued now; resolves once it is in the database (or has failed, and been logged). */
  function flush(): Promise<void> {
    if (writing) return writing.then(flush);
    if (pending.length === 0) return Promise.resolve();
    const batch = pending;
    pending = [];
    writing = write(batch)
      .catch((err: unknown) => log.warn({ err, entries: batch.length }, 'writing request logs failed'))
      .finally(() => {
        writing = undefined;
      });
    return writing;
  }

  async function sweep(): Promise<void> {
    const days = options.maxDays();
    if (days <= 0) return;
    const before = formatDate(new Date(Date.now() - days * DAY_MS));
    try {
      await db.run(db.kysely, `DELETE FROM ${q(LOGS_TABLE)} WHERE ${q('created')} < ?`, [before]);
    } catch (err) {
      log.warn({ err }, 'removing old request logs failed');
    }
  }

  const flusher = setInterval(() => {
    if (dropped) {
      log.warn({ dropped }, 'request logs dropped: the log database did not keep up');
      dropped = 0;
    }
    void flush();
  }, options.flushEveryMs ?? 1000);
  flusher.unref();
  const sweeper = setInterval(() => void sweep(), SWEEP_EVERY_MS);
  sweeper.unref();
  void sweep();

  return {
    add(entry: LogEntry): void {
      if (closed) return;
      if (pending.length >= maxPending) {
        dropped++;
        return;
      }
      // Queued as text: fewer, smaller objects to keep until the batch is written.
      pending.push([entry.time, entry.level, entry.message, JSON.stringify(entry.data)]);
      // Under load a batch goes once it is full rather than waiting for the timer: memory stays small.
      if (pending.length === BATCH && !writing) setImmediate(flush);
    },
    flush,
    sweep,
    /** Stops the timers and writes what is queued. */
    async close(): Promise<void> {
      closed = true;
      clearInterval(flusher);
      clearInterval(sweeper);
      await flush();
      await options.sink.close();
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
