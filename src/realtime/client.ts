import { randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AuthContext } from '../records/index.ts';
import type { Subscription } from './topics.ts';

/** Limits of one realtime connection (boot config `realtime*`, docs/realtime.md). */
export interface ClientLimits {
  /** Bytes written to the socket and not yet taken by the client; past this it is disconnected. */
  bufferBytes: number;
}

/** The auth a client's subscriptions were bound with (`POST /api/realtime`), and until when it holds. */
export interface ClientAuth {
  context: AuthContext;
  /** Epoch ms when the token it came from expires; the client is a guest from then on. */
  expiresAt: number;
}

const GUEST_AUTH = undefined;

/**
 * One open `GET /api/realtime` stream. Messages are SSE frames in PocketBase's format (`id` = the client
 * id, `event` = the subscription, `data` = JSON). Writes never wait: a client that does not read its
 * stream fills its socket buffer and is disconnected once that passes `bufferBytes`, so it cannot hold
 * memory nor slow the others.
 */
export class RealtimeClient {
  /** 40 random characters, as PocketBase's: the stream's only credential for `POST /api/realtime`. */
  readonly id = randomBytes(30).toString('base64url');
  readonly subscriptions = new Map<string, Subscription>();
  /** Set through `Broker.bind`, which also regroups the client's subscriptions. */
  auth: ClientAuth | undefined = GUEST_AUTH;
  /** Epoch ms of the last message or subscription change (the idle timeout counts from it). */
  lastActive = Date.now();
  #closed = false;
  #onClose: (client: RealtimeClient) => void;

  readonly ip: string;
  readonly res: ServerResponse;
  readonly limits: ClientLimits;

  constructor(
    ip: string,
    res: ServerResponse,
    limits: ClientLimits,
    onClose: (client: RealtimeClient) => void,
  ) {
    this.ip = ip;
    this.res = res;
    this.limits = limits;
    this.#onClose = onClose;
    res.once('close', () => this.close());
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The auth bound to the client, unless its token has expired (the broker then makes it a guest). */
  authContext(now = Date.now()): AuthContext | undefined {
    const auth = this.auth;
    return auth && auth.expiresAt > now ? auth.context : undefined;
  }

  /** Sends one message; `data` is its JSON text. */
  send(event: string, data: string): void {
    this.lastActive = Date.now();
    this.#write(`id:${this.id}\nevent:${event}\ndata:${data}\n\n`);
  }

  /** An SSE comment: keeps proxies and load balancers from closing a quiet stream. Not activity. */
  heartbeat(): void {
    this.#write(':\n\n');
  }

  /**
   * Ends the stream. With a reason, a last `PB_DISCONNECT` message says why first (a client that
   * subscribed to that topic sees it; the SDK reconnects either way).
   */
  close(reason?: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (reason && !this.res.destroyed) {
      this.res.end(`id:${this.id}\nevent:PB_DISCONNECT\ndata:${JSON.stringify({ reason })}\n\n`);
      // A client that reads nothing would keep the socket open with its backlog: give it a moment.
      setTimeout(() => this.res.destroy(), 1000).unref();
    } else {
      this.res.destroy();
    }
    this.#onClose(this);
  }

  #write(frame: string): void {
    if (this.#closed) return;
    if (this.res.writableLength > this.limits.bufferBytes) {
      this.close('The client fell too far behind reading its messages.');
      return;
    }
    this.res.write(frame);
  }
}
