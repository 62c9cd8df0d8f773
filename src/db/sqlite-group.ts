/**
 * Group commit on SQLite (docs/decisions/0010-group-commit.md). Writes that arrive together run inside one
 * outer transaction on the writer connection and become durable with one COMMIT (one fsync); each waits
 * for `durable` before it is answered.
 */

/** A group stays open at most this many writes: its first writer waits for all of them. */
export const GROUP_MAX_WRITES = 64;
/** ... and at most this long (ms) from its first write, so a steady stream cannot hold it open. */
export const GROUP_MAX_MS = 20;

/** How a statement outside a transaction takes part in a group. */
export type StatementKind = 'read' | 'write' | 'alone';

/**
 * `read` (a SELECT) must not see writes that are not durable yet; `write` (INSERT, UPDATE, DELETE, REPLACE)
 * joins the open group (SQLite undoes a failed statement alone, so it never fails its neighbours); anything
 * else (PRAGMA, VACUUM, DDL, WITH ...) runs `alone`, outside any transaction, as it did before groups.
 */
export function statementKind(sql: string): StatementKind {
  const head = /^\s*([a-z]+)/i.exec(sql)?.[1]?.toLowerCase();
  if (head === 'select') return 'read';
  if (head === 'insert' || head === 'update' || head === 'delete' || head === 'replace') return 'write';
  return 'alone';
}

/** One outer transaction and the writes waiting for its COMMIT. */
export class Group {
  readonly durable: Promise<void>;
  readonly started = performance.now();
  /** Writes and request transactions done inside it. */
  size = 0;
  /** Set when SQLite ended the outer transaction: every write of the group failed with it. */
  failure?: unknown;
  #resolve!: () => void;
  #reject!: (err: unknown) => void;

  constructor() {
    this.durable = new Promise<void>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // A group nobody waits for (its only write failed) must not be an unhandled rejection.
    this.durable.catch(() => {});
  }

  full(): boolean {
    return this.size >= GROUP_MAX_WRITES || performance.now() - this.started >= GROUP_MAX_MS;
  }
  committed(): void {
    this.#resolve();
  }
  failed(err: unknown): void {
    this.failure ??= err;
    this.#reject(this.failure);
  }
}
