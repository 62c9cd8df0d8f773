import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../errors/index.ts';
import type { Logger } from '../log/index.ts';

/** Seconds a client is told to wait (`Retry-After`) when it reaches a node that is shutting down. */
const RETRY_AFTER_SECONDS = 5;

/** The shutdown state of one HTTP server. */
export interface Drain {
  /** True from the moment a shutdown starts: every new request is answered 503. */
  readonly draining: boolean;
  /**
   * Stops accepting connections and lets in-flight requests finish; after `timeoutMs` the connections
   * that remain (a client that stalls mid-request, a stream that never ends) are destroyed, so the
   * shutdown finishes whatever the clients do. Resolves once the server is closed.
   */
  close(timeoutMs: number): Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    drain: Drain;
  }
}

/**
 * Installs graceful shutdown on a Fastify server; call before any other `onRequest` hook that does work
 * (only CORS's comes first), so that no work starts for a request that arrives during the drain.
 *
 * Node's own `server.close()` drops idle keep-alive connections at once, so a client that is sending
 * its next request at that moment gets a reset and cannot tell whether it was processed. Here idle
 * connections stay open while requests are still in flight: a request that arrives on one is answered
 * 503 with `Retry-After` and `Connection: close`, which a client or load balancer can safely retry
 * elsewhere. Once nothing is in flight the idle connections are closed, and the server closes.
 */
export function installDrain(app: FastifyInstance, log: Logger): void {
  const server = app.server;
  let draining = false;
  let inFlight = 0;
  let closing: Promise<void> | undefined;
  const sockets = new Set<Socket>();

  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (_req, res) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (draining && inFlight === 0) closeAll();
    });
  });

  const closeIdle = server.closeIdleConnections.bind(server);
  /**
   * Nothing is in flight: every connection left is idle, or open without having sent a request yet (Node
   * counts those as busy and would wait for them). Idle ones close at once; the rest on the next turn,
   * once a response that just ended has released its connection.
   */
  const closeAll = () => {
    closeIdle();
    setImmediate(() => {
      if (inFlight === 0) for (const socket of sockets) socket.destroy();
    });
  };
  // Node calls this from server.close(): keep idle connections while other requests are in flight.
  server.closeIdleConnections = () => {
    if (inFlight === 0) closeAll();
  };

  // Any close path (app.close() or a direct server.close()) starts the drain.
  app.addHook('preClose', (done) => {
    draining = true;
    done();
  });
  app.addHook('onRequest', (_request, reply, done) => {
    if (!draining) return done();
    const err = new ApiError(503, 'The server is shutting down; retry the request.');
    reply
      .code(503)
      .header('retry-after', String(RETRY_AFTER_SECONDS))
      .header('connection', 'close')
      .send(err.toJSON());
  });

  app.decorate('drain', {
    get draining() {
      return draining;
    },
    close(timeoutMs: number) {
      closing ??= new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(() => {
          log.warn(
            { connections: sockets.size, timeoutMs },
            'shutdown deadline passed: closing the connections that remain',
          );
          for (const socket of sockets) socket.destroy();
        }, timeoutMs);
        app.close().then(
          () => {
            clearTimeout(deadline);
            resolve();
          },
          (err: unknown) => {
            clearTimeout(deadline);
            reject(err);
          },
        );
      });
      return closing;
    },
  } satisfies Drain);
}
