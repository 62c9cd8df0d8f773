// The request logs' writer thread on SQLite (sinks.ts `workerSink`): its own connection to the log file,
// one transaction per batch. Plain JavaScript on purpose, like sqlite-reader-worker.js: a worker loading
// TypeScript pays for its own copy of Node's type stripper. Its messages: `{seq, batch}` in (a flat batch
// of raw facts, entry-rows.js), `{seq, failed}` or `{seq, error}` out.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { createdDates, entryRows, FIELDS, noNul, orderedIds } from './entry-rows.js';

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
const insertSql = (rows) =>
  `INSERT INTO "_logs" ("id", "created", "level", "message", "data") VALUES ${Array(rows).fill('(?, ?, ?, ?, ?)').join(', ')}`;
const insertMany = db.prepare(insertSql(ROWS));
const insertOne = db.prepare(insertSql(1));
const idOf = orderedIds();
const createdOf = createdDates();
const rowOf = entryRows();

/** Appends one entry's five values to `params`. */
function rowValues(params, batch, at) {
  const [time, level, message, data] = rowOf(batch, at);
  params.push(idOf(time), createdOf(time), level, noNul(message), noNul(data));
}

function writeAll(batch) {
  const entries = batch.length / FIELDS;
  let at = 0;
  for (let n = 0; n + ROWS <= entries; n += ROWS) {
    const params = [];
    for (let i = 0; i < ROWS; i++, at += FIELDS) rowValues(params, batch, at);
    insertMany.run(...params);
  }
  for (; at < batch.length; at += FIELDS) writeOne(batch, at);
}

function writeOne(batch, at) {
  const params = [];
  rowValues(params, batch, at);
  insertOne.run(...params);
}

parentPort.on('message', ({ seq, batch }) => {
  try {
    db.exec('BEGIN');
    try {
      writeAll(batch);
      db.exec('COMMIT');
      parentPort.postMessage({ seq, failed: 0 });
      return;
    } catch {
      db.exec('ROLLBACK');
    }
    // One bad entry must not cost its neighbours: each is tried on its own.
    let failed = 0;
    for (let at = 0; at < batch.length; at += FIELDS) {
      try {
        writeOne(batch, at);
      } catch {
        failed++;
      }
    }
    parentPort.postMessage({ seq, failed });
  } catch (err) {
    parentPort.postMessage({ seq, error: String(err?.message ?? err) });
  }
});
