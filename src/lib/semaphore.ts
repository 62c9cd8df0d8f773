/**
 * Caps how many async tasks run at once (argon2 hashing, for one); with 1, a FIFO mutex. A finishing task
 * hands its slot straight to the first waiter, so a newcomer cannot slip in between and exceed the cap.
 */
export function createSemaphore(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async function run<T>(task: () => Promise<T>): Promise<T> {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
