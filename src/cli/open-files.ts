import { readFileSync } from 'node:fs';
import type { Server } from 'node:net';
import type { Logger } from '../log/index.ts';

/** The process's open-file limit (RLIMIT_NOFILE); `Infinity` for unlimited. */
export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/**
 * The open-file limit from /proc/self/limits (Linux), or undefined elsewhere. Node itself raises the
 * soft limit to the hard limit when it starts, so this is the limit in effect after that raise.
 */
export function readOpenFileLimit(text?: string): OpenFileLimit | undefined {
  let limits = text;
  if (limits === undefined) {
    try {
      limits = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  if (!m) return undefined;
  const value = (s: string) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s));
  const soft = value(m[1]!);
  const hard = value(m[2]!);
  return Number.isNaN(soft) || Number.isNaN(hard) ? undefined : { soft, hard };
}

/**
 * How many client connections fit under an open-file limit. Every connection is one descriptor, and
 * the process needs others besides: about 30 at idle (stdio, the event loop, the SQLite files), up to
 * 10 pooled database connections, and, under load, files being uploaded or served, mail and S3
 * sockets, Redis, workers' pipes. So at least 128 are kept back, or a tenth of the limit when that is
 * more (work besides connections grows with traffic), and never more than half the limit.
 */
export function connectionCap(limit: number): number {
  const reserve = Math.max(128, Math.ceil(limit / 10));
  return Math.max(limit - reserve, Math.floor(limit / 2));
}

/** How often, at most, one line reports connections closed at the cap. */
const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * Caps the server's connections below the open-file limit and says so in one log line. Without a cap,
 * a server at the limit cannot accept (EMFILE): clients see their connections reset, nothing is logged,
 * and the database and files the process still needs fail to open. With it, Node closes a connection
 * over the cap at once (the client fails fast and a load balancer can retry elsewhere) and a warning
 * counts them. Returns the cap, or undefined when the limit is unknown or unlimited.
 */
export function capConnections(
  server: Server,
  log: Logger,
  limit: OpenFileLimit | undefined = readOpenFileLimit(),
): number | undefined {
  if (!limit || !Number.isFinite(limit.soft)) return undefined;
  const cap = connectionCap(limit.soft);
  server.maxConnections = cap;
  const low = cap < 1000;
  log[low ? 'warn' : 'info'](
    { openFileLimit: limit.soft, hardLimit: limit.hard, maxConnections: cap },
    `open-file limit ${limit.soft}: accepting at most ${cap} connections, the rest kept for the database and files${
      low ? '; raise the limit (LimitNOFILE= in a systemd unit, ulimit -n in a shell) to serve more' : ''
    }`,
  );
  let dropped = 0;
  let window: NodeJS.Timeout | undefined;
  server.on('drop', () => {
    dropped++;
    if (window) return;
    log.warn({ maxConnections: cap, dropped }, `connection cap of ${cap} reached: closing new connections`);
    dropped = 0;
    window = setTimeout(() => {
      window = undefined;
      if (dropped > 0)
        log.warn(
          { maxConnections: cap, dropped },
          `connection cap of ${cap} reached: closed ${dropped} more`,
        );
      dropped = 0;
    }, DROP_LOG_INTERVAL_MS);
    window.unref();
  });
  return cap;
}
