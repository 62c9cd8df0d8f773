// The types of entry-pack.js (plain JavaScript: the SQLite writer thread imports it).

/**
 * A closed batch: its entries' bytes (owning their ArrayBuffer, so it can be moved to a thread, and back:
 * a sink that moved it sets `bytes` to what came back) and how many.
 */
export interface PackedBatch {
  bytes: Uint8Array<ArrayBuffer>;
  entries: number;
}

/** Entries per batch. */
export declare const BATCH_ENTRIES: number;

export interface EntryPacker {
  /** Entries in the batch being filled. */
  readonly entries: number;
  /** Copies an entry's FIELDS values (entry-rows.js) in; answers the batch it closed to make room, if any. */
  push(slots: readonly unknown[]): PackedBatch | undefined;
  /** Closes the batch being filled; undefined when it is empty. */
  take(): PackedBatch | undefined;
  /** Gives a written batch's buffer back, for a later batch (not one that was moved to another thread). */
  recycle(batch: PackedBatch): void;
}

export declare function createEntryPacker(options?: { entries?: number; bytes?: number }): EntryPacker;

/** Each entry of a batch in order, as its FIELDS values (one array, reused from entry to entry). */
export declare function unpackEntries(bytes: Uint8Array, each: (slots: unknown[]) => void): void;
