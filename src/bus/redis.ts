import { randomUUID } from 'node:crypto';
import { lazyPackage } from '../lib/index.ts';
import { type Bus, type BusHandler, deliverCopies, type PublishOptions } from './bus.ts';
import { createMemoryCounters, type WindowCounters } from './counters.ts';
import { createRedisCounters } from './redis-counters.ts';

const ioredis = lazyPackage<typeof import('ioredis')>('ioredis');

export interface RedisBusOptions {
  url: string;
  /** Prepended to every channel, so that several apps (or test runs) can share one Redis. */
  prefix?: string;
  onError?: (err: unknown, topic: string) => void;
  /** Lost and regained connections, and messages that could not be sent to other nodes. */
  onStatus?: (event: 'down' | 'up' | 'not-sent', detail: string) => void;
  /** Where counting goes while Redis is down (default: this process's memory). */
  fallbackCounters?: WindowCounters;
}

export interface RedisBus extends Bus {
  /** True while both connections to Redis are up. */
  readonly connected: boolean;
  /** Resolves once Redis has confirmed every topic subscribed so far (after an outage: again). */
  subscribed(): Promise<void>;
  /**
   * A round trip to Redis (`PING` on the publishing connection): resolves when Redis answers, rejects at
   * once while the connection is down (no offline queue) and after the command timeout (1 s) when it
   * hangs. The readiness check.
   */
  ping(): Promise<void>;
  /** Counters shared by every node (sign-in throttling, rate limits); this node's own while Redis is down. */
  readonly counters: WindowCounters;
  /**
   * `publish`, telling apart the handlers of this node it reached (`here`) and the other nodes (`others`:
   * undefined when Redis did not take the message, so that no other node has it; this node's handlers
   * have it all the same).
   */
  send(
    topic: string,
    message: unknown,
    options?: PublishOptions,
  ): Promise<{ here: number; others: number | undefined }>;
}

/**
 * Channel names carry the topic as it is (topics are Plinth's own fixed strings). `e`: an ordered message,
 * which its own node's handlers hear when Redis sends it back.
 */
const envelope = (node: string, message: unknown, echo: boolean) =>
  JSON.stringify(echo ? { n: node, e: 1, m: message ?? null } : { n: node, m: message ?? null });

/**
 * The bus of a cluster: every message goes to this node's handlers at once (as on the memory bus; an
 * ordered one when Redis sends it back) and to every other node through Redis pub/sub. Handlers on this node never wait for Redis, so while Redis is
 * down each node keeps working alone: what it publishes then reaches no other node (reported through
 * `onStatus`), and ioredis reconnects by itself and subscribes again. Publishing never waits for a
 * connection that is down (no offline queue), so nothing hangs on a lost Redis.
 */
