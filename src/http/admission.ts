import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdmissionConfig } from '../config/index.ts';
import { ApiError } from '../errors/index.ts';
import { http } from '../lib/index.ts';
import { AdmissionGate, newWaiter, type Waiter } from './admission-gate.ts';
import { isOverConnectionLimit, limitConnectionsPerIp } from './connections.ts';
import { watchEventLoop } from './loop-watch.ts';
import { createMemoryRelief } from './memory-relief.ts';

/**
 * Liveness and readiness probes, and the metrics scrape: answered under any load (an overload is when
 * they matter most), never queued nor rate limited.
 */
const PROBES = ['/api/health', '/api/plinth/ready', '/metrics'];
/** Probes, and realtime streams that stay open for hours (they would hold a slot all that time). */
const EXEMPT = [...PROBES, '/api/realtime'];

/** Sent as `Retry-After` with every 503 and 429 of this file: overload passes in seconds, not minutes. */
const RETRY_AFTER = '1';
const JSON_TYPE = 'application/json; charset=utf-8';
const errorBody = (status: number, message: string) => JSON.stringify({ status, message, data: {} });
const BUSY_MESSAGE = 'The server is busy; try again shortly.';
const PER_IP_MESSAGE = 'Too many requests in progress from this address; try again shortly.';
const BUSY = errorBody(503, BUSY_MESSAGE);
const PER_IP = errorBody(429, PER_IP_MESSAGE);
const CONNECTIONS = errorBody(503, 'Too many connections from this address.');

const RUNNING = 1;
const QUEUED = 2;
const ORPHANED = 3;
const DONE = 4;
/** Reading its body outside a slot (`outsideSlot`). */
const OUTSIDE = 5;

/**
 * The server's responses, with admission's state as fields of their own: set in the constructor, so every
 * response has one shape, and `writeHead()` frees the slot. Writing the head is the moment the handler
 * has answered: the body, a streamed file say, may still be on its way to a slow reader, which holds no
 * slot. Hooking it here rather than with an `onSend` hook saves a Fastify hook run per request.
 */
export interface AdmittedResponse extends ServerResponse {
  /** 0 until admission has seen the request (probes and realtime streams stay 0). */
  phase: number;
  ip: string;
  waiter: Waiter | undefined;
  /** Set while a request waits to take its slot back: its client left, so it never will. */
  onGone: (() => void) | undefined;
}

/** The responses a connection has admitted or queued and not yet answered (more than one if pipelined). */
const kOpen = Symbol('plinth.admission.open');
type TrackedSocket = Socket & { [kOpen]?: Set<AdmittedResponse> };

/**
 * Notes `res` as open on its connection. One 'close' listener per connection (see createAdmission) rather
 * than one per response: a listener per request cost ~1.5 µs, a third of what admission costs a request.
 */
function track(res: AdmittedResponse): void {
  const socket = res.socket as TrackedSocket | null;
  if (!socket) return;
  let open = socket[kOpen];
  if (!open) {
    open = new Set();
    socket[kOpen] = open;
  }
  open.add(res);
}

function untrack(res: AdmittedResponse): void {
  (res.socket as TrackedSocket | null)?.[kOpen]?.delete(res);
}

const startsWithAny = (url: string, prefixes: readonly string[]) => {
  for (const prefix of prefixes) if (url.startsWith(prefix)) return true;
  return false;
};

/** True for the health and readiness probes, which no limit may slow down. */
export const isProbe = (url: string): boolean => startsWithAny(url, PROBES);

/** Why admission refused requests: queue full, waited too long, event loop late, per IP, connections per IP. */
export type ShedReason = 'queue_full' | 'queue_timeout' | 'event_loop' | 'per_ip' | 'connections';

