import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long the server must go without queueing or shedding before the overload counts as over. */
const QUIET_MS = 2_000;
/** At most one collection per this period, whatever the load does. */
const MIN_GAP_MS = 30_000;

type Collect = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/** Tells the relief about overload; it gives memory back once the overload has passed. */
export interface MemoryRelief {
  /** A request was queued or shed just now. */
  pressure(): void;
  close(): void;
}

/**
 * Under overload V8 grows its heap (the young generation most) to keep up, and keeps it: measured here,
 * RSS stayed ~150 MB above its start long after the load had stopped, because V8 does not shrink an
 * idle heap on its own in Node. So once an overload has passed (nothing queued or shed for QUIET_MS),
 * one full collection that also returns the freed pages to the OS runs: one pause of a few tens of
 * milliseconds, only after an overload, and at most once per MIN_GAP_MS.
 *
 * The collector comes from `--expose-gc` set at runtime, read through a new context so that no global
 * `gc` appears in the app. If the flag cannot be set, relief does nothing.
 */
export function createMemoryRelief(isQuiet: () => boolean, now: () => number = Date.now): MemoryRelief {
  let lastPressure = 0;
  let lastRelief = -MIN_GAP_MS;
  let timer: ReturnType<typeof setInterval> | undefined;
  let collect: Collect | null | undefined;

  const check = () => {
    const t = now();
    if (t - lastPressure < QUIET_MS || !isQuiet() || t - lastRelief < MIN_GAP_MS) return;
    clearInterval(timer);
    timer = undefined;
    lastRelief = t;
    collector()?.({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };

  return {
    pressure() {
      lastPressure = now();
      timer ??= setInterval(check, QUIET_MS / 2).unref();
    },
    close() {
      clearInterval(timer);
      timer = undefined;
    },
  };

  function collector(): Collect | null {
    if (collect === undefined) {
      try {
        setFlagsFromString('--expose-gc');
        const gc: unknown = runInNewContext('gc');
        collect = typeof gc === 'function' ? (gc as Collect) : null;
      } catch {
        collect = null;
      }
    }
    return collect;
  }
}
