import cluster from 'node:cluster';
import type { Config } from '../config/index.ts';
import { createLogger } from '../log/index.ts';

/**
 * `plinth serve`: listens until SIGTERM/SIGINT, then drains in-flight requests for up to
 * `shutdownTimeout` seconds and closes the database. A second signal exits at once. With more than one
 * worker this process supervises that many worker processes on one port (workers.ts), each of which runs
 * `serveWorker` (worker.ts).
 */
export async function serve(config: Config): Promise<number> {
  // Loaded when needed: the primary of `--workers N` builds no app and keeps its memory small.
  if (cluster.isWorker) return (await import('./worker.ts')).serveWorker(config);
  const log = createLogger(config.logLevel);
  if (config.workers > 1) return (await import('./workers.ts')).superviseWorkers(config, log);
  return (await import('./alone.ts')).serveAlone(config, log);
}
