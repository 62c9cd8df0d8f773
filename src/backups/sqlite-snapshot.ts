import { Worker } from 'node:worker_threads';

/** What a database holds, as the manifest records it and a restore compares it. */
export interface DatabaseSummary {
  /** sha256 over the `_collections` rows (definitions, rules, indexes), in id order. */
  schemaChecksum: string;
  /** Records per collection (views have none of their own). */
  counts: Record<string, number>;
}

const WORKER = new URL('./sqlite-worker.js', import.meta.url);

function runWorker(data: {
  job: 'snapshot' | 'summary';
  source: string;
  target?: string;
}): Promise<DatabaseSummary> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { workerData: data });
    worker.once('message', (m: { ok: boolean; summary?: DatabaseSummary; message?: string }) => {
      if (m.ok && m.summary) resolve(m.summary);
      else reject(new Error(m.message ?? 'the SQLite job failed'));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (code !== 0) reject(new Error(`the SQLite job stopped with code ${code}`));
    });
  });
}

/**
 * Copies the live database at `source` to `target` with `VACUUM INTO`, from one read transaction on a
 * connection of its own in a worker thread: the copy and its summary are one consistent state, writers
 * are never blocked (WAL), and the event loop keeps serving. The online backup API was the other choice;
 * it restarts from the first page whenever another connection writes, so a steady writer could starve it.
 */
export function snapshotSqlite(source: string, target: string): Promise<DatabaseSummary> {
  return runWorker({ job: 'snapshot', source, target });
}

/** Checks a database file's integrity (`quick_check`) and summarizes it, for verifying an archive. */
export function summarizeSqlite(file: string): Promise<DatabaseSummary> {
  return runWorker({ job: 'summary', source: file });
}
