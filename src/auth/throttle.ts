import { tooManyRequests } from '../errors/index.ts';

/**
 * Fixed-window counters of failed attempts, per key (an identity, a client IP, an OTP). A key that
 * reached its limit is refused until its window ends; nothing locks an account for longer, so an
 * attacker cannot lock its owner out for good. In memory, per node: the cluster issue moves the
 * counters to Redis behind this same interface.
 */
export interface Throttle {
  /** Throws 429 (with `retryAfter` seconds) if any of the keys is at its limit. */
  check(keys: ThrottleKey[]): void;
  /** Counts one failure against every key. */
  fail(keys: ThrottleKey[]): void;
  reset(key: ThrottleKey): void;
}

export interface ThrottleKey {
  key: string;
  max: number;
  windowSeconds: number;
}

const MAX_KEYS = 200_000;

export function createThrottle(now: () => number = Date.now): Throttle {
  const windows = new Map<string, { count: number; resetAt: number }>();

  const live = (key: string) => {
    const w = windows.get(key);
    if (w && w.resetAt <= now()) {
      windows.delete(key);
      return undefined;
    }
    return w;
  };

  return {
    check(keys) {
      let wait = 0;
      for (const k of keys) {
        const w = live(k.key);
        if (w && w.count >= k.max) wait = Math.max(wait, Math.ceil((w.resetAt - now()) / 1000));
      }
      if (wait > 0) throw tooManyRequests(wait, 'Too many attempts, please try again later.');
    },
    fail(keys) {
      for (const k of keys) {
        const w = live(k.key);
        if (w) w.count++;
        else {
          // Bounded: when full, the oldest windows go first (a flood of distinct keys cannot grow memory).
          if (windows.size >= MAX_KEYS) windows.delete(windows.keys().next().value!);
          windows.set(k.key, { count: 1, resetAt: now() + k.windowSeconds * 1000 });
        }
      }
    },
    reset(k) {
      windows.delete(k.key);
    },
  };
}
