import { Worker } from 'node:worker_threads';
import type { Database } from '../db/index.ts';
import { createdDates, entryRows, FIELDS, noNul, orderedIds, type QueuedEntry } from './entry-rows.js';
import { LOGS_TABLE } from './table.ts';

/**
 * Where batches of entries are written: each batch is flat, FIELDS slots an entry (entry-rows.js); `write`
 * answers how many could not be (a bad entry never costs its neighbours).
 */
export interface LogSink {
  write(batch: unknown[]): Promise<number>;
  close(): Promise<void>;
}

/** Rows per INSERT statement (five parameters each). */
const ROWS_PER_INSERT = 200;

/** PostgreSQL and MariaDB: multi-row INSERTs through the app's pool, one transaction per batch. */
export function sqlSink(db: Database): LogSink {
  const q = db.dialect.quote;
  const idOf = orderedIds();
  const createdOf = createdDates();
  const rowOf = entryRows();
  const insert = (batch: QueuedEntry[]) =>
    db.transaction(async (trx) => {
      for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) {
        const rows = batch.slice(i, i + ROWS_PER_INSERT);
        const params: unknown[] = [];
        for (const [time, level, message, data] of rows)
          params.push(idOf(time), createdOf(time), level, noNul(message), noNul(data));
        await db.run(
          trx,
          `INSERT INTO ${q(LOGS_TABLE)} (${q('id')}, ${q('created')}, ${q('level')}, ${q('message')}, ${q('data')}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
          params,
        );
      }
    });
  return {
    async write(flat) {
      const batch: QueuedEntry[] = [];
      for (let at = 0; at < flat.length; at += FIELDS) batch.push(rowOf(flat, at));
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
  // Named, so that its thread shows as `plinth-logs` in /proc and top (bench/builds.ts --threads reads it).
  const worker = new Worker(new URL('./log-writer-worker.js', import.meta.url), {
    workerData: { file },
    name: 'plinth-logs',
  });
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
