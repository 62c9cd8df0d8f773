import type { Database } from '../db/index.ts';
import { formatDate, newRecordId } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
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
  db: Database;
  log: Logger;
  /** PocketBase's `logs.maxDays`, read at each sweep. */
  maxDays(): number;
  /** Milliseconds between writes (entries wait in memory meanwhile). */
  flushEveryMs?: number;
  /** Entries kept in memory at most; past it new ones are dropped (and counted). */
  maxPending?: number;
}

/**
 * U+0000 (and its JSON escape) as U+FFFD: PostgreSQL stores neither, and a URL with `%00` in it must still
 * be logged.
 */
const noNul = (text: string) =>
  text.includes('\u0000') || text.includes('\\u0000')
    ? text.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')
    : text;

/** Rows per INSERT statement (five parameters each). */
const ROWS_PER_INSERT = 200;
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
  let pending: LogEntry[] = [];
  let dropped = 0;
  let writing: Promise<void> | undefined;
  let closed = false;

  async function write(batch: LogEntry[]): Promise<void> {
    try {
      await insert(batch);
    } catch (err) {
      if (batch.length === 1) throw err;
      // One bad entry must not cost its neighbours: each is tried on its own, and those that fail go.
      let failed = 0;
      for (const entry of batch) await insert([entry]).catch(() => failed++);
      if (failed) log.warn({ err, entries: failed }, 'request log entries could not be written');
    }
  }

  async function insert(batch: LogEntry[]): Promise<void> {
    await db.transaction(async (trx) => {
      for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) {
        const rows = batch.slice(i, i + ROWS_PER_INSERT);
        const params: unknown[] = [];
        for (const e of rows)
          params.push(
            newRecordId(),
            formatDate(new Date(e.time)),
            e.level,
            noNul(e.message),
            noNul(JSON.stringify(e.data)),
          );
        await db.run(
          trx,
          `INSERT INTO ${q(LOGS_TABLE)} (${q('id')}, ${q('created')}, ${q('level')}, ${q('message')}, ${q('data')}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
          params,
        );
      }
    });
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
      pending.push(entry);
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
    },
  };
}

export type LogWriter = ReturnType<typeof createLogWriter>;
