import type { ServerResponse } from 'node:http';
import { RealtimeClient } from './client.ts';
import type { Subscription } from './topics.ts';

/** Boot config of realtime (src/config/realtime.ts). */
export interface RealtimeLimits {
  /** Open streams one IP may hold; past this, 429. */
  maxClientsPerIp: number;
  /** Subscriptions one client may hold (PocketBase allows 1000 per request). */
  maxSubscriptions: number;
  /** Bytes a client may leave unread before it is disconnected. */
  bufferBytes: number;
  /** Seconds without a message or subscription change before a stream is closed. */
  idleTimeout: number;
  /** Seconds between SSE comments on a quiet stream. */
  heartbeat: number;
}

/**
 * The clients connected to this node and their subscriptions, indexed by topic so that an event finds its
 * subscribers without scanning every client.
 */
export class Broker {
  readonly #clients = new Map<string, RealtimeClient>();
  readonly #perIp = new Map<string, number>();
  readonly #byTopic = new Map<string, Set<RealtimeClient>>();
  readonly #timer: NodeJS.Timeout;

  readonly limits: RealtimeLimits;

  constructor(limits: RealtimeLimits) {
    this.limits = limits;
    // One timer for every client: heartbeats and idle checks at the heartbeat's pace.
    this.#timer = setInterval(() => this.#tick(), limits.heartbeat * 1000);
    this.#timer.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** A new client for this stream, or undefined if its IP holds too many already. */
  register(ip: string, res: ServerResponse): RealtimeClient | undefined {
    const count = this.#perIp.get(ip) ?? 0;
    if (count >= this.limits.maxClientsPerIp) return undefined;
    const client = new RealtimeClient(ip, res, this.limits, (c) => this.#unregister(c));
    this.#clients.set(client.id, client);
    this.#perIp.set(ip, count + 1);
    return client;
  }

  find(id: string): RealtimeClient | undefined {
    return this.#clients.get(id);
  }

  clients(): IterableIterator<RealtimeClient> {
    return this.#clients.values();
  }

  /** Replaces all of a client's subscriptions (PocketBase's `POST /api/realtime` semantics). */
  replace(client: RealtimeClient, subscriptions: readonly Subscription[]): void {
    for (const sub of client.subscriptions.values()) this.#unindex(client, sub.topic);
    client.subscriptions.clear();
    for (const sub of subscriptions) {
      if (!sub.raw) continue;
      client.subscriptions.set(sub.raw, sub);
      let set = this.#byTopic.get(sub.topic);
      if (!set) {
        set = new Set();
        this.#byTopic.set(sub.topic, set);
      }
      set.add(client);
    }
    client.lastActive = Date.now();
  }

  /** The clients subscribed to `topic` (with or without options). */
  subscribers(topic: string): ReadonlySet<RealtimeClient> | undefined {
    return this.#byTopic.get(topic);
  }

  /** Ends every stream (shutdown): clients reconnect, through a load balancer to another node. */
  closeAll(reason: string): void {
    clearInterval(this.#timer);
    for (const client of [...this.#clients.values()]) client.close(reason);
  }

  #unindex(client: RealtimeClient, topic: string): void {
    const set = this.#byTopic.get(topic);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.#byTopic.delete(topic);
  }

  #unregister(client: RealtimeClient): void {
    if (!this.#clients.delete(client.id)) return;
    for (const sub of client.subscriptions.values()) this.#unindex(client, sub.topic);
    const count = (this.#perIp.get(client.ip) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(client.ip);
    else this.#perIp.set(client.ip, count);
  }

  #tick(): void {
    const idleBefore = Date.now() - this.limits.idleTimeout * 1000;
    for (const client of [...this.#clients.values()]) {
      if (client.lastActive < idleBefore) client.close('The connection was idle for too long.');
      else client.heartbeat();
    }
  }
}