/** What the gate holds now (for tests and metrics), and the one way around it. */
export interface AdmissionStats {
  readonly inFlight: number;
  readonly queued: number;
  /** Requests refused (503 or 429) since start, by reason. */
  readonly shed: Readonly<Record<ShedReason, number>>;
  /**
   * Runs `work` (reading a long upload, waiting for a thumbnail) without holding a slot: a slow uploader
   * waits on the network, not on the server, and must not keep others out; nor must work that has a cap
   * of its own. Afterwards the request takes a slot again as a new one
   * would: at once, after a wait in the queue, or a 503 or 429 (thrown) past the limits.
   */
  outsideSlot<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T>;
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
 * A slot is held until the handler answers (the response's `writeHead()`), not until the response is written, so slow readers
 * do not hold slots. A queued request whose client leaves is dropped without running; one that is running
 * keeps its slot until it finishes (its work is still going on) and its answer is written nowhere.
 */
export interface Admission {
  /** The class of the server's responses: pass it as Node's `ServerResponse` server option. */
  readonly Response: typeof ServerResponse;
  /** Installs the hooks on the Fastify instance whose server was created with `Response`. */
  install(app: FastifyInstance): void;
  /** How many running requests wait only for their write's sync to disk (`AdmissionGate.parked`). */
  parked(writes: number): void;
}

export function createAdmission(limits: AdmissionConfig): Admission {
  const gate = new AdmissionGate(limits);

  /** The handler has answered: its slot goes to the next request. */
  const answered = (res: AdmittedResponse) => {
    if (res.phase === RUNNING) {
      res.phase = DONE;
      untrack(res);
      gate.leave(res.ip);
    } else if (res.phase === ORPHANED) {
      res.phase = DONE;
      gate.finish(res);
    }
  };

  class Response extends http.ServerResponse implements AdmittedResponse {
    phase = 0;
    ip = '';
    waiter: Waiter | undefined = undefined;
    onGone: (() => void) | undefined = undefined;

    // Node's own signature is overloaded; every form goes through unchanged. Node calls writeHead itself
    // when a response is ended or written without it.
    override writeHead(code: number, reason?: unknown, headers?: unknown): this {
      answered(this);
      return (super.writeHead as (c: number, r?: unknown, h?: unknown) => this)(code, reason, headers);
    }
  }

  return {
    Response: Response as typeof ServerResponse,
    install: (app) => install(app, limits, gate, answered),
    parked: (writes) => gate.parked(writes),
  };
}

/**
 * A response made by something other than the server (Fastify's `inject`, which builds its own) gets the
 * same state and `writeHead` on the instance. Only such responses pay for it.
 */
function adopt(res: ServerResponse, answered: (res: AdmittedResponse) => void): AdmittedResponse {
  const r = res as AdmittedResponse;
  if (r.phase !== undefined) return r;
  r.phase = 0;
  r.ip = '';
  r.waiter = undefined;
  r.onGone = undefined;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    answered(r);
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  return r;
}

function install(
  app: FastifyInstance,
  limits: AdmissionConfig,
  gate: AdmissionGate,
  answered: (res: AdmittedResponse) => void,
): void {
  const relief = createMemoryRelief(() => gate.queued === 0);
  const loop = watchEventLoop(limits.maxEventLoopDelayMs);
  limitConnectionsPerIp(app.server, limits.maxConnectionsPerIp);
  const shed: Record<ShedReason, number> = {
    queue_full: 0,
    queue_timeout: 0,
    event_loop: 0,
    per_ip: 0,
    connections: 0,
  };
  app.decorate('admission', {
    get inFlight() {
      return gate.inFlight;
    },
    get queued() {
      return gate.queued;
    },
    shed,
    async outsideSlot<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
      const res = reply.raw as AdmittedResponse;
      if (res.phase !== RUNNING) return work();
      res.phase = OUTSIDE;
      untrack(res);
      gate.leave(res.ip);
      const result = await work();
      await takeSlotBack(res, reply);
      return result;
    },
  } satisfies AdmissionStats);

  /** A request coming back from `outsideSlot` enters the gate as a new one would. */
  function takeSlotBack(res: AdmittedResponse, reply: FastifyReply): Promise<void> {
    const ip = res.ip;
    const verdict = gate.enter(ip);
    if (verdict === 'run') {
      res.phase = RUNNING;
      track(res);
      return Promise.resolve();
    }
    reply.header('retry-after', RETRY_AFTER);
    if (verdict === 'ip') {
      shed.per_ip++;
      throw new ApiError(429, PER_IP_MESSAGE);
    }
    if (verdict === 'busy') {
      shed.queue_full++;
      throw new ApiError(503, BUSY_MESSAGE);
    }
    return new Promise((resolve, fail) => {
      const waiter = newWaiter(
        ip,
        () => {
          res.onGone = undefined;
          res.phase = RUNNING;
          resolve();
        },
        () => {
          res.onGone = undefined;
          res.phase = DONE;
          untrack(res);
          shed.queue_timeout++;
          fail(new ApiError(503, BUSY_MESSAGE));
        },
      );
      res.onGone = () => fail(new ApiError(503, 'The client has gone.'));
      res.phase = QUEUED;
      res.waiter = waiter;
      track(res);
      gate.wait(waiter);
    });
  }

  // A connection that closes takes its open responses with it: each is handled as closed before its end.
  app.server.on('connection', (socket: TrackedSocket) => {
    socket.once('close', () => {
      const open = socket[kOpen];
      socket[kOpen] = undefined;
      if (open) for (const res of open) onClose(res);
    });
  });

  function onClose(res: AdmittedResponse): void {
    if (res.phase === QUEUED) {
      res.phase = DONE;
      gate.cancel(res.waiter as Waiter);
      res.onGone?.();
      res.onGone = undefined;
    } else if (res.phase === RUNNING) {
      // Finished without writeHead() (a hijacked reply): free the slot; otherwise the client left mid-work.
      if (res.writableFinished) {
        res.phase = DONE;
        gate.leave(res.ip);
      } else {
        res.phase = ORPHANED;
        gate.orphan(res, res.ip);
      }
    }
  }

  app.addHook('onRequest', (request, reply, done) => {
    const res = adopt(reply.raw, answered);
    if (isOverConnectionLimit(request.raw.socket)) {
      shed.connections++;
      reply.header('connection', 'close');
      return reject(reply, 503, CONNECTIONS);
    }
    if (startsWithAny(request.url, EXEMPT)) return done();
    if (loop.late()) {
      shed.event_loop++;
      relief.pressure();
      return reject(reply, 503, BUSY);
    }
    const ip = request.ip;
    const verdict = gate.enter(ip);
    if (verdict === 'run') {
      res.phase = RUNNING;
      res.ip = ip;
      track(res);
      return done();
    }
    if (verdict === 'ip') {
      shed.per_ip++;
      return reject(reply, 429, PER_IP);
    }
    relief.pressure();
    if (verdict === 'queue') return queue(request, reply, res, ip, done);
    shed.queue_full++;
    reject(reply, 503, BUSY);
  });

  function queue(
    request: FastifyRequest,
    reply: FastifyReply,
    res: AdmittedResponse,
    ip: string,
    done: () => void,
  ): void {
    const waiter = newWaiter(
      ip,
      () => {
        const socket = request.raw.socket;
        if (!socket || socket.destroyed) {
          // Gone before its 'close' event was delivered: never run it.
          res.phase = DONE;
          gate.leave(ip);
          return;
        }
        res.phase = RUNNING;
        done();
      },
      () => {
        res.phase = DONE;
        untrack(res);
        shed.queue_timeout++;
        reject(reply, 503, BUSY);
      },
    );
    res.phase = QUEUED;
    res.ip = ip;
    res.waiter = waiter;
    track(res);
    gate.wait(waiter);
  }

  app.addHook('onClose', (_app, done) => {
    gate.close();
    relief.close();
    loop.close();
    done();
  });
}
