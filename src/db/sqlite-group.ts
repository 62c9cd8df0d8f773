import fs from 'node:fs';
import { dirname } from 'node:path';

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

  full(maxMs = GROUP_MAX_MS): boolean {
    return this.size >= GROUP_MAX_WRITES || performance.now() - this.started >= maxMs;
  }
  committed(): void {
    this.#resolve();
  }
  failed(err: unknown): void {
    this.failure ??= err;
    this.#reject(this.failure);
  }
}

/** `fs.fsync`'s shape: tests pass their own to hold a sync back. */
export type Fsync = (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;

const ignore = () => {};

/**
 * Makes committed groups durable off the event loop. The writer connection runs with synchronous=NORMAL
 * (COMMIT writes the WAL but does not sync it) and this syncs the WAL file on libuv's thread pool, one
 * sync at a time; each sync covers every group committed before it started. A group is answered after
 * its sync: the guarantee of synchronous=FULL, but the event loop serves the next group meanwhile.
 */
export class WalSync {
  readonly #path: string;
  readonly #fsync: Fsync;
  #fd?: number;
  /** Committed, waiting for the next sync. */
  #waiting: Group[] = [];
  /** Covered by the sync under way. */
  #running: Group[] = [];
  /** Writes of the groups in `#waiting` and `#running`, as last told to the watchers. */
  #writes = 0;
  readonly #watchers: ((writes: number) => void)[] = [];

  constructor(path: string, fsync: Fsync = fs.fsync) {
    this.#path = path;
    this.#fsync = fsync;
  }

  /**
   * Calls `watcher` with the number of committed writes waiting for a sync, each time it changes. Such a
   * write's request holds no connection and needs no CPU until it is answered (admission lets it wait
   * outside its slot, so that the next group can gather while this one syncs).
   */
  watch(watcher: (writes: number) => void): void {
    this.#watchers.push(watcher);
  }

  /** A group whose COMMIT returned: durable once a sync started after it completes. */
  add(group: Group): void {
    this.#waiting.push(group);
    this.#start();
    this.#tell();
  }

  /** Settles once every group committed so far is durable (or failed); undefined if none waits. */
  pending(): Promise<void> | undefined {
    const last = this.#waiting.at(-1) ?? this.#running.at(-1);
    return last?.durable.then(ignore, ignore);
  }

  /** Syncs now, on this thread: at close. */
  syncNow(): void {
    const fd = this.#open();
    if (fd !== undefined) fs.fsyncSync(fd);
    const done = [...this.#running, ...this.#waiting];
    this.#waiting = [];
    for (const group of done) group.committed();
    this.#tell();
  }

  close(): void {
    if (this.#fd !== undefined) fs.closeSync(this.#fd);
    this.#fd = undefined;
  }

  #start(): void {
    if (this.#running.length || !this.#waiting.length) return;
    const batch = this.#waiting;
    this.#running = batch;
    this.#waiting = [];
    const settle = (err: unknown) => {
      this.#running = [];
      for (const group of batch) {
        if (err) group.failed(err);
        else group.committed();
      }
      this.#start();
      this.#tell();
    };
    try {
      const fd = this.#open();
      if (fd === undefined) settle(null);
      else this.#fsync(fd, settle);
    } catch (err) {
      settle(err);
    }
  }

  #tell(): void {
    if (this.#watchers.length === 0) return;
    let writes = 0;
    for (const group of this.#running) writes += group.size;
    for (const group of this.#waiting) writes += group.size;
    if (writes === this.#writes) return;
    this.#writes = writes;
    for (const watcher of this.#watchers) watcher(writes);
  }

  /**
   * The WAL file, undefined while it does not exist (nothing was written: nothing to sync). SQLite keeps it
   * (same inode) while the writer is open. Its directory entry is made durable once, when first opened.
   */
  #open(): number | undefined {
    if (this.#fd !== undefined) return this.#fd;
    try {
      this.#fd = fs.openSync(this.#path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const dir = fs.openSync(dirname(this.#path), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    return this.#fd;
  }
}
