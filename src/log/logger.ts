import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach the log: credentials, tokens, cookies. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.passwordConfirm',
  '*.oldPassword',
  '*.token',
  '*.tokenKey',
  '*.secret',
  // Driver errors (mysql2) carry the statement with its values written in: hashes, keys, settings.
  'err.sql',
  '*.err.sql',
];

/** Buffered output is written at least this often, so a quiet server's lines are never held back long. */
const FLUSH_INTERVAL_MS = 200;

/**
 * The root logger; modules take `log.child({ module })`. `destination` is for tests. Standard output is
 * buffered and written asynchronously in chunks of 4 KiB or every 200 ms, whichever comes first: one write
 * per request would cost a busy server more than the logging itself. `log.flush()` before exiting.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (destination || level === 'silent') return pino(options, destination);
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096 });
  setInterval(() => stdout.flush(), FLUSH_INTERVAL_MS).unref();
  return pino(options, stdout);
}
