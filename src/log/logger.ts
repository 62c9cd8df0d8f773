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
/** Lines go to the stream in chunks of at least this many characters (see `chunked`). */
const CHUNK = 16 * 1024;

/**
 * The root logger; modules take `log.child({ module })`. `destination` is for tests. Standard output is
 * buffered and written asynchronously in chunks of 16 KiB or every 200 ms, whichever comes first: one write
 * per request would cost a busy server more than the logging itself. `log.flush()` before exiting.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  if (destination || level === 'silent') return pino(options, destination);
  // When the process is about to end pino writes what sonic-boom holds (and then closes it): the lines
  // waiting here must reach it first, so these listeners go before the ones pino.destination adds.
  let stdout: ReturnType<typeof chunked> | undefined;
  const handOver = () => stdout?.handOver();
  process.on('beforeExit', handOver);
  process.on('exit', handOver);
  stdout = chunked(pino.destination({ dest: 1, sync: false, minLength: 4096 }));
  const flushing = stdout;
  setInterval(() => flushing.flush(), FLUSH_INTERVAL_MS).unref();
  return pino(options, stdout);
}

type Destination = ReturnType<typeof pino.destination>;

/**
 * Collects lines and hands them to sonic-boom a chunk at a time. sonic-boom measures the UTF-8 length of
 * all the text it holds at each write, so a line a write (one a request) cost the get-by-id bench a few
 * percent of its CPU (docs/benchmarks.md, "Standard output"); a chunk a write costs it once a chunk.
 */
function chunked(stream: Destination) {
  let lines: string[] = [];
  let size = 0;
  /** Gives sonic-boom the lines held here. */
  const handOver = () => {
    if (size === 0) return;
    const text = lines.join('');
    lines = [];
    size = 0;
    stream.write(text);
  };
  return {
    handOver,
    write(line: string): void {
      lines.push(line);
      size += line.length;
      if (size >= CHUNK) handOver();
    },
    flush(done?: (err?: Error) => void): void {
      handOver();
      stream.flush(done);
    },
    flushSync(): void {
      handOver();
      try {
        stream.flushSync();
      } catch {
        // Not open yet, or already closed (a broken pipe): nothing more can be written.
      }
    },
  };
}
