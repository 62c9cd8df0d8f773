import { tooManyRequests } from '../errors/index.ts';
import type { PasswordGuard, RecordValues } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';

/**
 * Fixed-window counters of failed attempts, per key (an identity, a client IP, an OTP). A key that
 * reached its limit is refused until its window ends; nothing locks an account for longer, so an
 * attacker cannot lock its owner out for good. In memory, per node: the cluster issue moves the
 * counters to Redis behind this same interface.
 */
export interface Throttle {
  /**
   * Counts one attempt against every key, or throws 429 (with `Retry-After`) if any is at its limit.
   * Counting before the work, not after, is what stops parallel attempts that would all pass a check
   * made while the others are still being verified.
   */
  attempt(keys: ThrottleKey[]): void;
  /** A successful attempt: the identity's count starts over, the others take the attempt back. */
  succeeded(keys: ThrottleKey[]): void;
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
    attempt(keys) {
      let wait = 0;
      for (const k of keys) {
        const w = live(k.key);
        if (w && w.count >= k.max) wait = Math.max(wait, Math.ceil((w.resetAt - now()) / 1000));
      }
      if (wait > 0) throw tooManyRequests(wait, 'Too many attempts, please try again later.');
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
    succeeded(keys) {
      keys.forEach((k, i) => {
        const w = live(k.key);
        if (!w) return;
        if (i === 0) windows.delete(k.key);
        else w.count = Math.max(0, w.count - 1);
      });
    },
  };
}

/** The `oldPassword` guard for the records layer: guesses count against the sign-in budget of the identity. */
export function createPasswordGuard(
  throttle: Throttle,
  settings: () => { authThrottle: { enabled: boolean; identityMax: number; window: number } },
): PasswordGuard {
  const keysFor = (collection: Collection, record: RecordValues): ThrottleKey[] => {
    const t = settings().authThrottle;
    if (!t.enabled) return [];
    const identity = String(record.email ?? record.id).toLowerCase();
    return [{ key: `login:${collection.id}:${identity}`, max: t.identityMax, windowSeconds: t.window }];
  };
  return {
    attempt: (collection, record) => throttle.attempt(keysFor(collection, record)),
    succeeded: (collection, record) => throttle.succeeded(keysFor(collection, record)),
  };
}
