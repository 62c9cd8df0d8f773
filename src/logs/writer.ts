import type { Database } from '../db/index.ts';
import { formatDate, type JobStats, trackJob } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import { createEntryPacker, type PackedBatch } from './entry-pack.js';
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

const SWEEP_EVERY_MS = 3600_000;
const DAY_MS = 86_400_000;

/**
 * Writes log entries off the request path: `addRequest` only copies the request's raw facts into a batch's
 * bytes (entry-pack.js; entry-rows.js turns them into rows where they are written), and full batches, or
 * what is queued once a second, go to the sink. If the database is slow or down the queue is capped (what
 * comes past the cap is dropped and counted), so memory stays bounded; entries older than `maxDays` are
 * swept every hour.
 */
export function createLogWriter(options: LogWriterOptions) {
  const { db, log } = options;
  const q = db.dialect.quote;
  const maxPending = options.maxPending ?? 10_000;
  const packer = createEntryPacker();
  /** One entry's slots on their way into the packer (reused: no array a request). */
  const slots: unknown[] = new Array(FIELDS);
  let ready: PackedBatch[] = [];
  let readyEntries = 0;
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let closed = false;

  function queue(batch: PackedBatch | undefined): void {
    if (!batch) return;
    ready.push(batch);
    readyEntries += batch.entries;
    if (!writing) setImmediate(flush);
  }

  /** Hands `slots` to the packer, unless the writer is closed or too much waits (then it is dropped). */
  function push(): void {
    if (closed) return;
    if (readyEntries + packer.entries >= maxPending) {
      dropped++;
      return;
    }
    queue(packer.push(slots));
  }

  async function write(batches: PackedBatch[]): Promise<void> {
    for (const b of batches) {
      const failed = await options.sink.write(b);
      packer.recycle(b);
      if (failed) log.warn({ entries: failed }, 'request log entries could not be written');
    }
  }

  /** Writes what is queued now; resolves once it is in the database (or has failed, and been logged). */
  function flush(): Promise<void> {
    if (writing) return writing.then(flush);
    const filling = packer.take();
    if (filling) {
      ready.push(filling);
      readyEntries += filling.entries;
    }
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
      slots.fill(undefined);
      slots[0] = entry.time;
      slots[1] = -1;
      slots[2] = entry.level;
      slots[3] = entry.message;
      slots[4] = JSON.stringify(entry.data);
      push();
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
      const s = slots;
      s[0] = time;
      s[1] = status;
      s[2] = execTime;
      s[3] = method;
      s[4] = url;
      s[5] = referer;
      s[6] = userAgent;
      s[7] = auth;
      s[8] = authId;
      s[9] = userIP;
      s[10] = remoteIP;
      s[11] = error;
      push();
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