export function createRedisBus(options: RedisBusOptions): RedisBus {
  const prefix = options.prefix ?? 'plinth:';
  const node = randomUUID();
  const handlers = new Map<string, Set<BusHandler>>();
  const connection = () =>
    new (ioredis().Redis)(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      // A Redis that accepts connections but does not answer (stopped, overloaded) must not hang requests.
      commandTimeout: 1000,
      // Reconnect quickly at first, then every 2 s at most.
      retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      // Subscriptions are made again on each 'ready' below, from the handlers this node has.
      autoResubscribe: false,
    });
  const pub = connection();
  const sub = connection();
  const counters = createRedisCounters(pub, prefix, options.fallbackCounters ?? createMemoryCounters());
  let closed = false;
  let wasUp = false;
  const connected = () => pub.status === 'ready' && sub.status === 'ready';
  const report = () => {
    if (closed) return;
    const up = connected();
    if (up !== wasUp) options.onStatus?.(up ? 'up' : 'down', options.url.replace(/\/\/[^@]*@/, '//***@'));
    wasUp = up;
  };
  for (const c of [pub, sub]) {
    c.on('ready', report);
    c.on('close', report);
    // ioredis reports every failed attempt here; `report` says it once per change instead.
    c.on('error', () => {});
  }

  /** The topics Redis has confirmed this node's subscription to (publish counts this node apart). */
  const subscribed = new Set<string>();
  /** Callers of `subscribed()` waiting for every topic with handlers to be confirmed. */
  let confirming: (() => void)[] = [];
  const settleConfirming = () => {
    if (confirming.length === 0) return;
    for (const topic of handlers.keys()) if (!subscribed.has(topic)) return;
    const done = confirming;
    confirming = [];
    for (const resolve of done) resolve();
  };
  const subscribeTopics = (topics: string[]) =>
    sub
      .subscribe(...topics.map((topic) => prefix + topic))
      .then(() => {
        for (const topic of topics) if (handlers.has(topic)) subscribed.add(topic);
        settleConfirming();
      })
      .catch((err) => options.onError?.(err, topics.join()));
  sub.on('ready', () => {
    const all = [...handlers.keys()];
    if (all.length) subscribeTopics(all);
  });
  sub.on('close', () => subscribed.clear());

  const deliver = (topic: string, text: string) =>
    deliverCopies(handlers.get(topic), text, (err) => options.onError?.(err, topic));

  sub.on('message', (channel: string, text: string) => {
    if (!channel.startsWith(prefix)) return;
    let parsed: { n?: unknown; e?: unknown; m?: unknown };
    try {
      parsed = JSON.parse(text);
    } catch {
      return;
    }
    // This node's own messages were delivered here when they were published, unless ordered.
    if (parsed.n === node && parsed.e !== 1) return;
    deliver(channel.slice(prefix.length), JSON.stringify(parsed.m ?? null));
  });

  async function send(topic: string, message: unknown, publishOptions?: PublishOptions) {
    if (closed) throw new Error('the bus is closed');
    const text = JSON.stringify(message ?? null);
    const here = handlers.get(topic)?.size ?? 0;
    // Ordered: heard here when Redis sends it back, in Redis's order, if this node's subscription can hear it.
    const echo = publishOptions?.ordered === true && here > 0 && subscribed.has(topic);
    if (!echo) deliver(topic, text);
    try {
      // Redis counts the connections subscribed to the channel, one per node: this node's is replaced by
      // its handlers. Until Redis has confirmed this node's subscription it may or may not be in Redis's
      // count; it is taken as not, so the answer may be one too many then, never too few (an asker
      // waits for one answer more rather than giving up before the node that holds a stream answers).
      const reached = await pub.publish(prefix + topic, envelope(node, message, echo));
      return { here, others: reached - (subscribed.has(topic) ? 1 : 0) };
    } catch (err) {
      if (echo) deliver(topic, text);
      options.onStatus?.('not-sent', `${topic}: ${(err as Error).message}`);
      return { here, others: undefined };
    }
  }

  return {
    get connected() {
      return connected();
    },
    async ping() {
      if (!connected()) throw new Error('Redis is unreachable');
      await pub.ping();
    },
    counters,
    send,
    async publish(topic, message, publishOptions) {
      const { here, others } = await send(topic, message, publishOptions);
      return here + (others ?? 0);
    },
    subscribed() {
      return new Promise<void>((resolve) => {
        confirming.push(resolve);
        settleConfirming();
      });
    },
    subscribe(topic, handler) {
      let set = handlers.get(topic);
      if (!set) {
        set = new Set();
        handlers.set(topic, set);
        // While the connection is down, the next 'ready' subscribes it with the others.
        if (sub.status === 'ready') subscribeTopics([topic]);
      }
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(topic) === set) {
          handlers.delete(topic);
          subscribed.delete(topic);
          settleConfirming();
          if (sub.status === 'ready') sub.unsubscribe(prefix + topic).catch(() => {});
        }
      };
    },
    async close() {
      closed = true;
      handlers.clear();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
