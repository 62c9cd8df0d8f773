import { Worker } from 'node:worker_threads';
import type { Database, Executor } from '../db/index.ts';
import { type PackedBatch, unpackEntries } from './entry-pack.js';
import { createdDates, entryRows, noNul, orderedIds, type QueuedEntry } from './entry-rows.js';
import { type LogFile, openLogFile } from './log-file-writer.js';
import { LOGS_TABLE } from './table.ts';

/**
 * Where batches of entries are written (entry-pack.js: each entry's raw facts as bytes); `write` answers how
 * many could not be (a bad entry never costs its neighbours).
 */
export interface LogSink {
  write(batch: PackedBatch): Promise<number>;
  close(): Promise<void>;
}

/** Rows per INSERT statement (five parameters each). */
const ROWS_PER_INSERT = 200;

/**
 * PostgreSQL: a batch is one statement whose text never changes, its rows one JSON parameter. The statement
 * is prepared once per connection (postgres-statements.ts), and one statement needs no transaction: a
 * multi-row INSERT per 200 entries inside BEGIN … COMMIT was three round trips, and a text of its own for
 * each batch size, parsed and planned by PostgreSQL every time (docs/benchmarks.md, "Request logs on
 * PostgreSQL"). `data` travels as a JSON string, not spliced in as JSON: nothing in an entry can reach
 * another entry's columns.
 */
const POSTGRES_INSERT = `INSERT INTO "${LOGS_TABLE}" ("id", "created", "level", "message", "data") SELECT r."i", r."c", r."l", r."m", CAST(r."d" AS JSONB) FROM json_to_recordset(CAST(? AS JSON)) AS r("i" TEXT, "c" TEXT, "l" DOUBLE PRECISION, "m" TEXT, "d" TEXT)`;

/** PostgreSQL and MariaDB: through the app's pool, each batch all or nothing. */
export function sqlSink(db: Database): LogSink {
  const idOf = orderedIds();
  const createdOf = createdDates();
  const rowOf = entryRows();
  const insert = db.dialect.name === 'postgres' ? postgresInsert(db) : multiRowInsert(db);
  return {
    async write(packed) {
      const batch: QueuedEntry[] = [];
      unpackEntries(packed.bytes, (slots) => batch.push(rowOf(slots)));
      const rows = batch.map(
        ([time, level, message, data]): LogRow => [
          idOf(time),
          createdOf(time),
          level,
          noNul(message),
          noNul(data),
        ],
      );
      try {
        await insert(rows);
        return 0;
      } catch (err) {
        if (rows.length === 1) throw err;
        let failed = 0;
        for (const row of rows) await insert([row]).catch(() => failed++);
        return failed;
      }
    },
    close: async () => {},
  };
}

/** A row of `_logs`: id, created, level, message, data (JSON text). */
type LogRow = [id: string, created: string, level: number, message: string, data: string];

function postgresInsert(db: Database) {
  return (rows: LogRow[]) => {
    let json = '';
    for (const [id, created, level, message, data] of rows)
      json += `,{"i":${JSON.stringify(id)},"c":${JSON.stringify(created)},"l":${JSON.stringify(level)},"m":${JSON.stringify(message)},"d":${JSON.stringify(data)}}`;
    return db.run(db.kysely, POSTGRES_INSERT, [`[${json.slice(1)}]`]);
  };
}

/** MariaDB: multi-row INSERTs; in a transaction only when the batch needs more than one. */
function multiRowInsert(db: Database) {
  const q = db.dialect.quote;
  const statement = (executor: Executor, rows: LogRow[]) =>
    db.run(
      executor,
      `INSERT INTO ${q(LOGS_TABLE)} (${q('id')}, ${q('created')}, ${q('level')}, ${q('message')}, ${q('data')}) VALUES ${rows.map(() => '(?, ?, ?, ?, ?)').join(', ')}`,
      rows.flat(),
    );
  return (rows: LogRow[]) =>
    rows.length <= ROWS_PER_INSERT
      ? statement(db.kysely, rows)
      : db.transaction(async (trx) => {
          for (let i = 0; i < rows.length; i += ROWS_PER_INSERT)
            await statement(trx, rows.slice(i, i + ROWS_PER_INSERT));
        });
}

