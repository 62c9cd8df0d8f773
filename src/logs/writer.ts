import type { Database } from '../db/index.ts';
import { formatDate, type JobStats, trackJob } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import { FIELDS, idBefore } from './entry-rows.js';
import type { LogSink } from './sinks.ts';
import { LOGS_TABLE, SEQ_PER_MS } from './table.ts';

/** A log entry other than a request's (`add`): no id, no formatted date yet (made when written). */
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
  /** Where the sweep counts its runs (`log_retention`), for /metrics. */
  jobs?: JobStats;
}

/**
 * Entries per batch handed to the sink: a batch goes once it is full rather than at the next tick of the
 * timer, so under load what waits in memory stays small (entries leave the event loop's heap young).
 */
const BATCH = 512;
const SWEEP_EVERY_MS = 3600_000;
const DAY_MS = 86_400_000;

/**
 * Writes log entries off the request path: `addRequest` only copies the request's raw facts into a flat
 * array (entry-rows.js turns them into rows where they are written), and full batches, or what is queued
 * once a second, go to the sink. If the database is slow or down the queue is capped (what comes past the
 * cap is dropped and counted), so memory stays bounded; entries older than `maxDays` are swept every hour.
 */
export function createLogWriter(options: LogWriterOptions) {
  const { db, log } = options;
  const q = db.dialect.quote;
  const maxPending = options.maxPending ?? 10_000;
  let batch: unknown[] = new Array(BATCH * FIELDS);
  let used = 0;
  let ready: unknown[][] = [];
  let readyEntries = 0;
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let closed = false;

  /** Moves the batch being filled to the ready ones. */
  function seal(): void {
    if (used === 0) return;
    ready.push(used === batch.length ? batch : batch.slice(0, used));
    readyEntries += used / FIELDS;
    batch = new Array(BATCH * FIELDS);
    used = 0;
  }

  /** Where the next entry's slots start, or -1 when it is dropped. */
  function reserve(): number {
    if (closed) return -1;
    if (used === batch.length) {
      seal();
      if (!writing) setImmediate(flush);
    }
    if (readyEntries + used / FIELDS >= maxPending) {
      dropped++;
      return -1;
    }
    const at = used;
    used += FIELDS;
    return at;
  }

  async function write(batches: unknown[][]): Promise<void> {
    for (const b of batches) {
      const failed = await options.sink.write(b);
      if (failed) log.warn({ entries: failed }, 'request log entries could not be written');
    }
  }

  /** Writes what is queued now; resolves once it is in the database (or has failed, and been logged). */
  function flush(): Promise<void> {
    if (writing) return writing.then(flush);
    seal();
    if (ready.length === 0) return Promise.resolve();
    const batches = ready;
    const entries = readyEntries;
    ready = [];
    readyEntries = 0;
    writing = write(batches)
      .catch((err: unknown) => log.warn({ err, entries }, 'writing request logs failed'))
      .finally(() => {
        writing = undefined;
      });
    return writing;
  }

  /**
   * Removes entries older than `maxDays`. Ids are made in time order, so the id bound reads only the old
   * end of the id index (`_logs` has no `created` index: each index is paid for by every request's row);
   * `created` is checked too, so the bound never removes an entry it should keep.
   */
  async function sweep(): Promise<void> {
    const days = options.maxDays();
    if (days <= 0) return;
    const cutoff = Date.now() - days * DAY_MS;
    // On SQLite the key is `seq` (table.ts, logs_0003), made from the time as the ids are elsewhere.
    const [key, bound] =
      db.dialect.name === 'sqlite' ? ['seq', Math.floor(cutoff) * SEQ_PER_MS] : ['id', idBefore(cutoff)];
    try {
      await trackJob(options.jobs, 'log_retention', () =>
        db.run(db.kysely, `DELETE FROM ${q(LOGS_TABLE)} WHERE ${q(key)} < ? AND ${q('created')} < ?`, [
          bound,
          formatDate(new Date(cutoff)),
        ]),
      );
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
    /** Any entry (the request path uses `addRequest`). */
    add(entry: LogEntry): void {
      const at = reserve();
      if (at < 0) return;
      batch[at] = entry.time;
      batch[at + 1] = -1;
      batch[at + 2] = entry.level;
      batch[at + 3] = entry.message;
      batch[at + 4] = JSON.stringify(entry.data);
    },
    /**
     * A completed request's entry, from values the request already holds (entry-rows.js lists the slots):
     * no object, no text is made here. `error`: the error part of the data as JSON text, or undefined.
     */
    addRequest(
      time: number,
      status: number,
      execTime: number,
      method: string,
      url: string,
      referer: string | undefined,
      userAgent: string | undefined,
      auth: string,
      authId: string,
      userIP: string | undefined,
      remoteIP: string | undefined,
      error: string | undefined,
    ): void {
      const at = reserve();
      if (at < 0) return;
      const b = batch;
      b[at] = time;
      b[at + 1] = status;
      b[at + 2] = execTime;
      b[at + 3] = method;
      b[at + 4] = url;
      b[at + 5] = referer;
      b[at + 6] = userAgent;
      b[at + 7] = auth;
      b[at + 8] = authId;
      b[at + 9] = userIP;
      b[at + 10] = remoteIP;
      b[at + 11] = error;
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
