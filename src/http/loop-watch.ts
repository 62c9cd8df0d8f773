/** How often the watch's timer runs; its runs are what `late()` measures against. */
const TICK_MS = 50;

/** Tells whether the event loop is running late right now. */
export interface LoopWatch {
  /** True while the current turn of the event loop has been running for more than the limit. */
  late(): boolean;
  close(): void;
}

/**
 * Overload that never shows up as requests in flight. When handlers finish within one turn of the event
 * loop (SQLite's synchronous driver does), requests never overlap: the excess waits in the kernel's
 * socket buffers instead, unseen by the admission gate, and every request then waits for all those
 * read before it in the same long turn. This watch stamps each turn with a timer; a request handled
 * more than `maxDelayMs` after the stamp (plus the timer's period) is being handled in a turn that has
 * run too long, and is shed, which caps a turn's real work and so the wait of everything behind it.
 * One timer for the server and one clock read per request. `maxDelayMs` 0: never late.
 */
export function watchEventLoop(maxDelayMs: number): LoopWatch {
  if (maxDelayMs <= 0) return { late: () => false, close: () => {} };
  let stamp = performance.now();
  const timer = setInterval(() => {
    stamp = performance.now();
  }, TICK_MS).unref();
  const limit = maxDelayMs + TICK_MS;
  return {
    late: () => performance.now() - stamp > limit,
    close: () => clearInterval(timer),
  };
}
