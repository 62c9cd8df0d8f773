import { createHash } from 'node:crypto';
import type { WindowCounters } from '../bus/index.ts';

/**
 * Where rate-limit counters live. One node keeps them in memory (two-level maps, the fastest for the hot
 * path); a cluster shares them through the bus's counters (Redis), which is why `hit` may answer with a
 * promise.
 */
export interface RateLimitStore {
  /**
   * Counts one request of `client` against the counter `limiter`, allowing `max` per fixed window of
   * `seconds` that starts at the client's first request. Answers 0 if allowed, otherwise the seconds until
   * the window ends.
   */
  hit(limiter: string, client: string, max: number, seconds: number): number | Promise<number>;
  /**
   * The rules changed to `rules` (their stable JSON): every counter starts afresh. Every node calls this
   * with the same text, so shared counters can be renamed rather than deleted.
   */
  reset(rules: string): void;
  close(): void;
}

interface Window {
  ends: number;
  count: number;
}

/** How often expired windows are dropped, so that one-off clients do not stay in memory. */
const SWEEP_MS = 60_000;

/**
 * The in-memory store: PocketBase's fixed windows, per limiter a map of clients. Two levels rather than
 * one joined key: both strings are long-lived (a compiled rule's, a socket's address), so V8 hashes each
 * once, where a key built per request would be hashed on every request.
 */
export function createMemoryRateStore(now: () => number = Date.now): RateLimitStore {
  const limiters = new Map<string, Map<string, Window>>();
  const sweeper = setInterval(() => {
    const t = now();
    for (const [name, clients] of limiters) {
      for (const [client, w] of clients) if (w.ends <= t) clients.delete(client);
      if (clients.size === 0) limiters.delete(name);
    }
  }, SWEEP_MS).unref();
  return {
    hit(limiter, client, max, seconds) {
      const t = now();
      let clients = limiters.get(limiter);
      if (!clients) {
        clients = new Map();
        limiters.set(limiter, clients);
      }
      let w = clients.get(client);
      if (!w || w.ends <= t) {
        w = { ends: t + seconds * 1000, count: 0 };
        clients.set(client, w);
      }
      if (w.count < max) {
        w.count++;
        return 0;
      }
      return Math.max(1, Math.ceil((w.ends - t) / 1000));
    },
    reset() {
      limiters.clear();
    },
    close() {
      clearInterval(sweeper);
      limiters.clear();
    },
  };
}

/**
 * Counters shared by every node: a client has the same budget whichever node it reaches. Each request
 * costs one Redis round trip (one atomic script). The counters' names carry a digest of the rules, so
 * changed rules start afresh on every node without deleting anything (old names expire with their windows).
 */
export function createSharedRateStore(counters: WindowCounters): RateLimitStore {
  let generation = '';
  return {
    hit(limiter, client, max, seconds) {
      return counters.take([{ key: `rate:${generation}:${limiter}:${client}`, max, windowSeconds: seconds }]);
    },
    reset(rules) {
      generation = createHash('sha256').update(rules).digest('base64url').slice(0, 12);
    },
    close() {},
  };
}
