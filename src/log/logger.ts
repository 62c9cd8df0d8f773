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

/** The root logger; modules take `log.child({ module })`. `destination` is for tests. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
