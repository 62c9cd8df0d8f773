import { type CounterLimit, createMemoryCounters, type WindowCounters } from '../bus/index.ts';
import { tooManyRequests } from '../errors/index.ts';
import type { PasswordGuard, RecordValues } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';

/**
 * Counts failed attempts per key (an identity, a client IP, an OTP) in fixed windows. A key that reached
 * its limit is refused until its window ends; nothing locks an account for longer, so an attacker cannot
 * lock its owner out for good. The counters are the bus's: in memory on one node, in Redis across a
 * cluster (a client gets one budget whichever node it reaches).
 */
export interface Throttle {
  /**
   * Counts one attempt against every key, or throws 429 (with `Retry-After`) if any is at its limit.
   * Counting before the work, not after, is what stops parallel attempts that would all pass a check
   * made while the others are still being verified.
   */
  attempt(keys: ThrottleKey[]): Promise<void>;
  /** A successful attempt: the identity's count starts over, the others take the attempt back. */
  succeeded(keys: ThrottleKey[]): Promise<void>;
}

export type ThrottleKey = CounterLimit;

export function createThrottle(counters: WindowCounters = createMemoryCounters()): Throttle {
  return {
    async attempt(keys) {
      const wait = await counters.take(keys);
      if (wait > 0) throw tooManyRequests(wait, 'Too many attempts, please try again later.');
    },
    async succeeded(keys) {
      if (!keys.length) return;
      const [identity, ...others] = keys.map((k) => k.key);
      await Promise.all([counters.forget([identity as string]), counters.giveBack(others)]);
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
