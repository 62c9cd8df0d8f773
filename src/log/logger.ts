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
];

/**
 * The root logger; modules take `log.child({ module })`. `destination` is for tests. Standard output is
 * written asynchronously: lines logged while a write is in flight go out together in the next one, so a
 * busy server does not block on one write per request (call `log.flush()` before exiting).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