export interface WorkerSinkOptions {
  /** While no thread runs, batches of at most this many entries are written on the event loop. */
  inlineEntries?: number;
  /** The thread ends once it has had no batch too big to write inline for this long. */
  idleMs?: number;
}

/**
 * While no thread runs, batches up to this size are written on the event loop: about 16 µs an entry, so at
 * most ~1 ms a second for a server that answers fewer requests than that a second (the writer flushes
 * once a second), and an idle or quiet server holds no thread (about 13 MB, docs/benchmarks.md).
 */
const INLINE_ENTRIES = 64;
/** A thread with no big batch for this long ends (it starts again, in ~50 ms, with the next one). */
const IDLE_MS = 30_000;

/**
 * SQLite: the entries go to a thread of their own (log-writer-worker.js) with its own connection to the
 * log file. Writing them on the event loop cost about 16 µs of every request on the get-by-id bench
 * (docs/benchmarks.md): the insert, its commit and the WAL's checkpoints; the thread does that beside it.
 * The thread starts with the first batch too big to write inline (or one the event loop cannot write at
 * once) and ends once such batches stop: small batches in between go to it while it runs, so the log
 * file has one writer at a time.
 */
export function workerSink(file: string, options: WorkerSinkOptions = {}): LogSink {
  const inlineEntries = options.inlineEntries ?? INLINE_ENTRIES;
  const idleMs = options.idleMs ?? IDLE_MS;
  let thread: ReturnType<typeof startThread> | undefined;
  let inline: LogFile | undefined;
  let idle: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  /** Ends the thread once it is idle: every batch it was given is answered, so it is written. */
  function stopWhenIdle(): void {
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (thread?.busy()) return stopWhenIdle();
      const ending = thread;
      thread = undefined;
      void ending?.terminate();
    }, idleMs);
    idle.unref();
  }

  return {
    write(batch) {
      if (closed) return Promise.reject(new Error('the request log is closed'));
      if (!thread && batch.entries <= inlineEntries) {
        try {
          inline ??= openLogFile(file, { wait: false });
          const failed = inline.write(batch);
          // Another connection is writing (the log database's sweep, in a group not yet committed): the
          // thread waits for it instead of the event loop.
          if (failed !== undefined) return Promise.resolve(failed);
        } catch (err) {
          return Promise.reject(err);
        }
      }
      if (!thread) {
        const started = startThread(file, () => {
          if (thread === started) thread = undefined;
        });
        thread = started;
        stopWhenIdle();
      } else if (batch.entries > inlineEntries) stopWhenIdle();
      return thread.write(batch);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(idle);
      inline?.close();
      await thread?.terminate();
    },
  };
}

/** The writer thread, and the batches it was given that it has not answered yet. */
function startThread(file: string, onExit: () => void) {
  // Named, so that its thread shows as `plinth-logs` in /proc and top (bench/builds.ts --threads reads it).
  const worker = new Worker(new URL('./log-writer-worker.js', import.meta.url), {
    workerData: { file },
    name: 'plinth-logs',
  });
  // An idle thread does not keep the process alive; one with batches to answer does (a command that closes
  // its app right after a write must not end before the batch is written: Node would end it with code 13,
  // the pending await unsettled).
  worker.unref();
  let seq = 0;
  const waiting = new Map<
    number,
    { batch: PackedBatch; resolve(failed: number): void; reject(err: Error): void }
  >();
  worker.on(
    'message',
    (m: { seq: number; failed?: number; error?: string; bytes?: PackedBatch['bytes'] }) => {
      const w = waiting.get(m.seq);
      waiting.delete(m.seq);
      if (waiting.size === 0) worker.unref();
      if (w && m.bytes) w.batch.bytes = m.bytes;
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.failed ?? 0);
    },
  );
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
    worker.unref();
  };
  worker.on('error', failAll);
  // Ended (stopped when idle, or failed): the next big batch starts another.
  worker.on('exit', () => {
    failAll(new Error('the log writer thread ended'));
    onExit();
  });
  return {
    busy: () => waiting.size > 0,
    write(batch: PackedBatch): Promise<number> {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        if (waiting.size === 0) worker.ref();
        waiting.set(id, { batch, resolve, reject });
        // Moved, not copied; it comes back with the answer.
        worker.postMessage({ seq: id, batch }, [batch.bytes.buffer]);
      });
    },
    terminate: () => worker.terminate(),
  };
}
