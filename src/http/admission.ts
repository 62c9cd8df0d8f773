import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdmissionConfig } from '../config/index.ts';
import { AdmissionGate, type Waiter } from './admission-gate.ts';
import { isOverConnectionLimit, limitConnectionsPerIp } from './connections.ts';
import { watchEventLoop } from './loop-watch.ts';
import { createMemoryRelief } from './memory-relief.ts';

/** Liveness and readiness probes: answered under any load, never queued nor rate limited. */
const PROBES = ['/api/health', '/api/plinth/ready'];
/** Probes, and realtime streams that stay open for hours (they would hold a slot all that time). */
const EXEMPT = [...PROBES, '/api/realtime'];

/** Sent as `Retry-After` with every 503 and 429 of this file: overload passes in seconds, not minutes. */
const RETRY_AFTER = '1';
const JSON_TYPE = 'application/json; charset=utf-8';
const errorBody = (status: number, message: string) => JSON.stringify({ status, message, data: {} });
const BUSY = errorBody(503, 'The server is busy; try again shortly.');
const PER_IP = errorBody(429, 'Too many requests in progress from this address; try again shortly.');
const CONNECTIONS = errorBody(503, 'Too many connections from this address.');

// Per-request state lives on the raw response, so the hooks need no closure or object for it.
const kPhase = Symbol('plinth.admission');
const kIp = Symbol('plinth.admission.ip');
const kWaiter = Symbol('plinth.admission.waiter');
const RUNNING = 1;
const QUEUED = 2;
const ORPHANED = 3;
const DONE = 4;

type Tracked = ServerResponse & { [kPhase]?: number; [kIp]?: string; [kWaiter]?: Waiter };
/** The responses a connection has admitted or queued and not yet answered (more than one if pipelined). */
const kOpen = Symbol('plinth.admission.open');
type TrackedSocket = Socket & { [kOpen]?: Set<Tracked> };

/**
 * Notes `res` as open on its connection. One 'close' listener per connection (see installAdmission) rather
 * than one per response: a listener per request cost ~1.5 µs, a third of what admission costs a request.
 */
function track(res: Tracked): void {
  const socket = res.socket as TrackedSocket | null;
  if (!socket) return;
  let open = socket[kOpen];
  if (!open) {
    open = new Set();
    socket[kOpen] = open;
  }
  open.add(res);
}

function untrack(res: Tracked): void {
  (res.socket as TrackedSocket | null)?.[kOpen]?.delete(res);
}

const startsWithAny = (url: string, prefixes: readonly string[]) => {
  for (const prefix of prefixes) if (url.startsWith(prefix)) return true;
  return false;
};

/** True for the health and readiness probes, which no limit may slow down. */
export const isProbe = (url: string): boolean => startsWithAny(url, PROBES);

/** What the gate holds now (for tests and, later, metrics). */
export interface AdmissionStats {
  readonly inFlight: number;
  readonly queued: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    admission: AdmissionStats;
  }
}

function reject(reply: FastifyReply, status: number, body: string): void {
  reply.code(status).header('retry-after', RETRY_AFTER).type(JSON_TYPE).send(body);
}

/**
 * Admission control. Requests are admitted at `onRequest`, before their body is read, so a queued request
 * holds no body; past the queue, or while the event loop runs late (loop-watch.ts), they are answered 503
 * with `Retry-After` at once. Also the per-IP limits on connections and on requests in progress. Install
 * before the auth hook: a request that will be shed must not first cost a token check. Probes and realtime
 * streams pass untouched.
 *
 * A slot is held until the handler answers (`onSend`), not until the response is written, so slow readers
 * do not hold slots. A queued request whose client leaves is dropped without running; one that is running
 * keeps its slot until it finishes (its work is still going on) and its answer is written nowhere.
 */
export function installAdmission(app: FastifyInstance, limits: AdmissionConfig): void {
  const gate = new AdmissionGate(limits);
  const relief = createMemoryRelief(() => gate.queued === 0);
  const loop = watchEventLoop(limits.maxEventLoopDelayMs);
  limitConnectionsPerIp(app.server, limits.maxConnectionsPerIp);
  app.decorate('admission', {
    get inFlight() {
      return gate.inFlight;
    },
    get queued() {
      return gate.queued;
    },
  } satisfies AdmissionStats);

  // A connection that closes takes its open responses with it: each is handled as closed before its end.
  app.server.on('connection', (socket: TrackedSocket) => {
    socket.once('close', () => {
      const open = socket[kOpen];
      socket[kOpen] = undefined;
      if (open) for (const res of open) onClose.call(res);
    });
  });

  function onClose(this: Tracked): void {
    const phase = this[kPhase];
    if (phase === QUEUED) {
      this[kPhase] = DONE;
      gate.cancel(this[kWaiter] as Waiter);
    } else if (phase === RUNNING) {
      // Finished without onSend (a hijacked reply): free the slot; otherwise the client left mid-work.
      if (this.writableFinished) {
        this[kPhase] = DONE;
        gate.leave(this[kIp] as string);
      } else {
        this[kPhase] = ORPHANED;
        gate.orphan(this, this[kIp] as string);
      }
    }
  }

  app.addHook('onRequest', (request, reply, done) => {
    const res = reply.raw as Tracked;
    if (isOverConnectionLimit(request.raw.socket)) {
      reply.header('connection', 'close');
      return reject(reply, 503, CONNECTIONS);
    }
    if (startsWithAny(request.url, EXEMPT)) return done();
    if (loop.late()) {
      relief.pressure();
      return reject(reply, 503, BUSY);
    }
    const ip = request.ip;
    const verdict = gate.enter(ip);
    if (verdict === 'run') {
      res[kPhase] = RUNNING;
      res[kIp] = ip;
      track(res);
      return done();
    }
    if (verdict === 'ip') return reject(reply, 429, PER_IP);
    relief.pressure();
    if (verdict === 'queue') return queue(request, reply, res, ip, done);
    reject(reply, 503, BUSY);
  });

  function queue(
    request: FastifyRequest,
    reply: FastifyReply,
    res: Tracked,
    ip: string,
    done: () => void,
  ): void {
    const waiter: Waiter = {
      ip,
      at: 0,
      prev: undefined,
      next: undefined,
      queued: false,
      ipPrev: undefined,
      ipNext: undefined,
      run() {
        const socket = request.raw.socket;
        if (!socket || socket.destroyed) {
          // Gone before its 'close' event was delivered: never run it.
          res[kPhase] = DONE;
          gate.leave(ip);
          return;
        }
        res[kPhase] = RUNNING;
        done();
      },
      expire() {
        res[kPhase] = DONE;
        untrack(res);
        reject(reply, 503, BUSY);
      },
    };
    res[kPhase] = QUEUED;
    res[kIp] = ip;
    res[kWaiter] = waiter;
    track(res);
    gate.wait(waiter);
  }

  app.addHook('onSend', (_request, reply, payload, done) => {
    const res = reply.raw as Tracked;
    const phase = res[kPhase];
    if (phase === RUNNING) {
      res[kPhase] = DONE;
      untrack(res);
      gate.leave(res[kIp] as string);
    } else if (phase === ORPHANED) {
      res[kPhase] = DONE;
      gate.finish(res);
    }
    done(null, payload);
  });
  app.addHook('onClose', (_app, done) => {
    gate.close();
    relief.close();
    loop.close();
    done();
  });
}
