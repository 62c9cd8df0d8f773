// The request logs' writer thread on SQLite (sinks.ts `workerSink`): its own connection to the log file
// (log-file-writer.js), one transaction per batch. Plain JavaScript on purpose, like
// sqlite-reader-worker.js: a worker loading TypeScript pays for its own copy of Node's type stripper. Its
// messages: `{seq, batch}` in (a flat batch of raw facts, entry-rows.js), `{seq, failed}` or `{seq, error}` out.
import { parentPort, workerData } from 'node:worker_threads';
import { openLogFile } from './log-file-writer.js';

const file = openLogFile(workerData.file);

parentPort.on('message', ({ seq, batch }) => {
  try {
    parentPort.postMessage({ seq, failed: file.write(batch) });
  } catch (err) {
    parentPort.postMessage({ seq, error: String(err?.message ?? err) });
  }
});
