import type { DatabaseSync } from 'node:sqlite';

/**
 * The SQL function the query compiler puts into the inner loops of joins through lists (SQLite only):
 * `((random() & 127) OR plinth_guard())` calls it about once per 128 joined rows. node:sqlite has no
 * interrupt or progress handler, so this is how a statement whose cost grows with the data stops at its
 * deadline: the function throws, and SQLite abandons the statement.
 */
export const GUARD_SQL = '((random() & 127) OR plinth_guard())';

/** The error a statement stopped at its deadline ends with; `translateError` calls it a `timeout`. */
export class StatementTimeout extends Error {
  readonly code = 'PLINTH_STATEMENT_TIMEOUT';
  constructor() {
    super('the statement ran past its time limit');
  }
}

/** The deadline of the statement a connection is running. */
export interface Deadline {
  /** Sets the deadline `ms` from now (Infinity: none) for the statements that follow. */
  arm(ms: number): void;
}

/** Registers `plinth_guard()` on a connection; the returned deadline is what it checks. */
export function installGuard(db: DatabaseSync): Deadline {
  let until = Number.POSITIVE_INFINITY;
  db.function('plinth_guard', { deterministic: false, directOnly: true }, () => {
    if (performance.now() > until) throw new StatementTimeout();
    return 1;
  });
  return {
    arm(ms) {
      until = ms === Number.POSITIVE_INFINITY ? ms : performance.now() + ms;
    },
  };
}
