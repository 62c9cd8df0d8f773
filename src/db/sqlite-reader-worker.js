// One reader thread (sqlite-readers.ts): its own read-only connection to the database file, so that a query
// whose cost grows with the data runs beside the event loop instead of on it.
//
// Plain JavaScript on purpose: a worker that loads TypeScript pays for its own copy of Node's type
// stripper, about 11 MB of memory per thread (measured), for a file this small. Its messages are the
// `ReaderJob` and `ReaderAnswer` types of sqlite-readers.ts; its guard is sqlite-guard.ts's, restated here.
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const STATEMENT_CACHE_LIMIT = 500;
const TIMEOUT = 'PLINTH_STATEMENT_TIMEOUT';

const db = new DatabaseSync(workerData.file, { readOnly: true });
db.exec('PRAGMA busy_timeout = 5000');
// A smaller page cache than the writer's: several readers share the process's memory.
db.exec('PRAGMA cache_size = -8000');
let until = Number.POSITIVE_INFINITY;
db.function('plinth_guard', { deterministic: false, directOnly: true }, () => {
  if (performance.now() > until)
    throw Object.assign(new Error('the statement ran past its time limit'), { code: TIMEOUT });
  return 1;
});
const statements = new Map();

function prepare(sql) {
  let stmt = statements.get(sql);
  if (!stmt) {
    stmt = db.prepare(sql);
    stmt.setReturnArrays(true);
    if (statements.size >= STATEMENT_CACHE_LIMIT) statements.clear();
    statements.set(sql, stmt);
  }
  return stmt;
}

// Rows go back as arrays, with the column names once per statement: copying 20 rows to the main thread as
// objects cost about twice as much (every row repeats its keys), and node:sqlite reads arrays faster too.
// The names are read after the run: a schema change since the last one (a column renamed, added) has
// prepared the statement again by then. sqlite-readers.ts turns the arrays back into objects.
function run(stmt, params) {
  const values = stmt.all(...params);
  return { columns: stmt.columns().map((c) => c.name), values };
}

const begin = db.prepare('BEGIN');
const commit = db.prepare('COMMIT');

parentPort.on('message', (job) => {
  let answer;
  // Several statements (a page and its count) read one snapshot.
  const batch = job.statements.length > 1;
  try {
    const statements = job.statements.map((s) => prepare(s.sql));
    // How long the statements took to run (compiling them aside: that happens once), for the event loop's
    // choice of what it may run itself (inline-reads.ts).
    const start = performance.now();
    until = start + job.timeoutMs;
    if (batch) begin.run();
    const rows = statements.map((stmt, i) => run(stmt, job.statements[i].params));
    answer = { id: job.id, rows, ms: performance.now() - start };
  } catch (err) {
    for (const s of job.statements) statements.delete(s.sql);
    answer = {
      id: job.id,
      error: {
        message: String(err?.message ?? err),
        code: err?.code,
        errcode: err?.errcode,
        timeout: err?.code === TIMEOUT,
      },
    };
  } finally {
    until = Number.POSITIVE_INFINITY;
    if (batch && db.isTransaction) commit.run();
  }
  parentPort.postMessage(answer);
});
parentPort.postMessage('ready');
