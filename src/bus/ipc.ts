import { type Bus, type BusHandler, deliverCopies, type PublishOptions } from './bus.ts';
import { type CounterLimit, createMemoryCounters, type WindowCounters } from './counters.ts';

/**
 * One end of a message channel between two processes: a worker's `process` on its side, the
 * `cluster.Worker` on the primary's. `send` answers false when the channel is closed.
 */
export interface Channel {
  send(message: HubMessage): boolean;
  onMessage(handler: (message: unknown) => void): void;
  /** Runs once the other end is gone. */
  onClose(handler: () => void): void;
}

/** What the workers' bus and the primary's hub say to each other (`plinth` names the kind). */
export type HubMessage =
  | { plinth: 'bus.subscribe' | 'bus.unsubscribe'; topic: string }
  | { plinth: 'bus.subscribed'; id: number }
  | { plinth: 'bus.publish'; id: number; topic: string; text: string; echo?: true }
  | { plinth: 'bus.count'; id: number; op: 'take'; limits: CounterLimit[] }
  | { plinth: 'bus.count'; id: number; op: 'forget' | 'giveBack'; keys: string[] }
  | { plinth: 'bus.lock'; id: number }
  | { plinth: 'bus.unlock' }
  | { plinth: 'bus.deliver'; topic: string; text: string }
  | { plinth: 'bus.reply'; id: number; value: number };

/** A message that waits for the primary's reply, before it is given its id. */
type Request = HubMessage extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

/** The kinds a hub answers; a worker's channel carries the supervisor's messages too. */
export const isHubMessage = (message: unknown): message is HubMessage =>
  typeof message === 'object' &&
  message !== null &&
  typeof (message as { plinth?: unknown }).plinth === 'string' &&
  (message as { plinth: string }).plinth.startsWith('bus.');

export interface WorkerBus extends Bus {
  /** Counters shared by every worker of the server, kept by the primary (this worker's own once it is gone). */
  readonly counters: WindowCounters;
  /**
   * Sends a message (its JSON text) to the other workers' handlers only, not this worker's; resolves with
   * how many it reached (0 once the primary is gone). How a worker whose Redis is down still reaches them.
   */
  relay(topic: string, text: string): Promise<number>;
}

/**
 * The bus of one worker of `plinth serve --workers N` when no Redis is configured: every message goes to
 * this worker's handlers at once (as on the memory bus; an ordered one when the primary sends it back) and
 * through the primary process to the other workers. The primary also keeps the counters (throttling, rate limits), so that a client has one budget
 * whichever worker its connection landed on. Should the primary be gone, the worker goes on alone.
 */
export function createWorkerBus(
  channel: Channel,
  onError: (err: unknown, topic: string) => void = () => {},
): WorkerBus {
  const handlers = new Map<string, Set<BusHandler>>();
  const waiting = new Map<number, (value: number | undefined) => void>();
  const alone = createMemoryCounters();
  let next = 0;
  let closed = false;
  let cut = false;

  /** The primary's answer to a request, or undefined once the channel is closed. */
  const ask = (message: Request) =>
    new Promise<number | undefined>((resolve) => {
      const id = ++next;
      waiting.set(id, resolve);
      if (cut || !channel.send({ ...message, id } as HubMessage)) {
        waiting.delete(id);
        resolve(undefined);
      }
    });

  channel.onMessage((message) => {
    if (!isHubMessage(message)) return;
    if (message.plinth === 'bus.deliver')
      deliverCopies(handlers.get(message.topic), message.text, (err) => onError(err, message.topic));
    else if (message.plinth === 'bus.reply') {
      const resolve = waiting.get(message.id);
      waiting.delete(message.id);
      resolve?.(message.value);
    }
  });
  channel.onClose(() => {
    cut = true;
    for (const resolve of waiting.values()) resolve(undefined);
    waiting.clear();
  });

  const counters: WindowCounters = {
    async take(limits) {
      const wait = await ask({ plinth: 'bus.count', op: 'take', limits: [...limits] });
      return wait ?? alone.take(limits);
    },
    async forget(keys) {
      if ((await ask({ plinth: 'bus.count', op: 'forget', keys: [...keys] })) === undefined)
        await alone.forget(keys);
    },
    async giveBack(keys) {
      if ((await ask({ plinth: 'bus.count', op: 'giveBack', keys: [...keys] })) === undefined)
        await alone.giveBack(keys);
    },
  };

  const relay = async (topic: string, text: string) =>
    (await ask({ plinth: 'bus.publish', topic, text })) ?? 0;

  return {
    counters,
    relay,
    async publish(topic, message, options?: PublishOptions) {
      if (closed) throw new Error('the bus is closed');
      const text = JSON.stringify(message ?? null);
      const set = handlers.get(topic);
      const here = set?.size ?? 0;
      // Ordered: heard here when the primary sends it back, in the order it relays every worker's messages.
      const echo = options?.ordered === true && here > 0 && !cut;
      if (!echo) deliverCopies(set, text, (err) => onError(err, topic));
      const reached = await ask({ plinth: 'bus.publish', topic, text, ...(echo ? { echo: true } : {}) });
      // The primary is gone before it sent it back: heard here all the same.
      if (echo && reached === undefined)
        deliverCopies(handlers.get(topic), text, (err) => onError(err, topic));
      return here + (reached ?? 0);
    },
    // The primary handles a worker's messages in order: once it answers this, it has every earlier subscribe.
    subscribed: () => ask({ plinth: 'bus.subscribed' }).then(() => {}),
    subscribe(topic, handler) {
      let set = handlers.get(topic);
      if (!set) {
        set = new Set();
        handlers.set(topic, set);
        if (!cut) channel.send({ plinth: 'bus.subscribe', topic });
      }
      set.add(handler);
      return () => {
        set.delete(handler);
        if (set.size === 0 && handlers.get(topic) === set) {
          handlers.delete(topic);
          if (!cut) channel.send({ plinth: 'bus.unsubscribe', topic });
        }
      };
    },
    async close() {
      closed = true;
      handlers.clear();
    },
  };
}

