/**
 * Where rate-limit counters live. One node keeps them in memory; a cluster needs them shared (Redis, by
 * the cluster issue) behind this same interface, which is why `hit` may answer with a promise.
 */
export interface RateLimitStore {
  /**
   * Counts one request of `client` against the counter `limiter`, allowing `max` per fixed window of
   * `seconds` that starts at the client's first request. Answers 0 if allowed, otherwise the seconds until
   * the window ends.
   */
  hit(limiter: string, client: string, max: number, seconds: number): number | Promise<number>;
  /** Forgets every counter (the rules changed). */
  clear(): void | Promise<void>;
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
    clear() {
      limiters.clear();
    },
    close() {
      clearInterval(sweeper);
      limiters.clear();
    },
  };
}
