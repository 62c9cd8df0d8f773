import { performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How often the event loop's load is looked at. */
const CHECK_MS = 250;
/** Quiet: the event loop busy less than this share of the time... */
const QUIET_LOAD = 0.03;
/** ...for at least this long. */
const QUIET_MS = 750;
/** Worth a compaction: at least this much of the heap's committed memory is free. */
const SLACK_BYTES = 8 * 1024 * 1024;
/** At most one compaction this often, whatever the traffic's bursts (one takes ~70–150 ms here). */
const MIN_GAP_MS = 10_000;

export interface IdleHeapOptions {
  /** Runs the compaction (tests count them); V8's memory-reducing collection by default. */
  compact?: () => void;
  checkMs?: number;
  quietMs?: number;
  slackBytes?: number;
  minGapMs?: number;
}

/**
 * Gives the heap's free memory back once the process goes quiet. V8 grows its young generation to 32 MB
 * while the modules load and under load, and keeps it, with the start-up's garbage, when the traffic
 * stops: an idle server held about 18 MB it did not need (docs/benchmarks.md, "Start and idle memory").
 * After ¾ s with the event loop nearly idle, and only when that much is free, it runs the collection
 * V8 runs under memory pressure (all garbage, young generation shrunk back, code of unused functions
 * flushed): the event loop stops for it once per quiet spell, at most every 10 s. Returns the stop
 * function.
 */
export function compactHeapWhenIdle(options: IdleHeapOptions = {}): () => void {
  const compact = options.compact ?? memoryReducingGc();
  if (!compact) return () => {};
  const quietMs = options.quietMs ?? QUIET_MS;
  const slack = options.slackBytes ?? SLACK_BYTES;
  const minGapMs = options.minGapMs ?? MIN_GAP_MS;
  let last = performance.eventLoopUtilization();
  let checkedAt = performance.now();
  let quietSince: number | undefined;
  let compactedAt = Number.NEGATIVE_INFINITY;
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
    if (now - quietSince < quietMs || now - compactedAt < minGapMs) return;
    const heap = getHeapStatistics();
    if (heap.total_heap_size - heap.used_heap_size < slack) return;
    compact();
    compactedAt = checkedAt = performance.now();
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
