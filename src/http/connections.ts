import type { Server } from 'node:http';
import type { Socket } from 'node:net';

const kOverLimit = Symbol('plinth.overConnectionLimit');

/** How long a connection past the limit may stay open without sending a request. */
const OVER_LIMIT_IDLE_MS = 5_000;

type Marked = Socket & { [kOverLimit]?: true };

/**
 * Caps the open connections per peer address. A connection past the cap is not refused outright (the
 * client would only see a reset): it is marked, its requests are answered 503 with `Connection: close`
 * (see `isOverConnectionLimit`), and it is destroyed if it stays idle. The peer is the TCP peer: behind a
 * reverse proxy that is the proxy, so raise the cap or set it to 0 there. `max` 0: no cap.
 */
export function limitConnectionsPerIp(server: Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  server.on('connection', (socket: Marked) => {
    const ip = socket.remoteAddress ?? '';
    const n = open.get(ip) ?? 0;
    if (n >= max) {
      socket[kOverLimit] = true;
      const timer = setTimeout(() => socket.destroy(), OVER_LIMIT_IDLE_MS).unref();
      socket.once('close', () => clearTimeout(timer));
      return;
    }
    open.set(ip, n + 1);
    socket.once('close', () => {
      const left = (open.get(ip) ?? 1) - 1;
      if (left > 0) open.set(ip, left);
      else open.delete(ip);
    });
  });
}

/** True for a connection opened past its address's cap: answer 503 and close it. */
export function isOverConnectionLimit(socket: Socket | null | undefined): boolean {
  return (socket as Marked | null | undefined)?.[kOverLimit] === true;
}
