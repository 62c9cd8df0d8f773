import type { Config } from '../config/index.ts';

// Apart from start-app.ts, which loads the whole app: the primary of `--workers N` needs only these.

/** Seconds past the drain deadline that closing the rest (database, mail) may take before the process quits. */
export const CLOSE_GRACE_SECONDS = 10;

/** What `serve` prints once it answers: where, and with how many processes. */
export function banner(config: Config, cap: number | undefined, workers = 1): string {
  const base = config.appUrl;
  const lines = [
    `Plinth is listening on http://${config.host}:${config.port}`,
    `  REST API:  ${base}/api/`,
    `  Dashboard: ${base}/_/`,
    `  Data:      ${config.dataDir}`,
  ];
  if (workers > 1) lines.push(`  Workers:   ${workers} processes`);
  if (cap) lines.push(`  Connections: at most ${cap}${workers > 1 ? ' a worker' : ''} (open-file limit)`);
  return `\n${lines.join('\n')}\n\n`;
}
