import type { Readable } from 'node:stream';

/** What storage knows about one stored blob. */
export interface BlobInfo {
  size: number;
  modified: Date;
  /** Changes whenever the content may have (quoted, as an HTTP `ETag`). */
  etag: string;
  /** The type it was stored with (S3), or sniffed from its first bytes (local disk). */
  contentType: string;
}

/** An inclusive byte range, as HTTP's `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Where file fields keep their files: the data dir's `storage/` folder or an S3-compatible bucket. Keys
 * are `/`-separated paths checked by {@link checkKey}, so no implementation has to think about traversal.
 * Writes are all-or-nothing: a blob is visible under its key only once all of it is stored.
 */
export interface FileStorage {
  /** Stores a local file (already validated, its size known) under `key`, replacing any blob there. */
  putFile(key: string, path: string, contentType: string): Promise<void>;
  /** Stores a small in-memory blob (a generated thumbnail). */
  putBuffer(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The blob's metadata, or undefined when there is none. */
  stat(key: string): Promise<BlobInfo | undefined>;
  /** The blob's bytes (all, or one range), or undefined when there is none. */
  read(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /** Removes one blob; no error when it is already gone. */
  delete(key: string): Promise<void>;
  /** Removes every blob whose key starts with `prefix/` (a record's folder, a collection's). */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * Resolves when the store can be used now, rejects when not (readiness): the local directory takes a
   * write, the S3 bucket answers. Cheap (a few system calls, or one HEAD request), but not free: callers
   * that probe often remember a success for a while.
   */
  check(): Promise<void>;
  /** Releases connections and handles. */
  close(): Promise<void>;
}

/** The characters a key segment may hold: what file names become after sanitizing, and ids. */
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

/**
 * Throws unless `key` is made of safe segments: none empty, none starting with `.` (so no `..`), no
 * leading `/`, nothing outside `[A-Za-z0-9_.-]`. Callers build keys from ids and sanitized names; this
 * is the backstop.
 */
export function checkKey(key: string): string {
  if (key.length > 1024) throw new Error('storage key too long');
  for (const segment of key.split('/'))
    if (!SEGMENT.test(segment)) throw new Error(`unsafe storage key: ${JSON.stringify(key)}`);
  return key;
}
