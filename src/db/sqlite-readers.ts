import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/index.ts';
import { StatementTimeout } from './sqlite-guard.ts';
import { type RowArrays, toObjects } from './sqlite-rows.ts';

/** Queries for a reader thread: SQL, parameters (already SQLite values), and their time limit. */
interface ReaderJob {
  id: number;
  statements: ReadonlyArray<{ sql: string; params: unknown[] }>;
  timeoutMs: number;
}

/** A reader's answer: each statement's rows, or the error (`timeout`: stopped by the guard at its deadline). */
type ReaderAnswer =
  | { id: number; rows: RowArrays[]; ms: number }
  | { id: number; error: { message: string; code?: string; errcode?: number; timeout: boolean } };

/** Threads, each with a read-only connection, that run data-dependent queries off the event loop. */
export interface ReaderPool {
  readonly size: number;
  /**
   * Runs SELECTs on one reader, in one read transaction (one snapshot), answering each one's rows and how
   * long they took there; rejects with `StatementTimeout` past `timeoutMs`.
   */
  run(statements: ReadonlyArray<{ sql: string; params: unknown[] }>, timeoutMs: number): Promise<ReaderRows>;
  close(): Promise<void>;
}

/** A reader's rows for each statement, and the milliseconds the statements took on the reader. */
export interface ReaderRows {
  rows: unknown[][];
  ms: number;
}

export interface ReaderPoolOptions {
  file: string;
  size: number;
  log: Logger;
}

/**
 * A statement the guard cannot stop (a long scan or sort, with no join to put the guard in) gets this long
 * past its deadline before its reader is given up on: the caller is answered, the thread is terminated
 * (it ends when the statement does) and a fresh reader takes its place.
 */
const HARD_GRACE_MS = 1000;

interface Reader {
  worker: Worker;
  ready: boolean;
  job?: Pending;
  /** When it last finished a job (for shrinking the pool when idle). */
  idleSince: number;
}

/**
 * A reader thread costs ~15 MB: threads start when queries need them (up to `size`) and one left idle
 * this long ends, so an idle server holds none.
 */
const IDLE_MS = 60_000;

interface Pending {
  job: ReaderJob;
  resolve(answer: ReaderRows): void;
  reject(err: unknown): void;
  timer?: ReturnType<typeof setTimeout>;
}

const WORKER_URL = new URL('./sqlite-reader-worker.js', import.meta.url);

/** Reader threads on the SQLite file (which must exist and be in WAL mode), at most `size` at once. */
export function createReaderPool({ file, size, log }: ReaderPoolOptions): ReaderPool {
  const readers = new Set<Reader>();
  const queue: Pending[] = [];
  /** Threads given up on that have not ended yet; no more than `size` at once. */
  let zombies = 0;
  let nextId = 0;
  let closed = false;
  let sweeper: ReturnType<typeof setInterval> | undefined;

  function spawn(): void {
    const worker = new Worker(WORKER_URL, { workerData: { file } });
    const reader: Reader = { worker, ready: false, idleSince: performance.now() };
    readers.add(reader);
    reader.worker.on('message', (msg: ReaderAnswer | 'ready') => {
      if (msg === 'ready') reader.ready = true;
      else finish(reader, msg);
      reader.idleSince = performance.now();
      dispatch();
      if (!reader.job) reader.worker.unref();
    });
    reader.worker.on('error', (err) => {
      log.error({ err }, 'sqlite reader failed');
      if (reader.ready) retire(reader, err);
      else failedToStart(reader, err);
    });
    reader.worker.on('exit', () => {
      if (readers.has(reader)) retire(reader, new Error('sqlite reader exited'));
    });
    // A reader starting or running a query keeps the process alive (a command's query must not be cut off
    // by the process ending, Node's code 13); an idle one does not.
    sweeper ??= setInterval(sweep, IDLE_MS / 4).unref();
  }

  /** Ends readers idle for IDLE_MS. */
  function sweep(): void {
    const now = performance.now();
    for (const reader of readers) {
      if (reader.job || !reader.ready || now - reader.idleSince < IDLE_MS) continue;
      readers.delete(reader);
      void reader.worker.terminate();
    }
    if (readers.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }

  /**
   * A reader that failed before it could take a query (the file unreadable, the thread not created) is not
   * started again at once, which would fail the same way in a loop: the queries waiting for a reader fail
   * with its error, and the next query tries a new one.
   */
  function failedToStart(reader: Reader, err: unknown): void {
    if (!readers.delete(reader)) return;
    for (const pending of queue.splice(0)) pending.reject(err);
    void reader.worker.terminate();
  }

  /** Removes a reader (failed, exited or stuck), fails its job, and starts another if allowed. */
  function retire(reader: Reader, err: unknown): void {
    if (!readers.delete(reader)) return;
    const pending = reader.job;
    reader.job = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    zombies++;
    reader.worker.terminate().finally(() => {
      zombies--;
      refill();
    });
    refill();
  }

  /** Starts readers for waiting queries that no started reader will take, up to `size`. */
  function refill(): void {
    let starting = 0;
    for (const r of readers) if (!r.ready) starting++;
    let idle = 0;
    for (const r of readers) if (r.ready && !r.job) idle++;
    let wanted = queue.length - idle - starting;
    while (!closed && wanted-- > 0 && readers.size < size && readers.size + zombies < 2 * size) spawn();
  }

  function finish(reader: Reader, answer: ReaderAnswer): void {
    const pending = reader.job;
    reader.job = undefined;
    if (!pending || pending.job.id !== answer.id) return;
    clearTimeout(pending.timer);
    if ('rows' in answer) {
      pending.resolve({ rows: answer.rows.map(toObjects), ms: answer.ms });
      return;
    }
    const e = answer.error;
    pending.reject(e.timeout ? new StatementTimeout() : Object.assign(new Error(e.message), e));
  }

  function dispatch(): void {
    refill();
    for (const reader of readers) {
      if (queue.length === 0) return;
      if (!reader.ready || reader.job) continue;
      const pending = queue.shift() as Pending;
      reader.job = pending;
      pending.timer = setTimeout(() => {
        log.warn({ timeoutMs: pending.job.timeoutMs }, 'sqlite reader stuck past its deadline; replaced');
        retire(reader, new StatementTimeout());
      }, pending.job.timeoutMs + HARD_GRACE_MS);
      reader.worker.ref();
      reader.worker.postMessage(pending.job);
    }
  }

  return {
    size,
    run(statements, timeoutMs) {
      if (closed) return Promise.reject(new Error('the database is closed'));
      return new Promise<ReaderRows>((resolve, reject) => {
        queue.push({ job: { id: ++nextId, statements, timeoutMs }, resolve, reject });
        dispatch();
      });
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      for (const p of queue.splice(0)) p.reject(new Error('the database is closed'));
      await Promise.all(
        [...readers].map((r) => {
          readers.delete(r);
          if (r.job) r.job.reject(new Error('the database is closed'));
          clearTimeout(r.job?.timer);
          return r.worker.terminate();
        }),
      );
    },
  };
}
