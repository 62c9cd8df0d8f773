// The request logs' writer thread on SQLite (sinks.ts `workerSink`): its own connection to the log file,
// one transaction per batch. Plain JavaScript on purpose, like sqlite-reader-worker.js: a worker loading
// TypeScript pays for its own copy of Node's type stripper. Its messages: `{seq, batch}` in (a flat batch
// of raw facts, entry-rows.js), `{seq, failed}` or `{seq, error}` out.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { createdDates, entryRows, FIELDS, noNul } from './entry-rows.js';

const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 10000');
db.exec('PRAGMA journal_mode = WAL');
// Logs may lose their last second to a power cut, never app data (docs/operations.md).
db.exec('PRAGMA synchronous = NORMAL');

/**
 * Rows per INSERT statement: one statement for many rows costs SQLite and node:sqlite less per row than
 * one each (bench/log-rows.ts).
 */
const ROWS = 64;
// The table is keyed by `seq` and stores a request entry's message only when its data's method and URL
// do not make it (table.ts, logs_0003): the view `_logs_api` makes the id and message when read.
const insertSql = (rows, verb = 'INSERT') =>
  `${verb} INTO "_logs" ("seq", "created", "level", "msg", "data") VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}`;
const insertMany = db.prepare(insertSql(ROWS));
const insertOne = db.prepare(insertSql(1));
const insertIfFree = db.prepare(insertSql(1, 'INSERT OR IGNORE'));
const createdOf = createdDates();
const rowOf = entryRows({ messageFromData: true });
/** SEQ_PER_MS of table.ts (this file is plain JavaScript, it cannot import it). */
const PER_MS = 1024;
const maxSeq = db.prepare('SELECT MAX("seq") AS "seq" FROM "_logs"');
/**
 * The highest key written, so that entries in time order take the next ones. Read again at the start of
 * each batch's transaction: the workers of `plinth serve --workers N` each have a writer on this file.
 */
let last = 0;
/** Opens a batch's transaction with the write lock held, and catches up with the other writers' keys. */
function begin() {
  db.exec('BEGIN IMMEDIATE');
  last = Math.max(last, Number(maxSeq.get()?.seq ?? 0));
}

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
function rowValues(params, batch, at) {
  const [time, level, message, data] = rowOf(batch, at);
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
  for (let at = 0; at < batch.length; at += FIELDS) {
    rowValues(params, batch, at);
    if (params.length === ROWS * 5) {
      insertMany.run(...params);
      params = [];
    }
  }
  for (let i = 0; i < params.length; i += 5) insertOne.run(...params.slice(i, i + 5));
}

function writeOne(batch, at) {
  const params = [];
  db.exec('SAVEPOINT one');
  try {
    if (rowValues(params, batch, at)) insertOne.run(...params);
    db.exec('RELEASE one');
  } catch (err) {
    db.exec('ROLLBACK TO one');
    db.exec('RELEASE one');
    throw err;
  }
}

parentPort.on('message', ({ seq, batch }) => {
  try {
    begin();
    const first = last;
    try {
      writeAll(batch);
      db.exec('COMMIT');
      parentPort.postMessage({ seq, failed: 0 });
      return;
    } catch {
      db.exec('ROLLBACK');
      last = first;
    }
    // One bad entry must not cost its neighbours: each is tried on its own, in one transaction.
    let failed = 0;
    begin();
    try {
      for (let at = 0; at < batch.length; at += FIELDS) {
        try {
          writeOne(batch, at);
        } catch {
          failed++;
        }
      }
    } finally {
      db.exec('COMMIT');
    }
    parentPort.postMessage({ seq, failed });
  } catch (err) {
    parentPort.postMessage({ seq, error: String(err?.message ?? err) });
  }
});
