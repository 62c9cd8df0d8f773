import { hash, verify } from '@node-rs/argon2';
import { createSemaphore } from '../lib/index.ts';
import type { PasswordHasher } from '../records/index.ts';

/** argon2id at OWASP's second recommended setting (19 MiB, 2 passes, 1 lane). */
export const ARGON2_OPTIONS = { algorithm: 2 as const, memoryCost: 19_456, timeCost: 2, parallelism: 1 };

/** Hashes at once at most; each takes ~19 MiB and ~10 ms of a core, so a login flood queues instead. */
const DEFAULT_CONCURRENCY = 4;

export interface Passwords extends PasswordHasher {
  /** Spends the same work as a real check, for unknown accounts (no timing oracle). */
  dummyVerify(plain: string): Promise<false>;
}

export function createPasswords(concurrency = DEFAULT_CONCURRENCY): Passwords {
  const limit = createSemaphore(concurrency);
  let dummyHash: Promise<string> | undefined;
  const check = (stored: string, plain: string) =>
    limit(async () => {
      if (!stored.startsWith('$argon2')) return false;
      try {
        return await verify(stored, plain);
      } catch {
        return false;
      }
    });
  return {
    hash: (plain) => limit(() => hash(plain, ARGON2_OPTIONS as Parameters<typeof hash>[1])),
    verify: check,
    async dummyVerify(plain) {
      dummyHash ??= limit(() => hash('plinth-dummy-password', ARGON2_OPTIONS as Parameters<typeof hash>[1]));
      await check(await dummyHash, plain);
      return false;
    },
  };
}
