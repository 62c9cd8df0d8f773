/** One fixed-window counter to take from: at most `max` counts per window of `windowSeconds`. */
export interface CounterLimit {
  key: string;
  max: number;
  windowSeconds: number;
}

/**
 * Fixed-window counters (sign-in throttling, rate limits). A window starts at the first count of its key
 * and ends `windowSeconds` later. One node keeps them in memory; a cluster keeps them in Redis
 * (redis-counters.ts), so that a client gets the same budget whichever node it reaches.
 */
export interface WindowCounters {
  /**
   * All or nothing: if any key is at its `max`, counts nothing and answers the seconds until the last of
   * those full windows ends (at least 1); otherwise counts one against every key and answers 0.
   */
  take(limits: readonly CounterLimit[]): Promise<number>;
  /** Ends these keys' windows. */
  forget(keys: readonly string[]): Promise<void>;
  /** Takes one count back from each key that has a window (never below 0). */
  giveBack(keys: readonly string[]): Promise<void>;
}

/** Past this many keys the oldest windows go first, so a flood of distinct keys cannot grow memory. */
const MAX_KEYS = 200_000;

/** The counters of one node. Synchronous underneath; the promises are for the shared implementation. */
export function createMemoryCounters(now: () => number = Date.now): WindowCounters {
  const windows = new Map<string, { count: number; endsAt: number }>();

  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.endsAt <= now()) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };

  return {
    async take(limits) {
      let wait = 0;
      for (const l of limits) {
        const w = live(l.key);
        if (w && w.count >= l.max) wait = Math.max(wait, Math.ceil((w.endsAt - now()) / 1000), 1);
      }
      if (wait > 0) return wait;
      for (const l of limits) {
        const w = live(l.key);
        if (w) w.count++;
        else {
          if (windows.size >= MAX_KEYS) windows.delete(windows.keys().next().value!);
          windows.set(l.key, { count: 1, endsAt: now() + l.windowSeconds * 1000 });
        }
      }
      return 0;
    },
    async forget(keys) {
      for (const key of keys) windows.delete(key);
    },
    async giveBack(keys) {
      for (const key of keys) {
        const w = live(key);
        if (w) w.count = Math.max(0, w.count - 1);
      }
    },
  };
}
