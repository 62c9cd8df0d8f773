// Writes batches of request log entries into SQLite's log file (auxiliary.db), one transaction per batch.
// Used by the writer thread (log-writer-worker.js) and, for small batches while no thread runs, by the
// event loop itself (sinks.ts `workerSink`). Plain JavaScript on purpose, like sqlite-reader-worker.js: a
// worker loading TypeScript pays for its own copy of Node's type stripper. Its types: log-file-writer.d.ts.
import { DatabaseSync } from 'node:sqlite';
import { unpackEntries } from './entry-pack.js';
import { createdDates, entryRows, noNul } from './entry-rows.js';

/**
 * Rows per INSERT statement: one statement for many rows costs SQLite and node:sqlite less per row than
 * one each (bench/log-rows.ts).
 */
const ROWS = 64;
/** SEQ_PER_MS of table.ts (this file is plain JavaScript, it cannot import it). */
const PER_MS = 1024;

// The table is keyed by `seq` and stores a request entry's message only when its data's method and URL
// do not make it (table.ts, logs_0003): the view `_logs_api` makes the id and message when read.
const insertSql = (rows, verb = 'INSERT') =>
  `${verb} INTO "_logs" ("seq", "created", "level", "msg", "data") VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}`;

/** SQLite's answer when another connection holds the lock. */
const SQLITE_BUSY = 5;

/**
 * Opens the log file for writing: `write(batch)` answers how many entries could not be written. With
 * `wait: false` it does not wait for another connection's write to end: it answers undefined, having
 * written nothing. The event loop opens it so: it cannot wait for a lock that a connection of its own
 * (the log database's group commit) holds until the loop turns.
 */
export function openLogFile(file, { wait = true } = {}) {
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA busy_timeout = ${wait ? 10000 : 0}`);
  db.exec('PRAGMA journal_mode = WAL');
  // Logs may lose their last second to a power cut, never app data (docs/operations.md).
  db.exec('PRAGMA synchronous = NORMAL');
  const insertMany = db.prepare(insertSql(ROWS));
  const insertOne = db.prepare(insertSql(1));
  const insertIfFree = db.prepare(insertSql(1, 'INSERT OR IGNORE'));
  const highest = db.prepare('SELECT MAX("seq") AS "seq" FROM "_logs"');
  const createdOf = createdDates();
  const rowOf = entryRows({ messageFromData: true });
  /**
   * The highest key written, so that entries in time order take the next ones. Read again at the start of
   * each batch, inside its write transaction: other connections write too (the workers of `plinth serve
   * --workers N`, and this process's thread or event loop, whichever wrote last).
   */
  let last = 0;

  /**
   * The key of an entry made at `time`, or -1 for one older than the last key's millisecond (an entry
   * logged late, a clock set back): those are written one by one (`writeLate`). Entries come in time
   * order: each takes the next key, from `time × PER_MS` up.
   */
  function seqOf(time) {
    const first = Math.max(0, Math.floor(time)) * PER_MS;
    if (first > last) last = first;
    else if (first + PER_MS > last + 1) last++;
    else return -1;
    return last;
  }

  /** Appends one entry's five values to `params`; false (and nothing appended) for a late entry. */
  function rowValues(params, slots) {
    const [time, level, message, data] = rowOf(slots);
    const seq = seqOf(time);
    if (seq < 0) {
      writeLate(time, level, message, data);
      return false;
    }
    params.push(seq, createdOf(time), level, message === null ? '' : noNul(message), noNul(data));
    return true;
  }

  /**
   * A late entry takes a free key of its own millisecond, so that retention (which deletes by key range)
   * still finds it: keys below the last one may be taken, so it tries random ones.
   */
  function writeLate(time, level, message, data) {
    const first = Math.max(0, Math.floor(time)) * PER_MS;
    const values = [createdOf(time), level, message === null ? '' : noNul(message), noNul(data)];
    for (let i = 0; i < 32; i++)
      if (insertIfFree.run(first + Math.floor(Math.random() * PER_MS), ...values).changes) return;
    throw new Error('no free key for a late request log entry');
  }

  function writeAll(batch) {
    let params = [];
    unpackEntries(batch.bytes, (slots) => {
      rowValues(params, slots);
      if (params.length === ROWS * 5) {
        insertMany.run(...params);
        params = [];
      }
    });
    for (let i = 0; i < params.length; i += 5) insertOne.run(...params.slice(i, i + 5));
  }

  function writeOne(slots) {
    const params = [];
    db.exec('SAVEPOINT one');
    try {
      if (rowValues(params, slots)) insertOne.run(...params);
      db.exec('RELEASE one');
    } catch (err) {
      db.exec('ROLLBACK TO one');
      db.exec('RELEASE one');
      throw err;
    }
  }

  /** Writes the batch, or each entry on its own when that fails: one bad entry must not cost the others. */
  function writeBatch(batch) {
    const first = last;
    db.exec('SAVEPOINT batch');
    try {
      writeAll(batch);
      db.exec('RELEASE batch');
      return 0;
    } catch {
      db.exec('ROLLBACK TO batch');
      db.exec('RELEASE batch');
      last = first;
    }
    let failed = 0;
    unpackEntries(batch.bytes, (slots) => {
      try {
        writeOne(slots);
      } catch {
        failed++;
      }
    });
    return failed;
  }

  return {
    write(batch) {
      // BEGIN IMMEDIATE: the write lock first, so that the highest key read next is still the highest at
      // COMMIT.
      try {
        db.exec('BEGIN IMMEDIATE');
      } catch (err) {
        if (!wait && err?.errcode === SQLITE_BUSY) return undefined;
        throw err;
      }
      try {
        last = Math.max(last, Number(highest.get()?.seq ?? 0));
        const failed = writeBatch(batch);
        db.exec('COMMIT');
        return failed;
      } catch (err) {
        if (db.isTransaction) db.exec('ROLLBACK');
        throw err;
      }
    },
    close() {
      db.close();
    },
  };
}
