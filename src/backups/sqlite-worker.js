// One job on a thread of its own (sqlite-snapshot.ts): a backup's snapshot, or the summary of a database
// file being verified. Both can take seconds on a big database; on a worker the event loop keeps serving.
// Plain JavaScript for the same reason as src/db/sqlite-reader-worker.js (no type stripper per thread).
import { createHash } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const quote = (name) => `"${String(name).replaceAll('"', '""')}"`;

/** The schema checksum and per-collection record counts of an open database (see manifest.ts). */
function summarize(db) {
  const rows = db
    .prepare(
      'SELECT id, name, type, fields, indexes, listRule, viewRule, createRule, updateRule, deleteRule, options FROM _collections ORDER BY id',
    )
    .all();
  const hash = createHash('sha256');
  for (const row of rows) hash.update(`${JSON.stringify(Object.values(row))}\n`);
  const counts = {};
  for (const row of rows) {
    if (row.type === 'view') continue;
    counts[row.name] = Number(db.prepare(`SELECT count(*) AS n FROM ${quote(row.name)}`).get().n);
  }
  return { schemaChecksum: hash.digest('hex'), counts };
}

try {
  const { job, source, target } = workerData;
  if (job === 'snapshot') {
    // VACUUM INTO reads in one transaction of its own: one consistent state while writers go on (WAL).
    // The summary is taken from the copy, so it describes exactly what the archive holds.
    const db = new DatabaseSync(source, { readOnly: true });
    db.exec('PRAGMA busy_timeout = 5000');
    db.prepare('VACUUM INTO ?').run(target);
    db.close();
    const copy = new DatabaseSync(target, { readOnly: true });
    const summary = summarize(copy);
    copy.close();
    parentPort.postMessage({ ok: true, summary });
  } else {
    const db = new DatabaseSync(source, { readOnly: true });
    const check = db.prepare('PRAGMA quick_check').all();
    const problems = check.map((r) => Object.values(r)[0]).filter((v) => v !== 'ok');
    if (problems.length)
      throw new Error(`the database fails its integrity check: ${problems.slice(0, 3).join('; ')}`);
    const summary = summarize(db);
    db.close();
    parentPort.postMessage({ ok: true, summary });
  }
} catch (err) {
  parentPort.postMessage({ ok: false, message: err instanceof Error ? err.message : String(err) });
}
