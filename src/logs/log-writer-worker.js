// The request logs' writer thread on SQLite (sinks.ts `workerSink`): its own connection to the log file,
// one transaction per batch. Plain JavaScript on purpose, like sqlite-reader-worker.js: a worker loading
// TypeScript pays for its own copy of Node's type stripper. Its messages: `{seq, batch: QueuedEntry[]}` in,
// `{seq, failed}` or `{seq, error}` out.
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const db = new DatabaseSync(workerData.file);
db.exec('PRAGMA busy_timeout = 10000');
db.exec('PRAGMA journal_mode = WAL');
// Logs may lose their last second to a power cut, never app data (docs/operations.md).
db.exec('PRAGMA synchronous = NORMAL');
const insert = db.prepare(
  'INSERT INTO "_logs" ("id", "created", "level", "message", "data") VALUES (?, ?, ?, ?, ?)',
);

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
let lastTime = 0;
let counter = 0;
/**
 * 15 characters of a–z, 0–9, as record ids, in the order they are made: the time (9 base-36 digits), a
 * counter within the millisecond (2) and 4 random characters. Random ids put every insert on a random page
 * of a growing index: 12.2 µs a row at 300,000 rows against 3.7 µs in order (sinks.ts restates this).
 */
function newId(time) {
  counter = time === lastTime ? counter + 1 : 0;
  lastTime = time;
  let tail = '';
  for (const byte of randomBytes(8)) {
    if (byte >= 252) continue;
    tail += ALPHABET[byte % 36];
    if (tail.length === 4) break;
  }
  while (tail.length < 4) tail += ALPHABET[randomBytes(1)[0] % 36];
  return `${time.toString(36).padStart(9, '0')}${(counter % 1296).toString(36).padStart(2, '0')}${tail}`;
}

const noNul = (text) =>
  text.includes('\u0000') || text.includes('\\u0000')
    ? text.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')
    : text;

const created = (time) => new Date(time).toISOString().replace('T', ' ');
const row = ([time, level, message, data]) =>
  insert.run(newId(time), created(time), level, noNul(message), noNul(data));

parentPort.on('message', ({ seq, batch }) => {
  try {
    db.exec('BEGIN');
    try {
      for (const entry of batch) row(entry);
      db.exec('COMMIT');
      parentPort.postMessage({ seq, failed: 0 });
      return;
    } catch {
      db.exec('ROLLBACK');
    }
    // One bad entry must not cost its neighbours: each is tried on its own.
    let failed = 0;
    for (const entry of batch) {
      try {
        row(entry);
      } catch {
        failed++;
      }
    }
    parentPort.postMessage({ seq, failed });
  } catch (err) {
    parentPort.postMessage({ seq, error: String(err?.message ?? err) });
  }
});
