/**
 * Which of SQLite's data-dependent reads may run on the event loop instead of a reader thread: those seen
 * to take less than `budgetMs`, with the same SQL and the same parameters, the last time they ran.
 *
 * Why: a trip to a reader costs more than a small read itself. It costs the event loop the message each
 * way and the process two thread switches: for a 20-record list of a small collection, about a third of the
 * request's CPU (docs/benchmarks.md, "Small reads on the event loop"). Readers are there for reads whose
 * cost grows with the data (decision 0008); a read that has been measured cheap is not one of them now.
 *
 * What keeps it safe: a read runs inline only after a run of the same statements with the same parameters
 * was measured under budget, on a reader or inline. A new filter, a far page (the offset is a parameter),
 * or a read whose last run went over budget goes to a reader. Data that grew since the last run can make
 * one inline run slower than the budget, by what the growth costs; that run is measured too and sends the
 * next ones back to the readers.
 */
export interface InlineReads {
  /** The key of a batch of statements, or undefined when it is not to be remembered (too long). */
  key(statements: ReadonlyArray<{ sql: string; params: readonly unknown[] }>): string | undefined;
  /** True when the batch of `key` ran under budget last time. */
  allows(key: string): boolean;
  /** Remembers how long the batch of `key` took, in milliseconds. */
  record(key: string, ms: number): void;
  /** Forgets `key` (its inline run failed: the next one goes to a reader). */
  forget(key: string): void;
}

export interface InlineReadsOptions {
  /** Longest a read may have taken to run inline next time, in ms; 0 turns inline reads off. */
  budgetMs?: number;
  /** Batches remembered at most; when full, the memory starts again (a flood of one-off reads only empties it). */
  limit?: number;
  /** Longest key remembered, in characters: a read with huge parameters always goes to a reader. */
  maxKeyLength?: number;
}

/**
 * 0.1 ms: under it, running on the loop costs the loop at most about what the trip would (the trip's own
 * share of the loop is some 0.04 ms) and saves the process the rest of the trip.
 */
export const INLINE_BUDGET_MS = 0.1;

export function inlineReads({
  budgetMs = INLINE_BUDGET_MS,
  limit = 1000,
  maxKeyLength = 8192,
}: InlineReadsOptions = {}): InlineReads {
  const cheap = new Set<string>();
  return {
    key(statements) {
      if (budgetMs <= 0) return undefined;
      // Each part goes in with its length first: no two different batches make the same key, whatever
      // their text holds (a collision would let a costly read borrow a cheap one's record).
      let key = '';
      for (const s of statements) {
        key += `${s.params.length}:${s.sql.length}:${s.sql}`;
        for (const p of s.params) {
          const part = paramKey(p);
          key += `${part.length}:${part}`;
        }
        if (key.length > maxKeyLength) return undefined;
      }
      return key;
    },
    allows: (key) => cheap.has(key),
    record(key, ms) {
      if (ms >= budgetMs) {
        cheap.delete(key);
        return;
      }
      if (cheap.size >= limit) cheap.clear();
      cheap.add(key);
    },
    forget(key) {
      cheap.delete(key);
    },
  };
}

/** A parameter as text that no parameter of another type or value shares (its first letter is its type). */
function paramKey(value: unknown): string {
  if (value === null || value === undefined) return 'n';
  if (typeof value === 'string') return `s${value}`;
  if (typeof value === 'number' || typeof value === 'bigint')
    return `${typeof value === 'number' ? 'd' : 'b'}${value}`;
  if (value instanceof Uint8Array)
    return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return `j${JSON.stringify(value)}`;
}
