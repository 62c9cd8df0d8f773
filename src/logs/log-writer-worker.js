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
/** 15 characters of a–z, 0–9, as record ids (src/lib/id.ts; unbiased: bytes past 251 are skipped). */
function newId() {
  let out = '';
  while (out.length < 15)
    for (const byte of randomBytes(30)) {
      if (byte >= 252) continue;
      out += ALPHABET[byte % 36];
      if (out.length === 15) break;
    }
  return out;
}

const noNul = (text) =>
  text.includes('\u0000') || text.includes('\\u0000')
    ? text.replaceAll('\u0000', '\ufffd').replaceAll('\\u0000', '\\ufffd')
    : text;

const created = (time) => new Date(time).toISOString().replace('T', ' ');
const row = ([time, level, message, data]) =>
  insert.run(newId(), created(time), level, noNul(message), noNul(data));

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
