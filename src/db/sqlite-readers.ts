import { Worker } from 'node:worker_threads';
import type { Logger } from '../log/index.ts';
import { StatementTimeout } from './sqlite-guard.ts';

/** Queries for a reader thread: SQL, parameters (already SQLite values), and their time limit. */
interface ReaderJob {
  id: number;
  statements: ReadonlyArray<{ sql: string; params: unknown[] }>;
  timeoutMs: number;
}

/** One statement's rows as the reader sends them: arrays of values, under column names given once. */
interface RowArrays {
  columns: string[];
  values: unknown[][];
}

/** A reader's answer: each statement's rows, or the error (`timeout`: stopped by the guard at its deadline). */
type ReaderAnswer =
  | { id: number; rows: RowArrays[] }
  | { id: number; error: { message: string; code?: string; errcode?: number; timeout: boolean } };

/** Threads, each with a read-only connection, that run data-dependent queries off the event loop. */
export interface ReaderPool {
  readonly size: number;
  /**
   * Runs SELECTs on one reader, in one read transaction (one snapshot), answering each one's rows; rejects
   * with `StatementTimeout` past `timeoutMs`.
   */
  run(statements: ReadonlyArray<{ sql: string; params: unknown[] }>, timeoutMs: number): Promise<unknown[][]>;
  close(): Promise<void>;
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
  resolve(rows: unknown[][]): void;
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
      pending.resolve(answer.rows.map(toObjects));
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
      return new Promise<unknown[][]>((resolve, reject) => {
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

/** Rows as objects keyed by column name (a repeated name keeps its last value, as node:sqlite's objects do). */
function toObjects({ columns, values }: RowArrays): Record<string, unknown>[] {
  const make = rowMaker(columns);
  const rows = new Array<Record<string, unknown>>(values.length);
  for (let r = 0; r < values.length; r++) rows[r] = make(values[r] as unknown[]);
  return rows;
}

type RowMaker = (values: unknown[]) => Record<string, unknown>;

/** Row makers by column list, made once each; a schema change makes new lists, so the map is bounded. */
const makers = new Map<string, RowMaker>();
const MAKERS_LIMIT = 500;

/**
 * A function that makes a row object from its values with an object literal of the column names. Setting
 * the names one by one (`row[name] = value`) went through V8's slowest property stores: several µs of a
 * list request (docs/benchmarks.md). The names go into the code as JSON strings; `__proto__` is written as
 * a computed key, which makes an own property as node:sqlite does, not the prototype.
 */
function rowMaker(columns: readonly string[]): RowMaker {
  const key = columns.join('\u0000');
  let make = makers.get(key);
  if (make) return make;
  const keyOf = (name: string) => (name === '__proto__' ? `[${JSON.stringify(name)}]` : JSON.stringify(name));
  const body = columns.map((name, i) => `${keyOf(name)}: v[${i}]`).join(', ');
  make = new Function('v', `return { ${body} };`) as RowMaker;
  if (makers.size >= MAKERS_LIMIT) makers.clear();
  makers.set(key, make);
  return make;
}