/**
 * The lock the workers take in turn before writing to one SQLite file (the driver's `WriteLock`): the
 * primary grants it to one worker at a time, first asked first served. Should the primary be gone, the
 * worker goes on without it (SQLite's own lock still keeps one writer at a time).
 */
export function createWorkerLock(channel: Channel): { acquire(): Promise<void>; release(): void } {
  const granted: (() => void)[] = [];
  let next = 0;
  let cut = false;
  channel.onMessage((message) => {
    if (isHubMessage(message) && message.plinth === 'bus.reply' && message.id < 0) granted.shift()?.();
  });
  channel.onClose(() => {
    cut = true;
    for (const grant of granted.splice(0)) grant();
  });
  return {
    acquire() {
      return new Promise<void>((resolve) => {
        // Negative ids: the bus's replies count up from 1 on the same channel.
        if (cut || !channel.send({ plinth: 'bus.lock', id: --next })) resolve();
        else granted.push(resolve);
      });
    },
    release() {
      if (!cut) channel.send({ plinth: 'bus.unlock' });
    },
  };
}

/** The primary's side: relays each worker's messages to the others and keeps the shared counters. */
export interface BusHub {
  /** Serves one worker's channel until it closes. */
  attach(channel: Channel): void;
}

export function createBusHub(counters: WindowCounters = createMemoryCounters()): BusHub {
  /** Each attached worker and the topics it has handlers for. */
  const members = new Map<Channel, Set<string>>();
  /** The write lock's holder and the workers waiting for it, in the order they asked. */
  let holder: Channel | undefined;
  const waiting: { channel: Channel; id: number }[] = [];
  const grantNext = () => {
    holder = undefined;
    const next = waiting.shift();
    if (!next) return;
    holder = next.channel;
    next.channel.send({ plinth: 'bus.reply', id: next.id, value: 0 });
  };

  const handle = async (from: Channel, message: HubMessage) => {
    const topics = members.get(from);
    if (!topics) return;
    switch (message.plinth) {
      case 'bus.subscribe':
        topics.add(message.topic);
        return;
      case 'bus.unsubscribe':
        topics.delete(message.topic);
        return;
      case 'bus.subscribed':
        from.send({ plinth: 'bus.reply', id: message.id, value: 0 });
        return;
      case 'bus.publish': {
        // Counted as Redis counts: each other worker with a subscriber is one.
        let reached = 0;
        for (const [member, subscribed] of members) {
          if (!subscribed.has(message.topic)) continue;
          const deliver = { plinth: 'bus.deliver' as const, topic: message.topic, text: message.text };
          // An ordered message goes back to its sender too (not counted), in this same order.
          if (member === from) {
            if (message.echo) member.send(deliver);
          } else if (member.send(deliver)) reached++;
        }
        from.send({ plinth: 'bus.reply', id: message.id, value: reached });
        return;
      }
      case 'bus.lock':
        waiting.push({ channel: from, id: message.id });
        if (!holder) grantNext();
        return;
      case 'bus.unlock':
        if (holder === from) grantNext();
        return;
      case 'bus.count': {
        let value = 0;
        if (message.op === 'take') value = await counters.take(message.limits);
        else await counters[message.op](message.keys);
        from.send({ plinth: 'bus.reply', id: message.id, value });
        return;
      }
    }
  };

  return {
    attach(channel) {
      members.set(channel, new Set());
      channel.onMessage((message) => {
        if (isHubMessage(message)) void handle(channel, message);
      });
      channel.onClose(() => {
        members.delete(channel);
        // A worker that ended holding the lock, or waiting for it, holds and waits no more.
        for (let i = waiting.length - 1; i >= 0; i--)
          if (waiting[i]!.channel === channel) waiting.splice(i, 1);
        if (holder === channel) grantNext();
      });
    },
  };
}
