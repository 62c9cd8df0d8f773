import { Worker } from 'node:worker_threads';
import type { Database } from '../db/index.ts';
import { formatDate, randomString } from '../lib/index.ts';
import { LOGS_TABLE } from './table.ts';

/** An entry as queued: time (ms), level, message, and its data already as JSON text. */
export type QueuedEntry = [time: number, level: number, message: string, data: string];

/** Where queued entries are written; `write` answers how many could not be (a bad entry never costs its neighbours). */
export interface LogSink {
  write(batch: QueuedEntry[]): Promise<number>;
  close(): Promise<void>;
}

/**
 * U+0000 (and its JSON escape) as U+FFFD: PostgreSQL stores neither, and a URL with `%00` in it must still
 * be logged. (log-writer-worker.js restates it for SQLite.)
 */
const noNul = (text: string) =>
  text.includes('\u0000') || text.includes('\\u0000')
    ? text.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')
    : text;

/**
 * Log ids: 15 characters of a–z, 0–9 like record ids, in the order they are made (the time in 9 base-36
 * digits, a counter within the millisecond, 4 random characters), so that each entry goes at the end of
 * the id index. With random ids every insert went to a random page of a growing index: on SQLite 12.2 µs
 * a row at 300,000 rows, against 3.7 µs in order. (log-writer-worker.js restates this.)
 */
export function orderedIds() {
  let last = 0;
  let counter = 0;
  return (time: number): string => {
    counter = time === last ? counter + 1 : 0;
    last = time;
    return `${time.toString(36).padStart(9, '0')}${(counter % 1296).toString(36).padStart(2, '0')}${randomString(4)}`;
  };
}

/** Rows per INSERT statement (five parameters each). */
const ROWS_PER_INSERT = 200;

/** PostgreSQL and MariaDB: multi-row INSERTs through the app's pool, one transaction per batch. */
export function sqlSink(db: Database): LogSink {
  const q = db.dialect.quote;
  const idOf = orderedIds();
  const insert = (batch: QueuedEntry[]) =>
    db.transaction(async (trx) => {
      for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) {
        const rows = batch.slice(i, i + ROWS_PER_INSERT);
        const params: unknown[] = [];
        for (const [time, level, message, data] of rows)
          params.push(idOf(time), formatDate(new Date(time)), level, noNul(message), noNul(data));
        await db.run(
          trx,
          `INSERT INTO ${q(LOGS_TABLE)} (${q('id')}, ${q('created')}, ${q('level')}, ${q('message')}, ${q('data')}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
          params,
        );
      }
    });
  return {
    async write(batch) {
      try {
        await insert(batch);
        return 0;
      } catch (err) {
        if (batch.length === 1) throw err;
        let failed = 0;
        for (const entry of batch) await insert([entry]).catch(() => failed++);
        return failed;
      }
    },
    close: async () => {},
  };
}

/**
 * SQLite: the entries go to a thread of their own (log-writer-worker.js) with its own connection to the
 * log file. Writing them on the event loop cost about 16 µs of every request on the get-by-id bench
 * (docs/benchmarks.md): the insert, its commit and the WAL's checkpoints; the thread does that beside it.
 */
export function workerSink(file: string): LogSink {
  const worker = new Worker(new URL('./log-writer-worker.js', import.meta.url), { workerData: { file } });
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, { resolve(failed: number): void; reject(err: Error): void }>();
  worker.on('message', (m: { seq: number; failed?: number; error?: string }) => {
    const w = waiting.get(m.seq);
    waiting.delete(m.seq);
    if (m.error !== undefined) w?.reject(new Error(m.error));
    else w?.resolve(m.failed ?? 0);
  });
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('error', failAll);
  worker.on('exit', () => failAll(new Error('the log writer thread ended')));
  return {
    write(batch) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ seq: id, batch });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
