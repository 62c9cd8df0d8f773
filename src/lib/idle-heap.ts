import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often the event loop's load is looked at. */
const CHECK_MS = 250;
/** Quiet: the event loop busy less than this share of the time... */
const QUIET_LOAD = 0.03;
/** ...for at least this long after the start... */
const QUIET_MS = 750;
/**
 * ...and this long once it has served: a compaction shrinks the young generation back to 1 MB, and the
 * next burst of traffic runs its first seconds with more, smaller collections until V8 grows it again.
 * A server quiet for a few seconds between bursts keeps it (bench/run.ts pauses a few seconds between its
 * loads; with a short quiet spell here its list figures read lower, within the machine's noise).
 */
const IDLE_MS = 30_000;
/** Worth a compaction: at least this much of the heap's committed memory is free. */
const SLACK_BYTES = 8 * 1024 * 1024;

export interface IdleHeapOptions {
  /** Runs the compaction (tests count them); V8's memory-reducing collection by default. */
  compact?: () => void;
  checkMs?: number;
  quietMs?: number;
  idleMs?: number;
  slackBytes?: number;
}

/**
 * Gives the heap's free memory back once the process goes quiet. V8 grows its young generation to 32 MB
 * while the modules load and under load, and keeps it, with the start-up's garbage, when the traffic
 * stops: an idle server held about 18 MB it did not need (docs/benchmarks.md, "Start and idle memory").
 * Once the event loop has been nearly idle for ¾ s after the start, or for 30 s later on, and only when
 * that much is free, it runs the collection V8 runs under memory pressure (all garbage, young generation
 * shrunk back, code of unused functions flushed): the event loop stops for it (~70–150 ms here) once per
 * quiet spell. Returns the stop function.
 */
export function compactHeapWhenIdle(options: IdleHeapOptions = {}): () => void {
  const compact = options.compact ?? memoryReducingGc();
  if (!compact) return () => {};
  const slack = options.slackBytes ?? SLACK_BYTES;
  /** Quiet needed for the next compaction: short for the start-up's, long after that. */
  let quietMs = options.quietMs ?? QUIET_MS;
  let last = performance.eventLoopUtilization();
  let checkedAt = performance.now();
  let quietSince: number | undefined;
  const timer = setInterval(() => {
    const now = performance.now();
    const load = performance.eventLoopUtilization(last);
    last = performance.eventLoopUtilization();
    // Quiet since the last check, at least.
    const windowStart = checkedAt;
    checkedAt = now;
    if (load.utilization >= QUIET_LOAD) {
      quietSince = undefined;
      return;
    }
    quietSince ??= windowStart;
    if (now - quietSince < quietMs) return;
    quietMs = options.idleMs ?? IDLE_MS;
    const heap = getHeapStatistics();
    if (heap.total_heap_size - heap.used_heap_size < slack) return;
    compact();
    // A new quiet spell is needed for the next one.
    quietSince = undefined;
    checkedAt = performance.now();
    // The compaction's own time is not load.
    last = performance.eventLoopUtilization();
  }, options.checkMs ?? CHECK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * V8's `gc()` with its memory-reducing flavour. Node offers no other way to ask for it: the function is
 * exposed to one new context only (the way Node's documentation of `v8.setFlagsFromString` shows), then
 * the flag is set back so that no other context gets it. Undefined if this V8 does not have it.
 */
function memoryReducingGc(): (() => void) | undefined {
  const exposed = typeof (globalThis as { gc?: unknown }).gc === 'function';
  try {
    if (!exposed) setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: object) => void;
    return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } catch {
    return undefined;
  } finally {
    if (!exposed) setFlagsFromString('--no-expose-gc');
  }
}
