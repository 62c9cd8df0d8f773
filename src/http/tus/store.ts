import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SNIFF_BYTES } from '../../lib/index.ts';

/** What the server keeps about an unfinished upload, beside its bytes. */
export interface UploadInfo {
  id: string;
  /** The target: a record's file field. */
  collectionId: string;
  recordId: string;
  field: string;
  /** `Upload-Length`: the file's size, known from the start. */
  length: number;
  /** The name the client gave (`filename` metadata); the stored name is made from it at the end. */
  filename: string;
  /** Who created it (`<auth collection id>/<record id>`, '' for a guest): nobody else may touch it. */
  owner: string;
  /** Epoch ms after which it is dropped; pushed back by each PATCH. */
  expiresAt: number;
  /** Whose count of unfinished uploads it is in: the owner, or the IP address of a guest. */
  quota: string;
}

/** Thrown by `append` when the body goes past the room left: nothing of that PATCH is kept. */
export class PastLength extends Error {}

const ID = /^[0-9a-f]{32}$/;

/** Counts the bytes of a PATCH body and fails past `room`, before the byte past it is written. */
class Limit extends Transform {
  size = 0;
  readonly #room: number;
  constructor(room: number) {
    super();
    this.#room = room;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.#room) done(new PastLength());
    else done(null, chunk);
  }
}

/**
 * Unfinished resumable uploads on local disk: `<dir>/<id>` holds the bytes received so far (its size is
 * the upload's offset), `<dir>/<id>.json` the {@link UploadInfo}. One PATCH at a time per upload on this
 * node (`lock`). Expired uploads go with `sweep`.
 */
export function createTusStore(dir: string, expiryMs: number) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dataPath = (id: string) => join(dir, id);
  const infoPath = (id: string) => join(dir, `${id}.json`);
  const locked = new Set<string>();
  /** Unfinished uploads per quota key, kept as they come and go (`load` counts those found at start). */
  const pending = new Map<string, number>();
  const count = (key: string, by: number) => {
    const n = (pending.get(key) ?? 0) + by;
    if (n > 0) pending.set(key, n);
    else pending.delete(key);
  };
  const readInfo = (id: string) =>
    readFile(infoPath(id), 'utf8').then(
      (text) => JSON.parse(text) as UploadInfo,
      () => undefined,
    );

  async function writeInfo(info: UploadInfo): Promise<void> {
    const tmp = `${infoPath(info.id)}.tmp`;
    await writeFile(tmp, JSON.stringify(info), { mode: 0o600 });
    await rename(tmp, infoPath(info.id));
  }

  async function remove(id: string): Promise<void> {
    const info = await readInfo(id);
    await rm(infoPath(id), { force: true });
    await rm(dataPath(id), { force: true });
    if (info) count(info.quota, -1);
  }

  return {
    dataPath,
    /** Starts an upload: an empty data file, then its info (a crash in between leaves an orphan `sweep` removes). */
    async create(info: Omit<UploadInfo, 'id' | 'expiresAt'>): Promise<UploadInfo> {
      const id = randomBytes(16).toString('hex');
      const full = { ...info, id, expiresAt: Date.now() + expiryMs };
      await writeFile(dataPath(id), '', { mode: 0o600, flag: 'wx' });
      await writeInfo(full);
      count(full.quota, 1);
      return full;
    },

    /** How many unfinished uploads a quota key has on this node. */
    pendingOf: (key: string) => pending.get(key) ?? 0,

    /** Counts the unfinished uploads already on disk (at start, before any is created). */
    async load(): Promise<void> {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (!name.endsWith('.json') || !ID.test(name.slice(0, 32))) continue;
        const info = await readInfo(name.slice(0, 32));
        if (info) count(info.quota, 1);
      }
    },

    /** The upload and its offset, or undefined when unknown, malformed or expired (then removed). */
    async get(id: string): Promise<{ info: UploadInfo; offset: number } | undefined> {
      if (!ID.test(id)) return undefined;
      let info: UploadInfo;
      let offset: number;
      try {
        info = JSON.parse(await readFile(infoPath(id), 'utf8')) as UploadInfo;
        offset = (await stat(dataPath(id))).size;
      } catch {
        return undefined;
      }
      if (info.expiresAt <= Date.now()) {
        if (!locked.has(id)) await remove(id);
        return undefined;
      }
      return { info, offset };
    },

    /**
     * Appends `body` at `offset` (the data file's size), at most `info.length - offset` bytes. Past that it
     * throws {@link PastLength} and cuts the file back to `offset`. If the body ends early (the client went
     * away), what arrived is kept: that is what resuming is for. Pushes the expiry back. Returns the offset.
     */
    async append(info: UploadInfo, offset: number, body: Readable): Promise<number> {
      const limit = new Limit(info.length - offset);
      // Not `pipeline(body, ...)`: that would destroy the request, and its socket with the answer, on a
      // refusal. The body is piped in and let go of; a client that goes away ends the write.
      const gone = () => {
        if (!(body as Readable & { complete?: boolean }).complete) limit.destroy(new Error('client gone'));
      };
      body.once('close', gone);
      body.pipe(limit);
      try {
        await pipeline(limit, createWriteStream(dataPath(info.id), { flags: 'a' }));
      } catch (err) {
        body.unpipe(limit);
        if (err instanceof PastLength) await truncate(dataPath(info.id), offset);
        throw err;
      } finally {
        body.off('close', gone);
        info.expiresAt = Date.now() + expiryMs;
        await writeInfo(info).catch(() => {});
      }
      return offset + limit.size;
    },

    /** The first bytes of the data, for sniffing its type. */
    async head(id: string): Promise<Buffer> {
      const chunks: Buffer[] = [];
      for await (const chunk of createReadStream(dataPath(id), { start: 0, end: SNIFF_BYTES - 1 }))
        chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },

    remove,

    /** Runs `work` holding the upload's lock; false (and `work` not run) when another request holds it. */
    async withLock<T>(
      id: string,
      work: () => Promise<T>,
    ): Promise<{ done: true; value: T } | { done: false }> {
      if (locked.has(id)) return { done: false };
      locked.add(id);
      try {
        return { done: true, value: await work() };
      } finally {
        locked.delete(id);
      }
    },

    /**
     * Removes expired uploads, and files no upload owns (a crash between writing a data file and its
     * info, a left-over `.tmp`) once they are older than the expiry. Returns how many uploads went.
     */
    async sweep(now = Date.now()): Promise<number> {
      let removed = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const id = name.slice(0, 32);
        if (!ID.test(id) || locked.has(id)) continue;
        const path = join(dir, name);
        if (name.endsWith('.json')) {
          const info = await readInfo(id);
          if (info && info.expiresAt > now) continue;
          await remove(id);
          removed++;
          continue;
        }
        const [own, age] = await Promise.all([
          stat(infoPath(id)).then(
            () => true,
            () => false,
          ),
          stat(path).then(
            (s) => now - s.mtimeMs,
            () => 0,
          ),
        ]);
        if ((!own || name.endsWith('.tmp')) && age > expiryMs) await rm(path, { force: true });
      }
      return removed;
    },
  };
}

export type TusStore = ReturnType<typeof createTusStore>;
