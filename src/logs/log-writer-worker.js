// The request logs' writer thread on SQLite (sinks.ts `workerSink`): its own connection to the log file
// (log-file-writer.js), one transaction per batch. Plain JavaScript on purpose, like
// sqlite-reader-worker.js: a worker loading TypeScript pays for its own copy of Node's type stripper. Its
// messages: `{seq, batch}` in (a batch of raw facts as bytes, entry-pack.js, moved to this thread),
// `{seq, failed, bytes}` (the batch's buffer, moved back) or `{seq, error}` out.
import { parentPort, workerData } from 'node:worker_threads';
import { openLogFile } from './log-file-writer.js';

const file = openLogFile(workerData.file);

parentPort.on('message', ({ seq, batch }) => {
  try {
    const failed = file.write(batch);
    // The buffer goes back for the next batches (entry-pack.js `recycle`).
    parentPort.postMessage({ seq, failed, bytes: batch.bytes }, [batch.bytes.buffer]);
  } catch (err) {
    parentPort.postMessage({ seq, error: String(err?.message ?? err) });
  }
});
