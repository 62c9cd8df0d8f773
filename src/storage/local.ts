import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { SNIFF_BYTES, sniffMime } from '../lib/index.ts';
import { type BlobInfo, type ByteRange, checkKey, type FileStorage } from './storage.ts';

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function readHead(path: string): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** How many files' sniffed types are remembered (a few hundred KB at most). */
const TYPE_CACHE_SIZE = 2000;

/**
 * The sniffed type of recently served files, by path and version (size, modification time, inode): a popular
 * file is not opened and sniffed again for every download. Oldest first out.
 */
function typeCache() {
  const entries = new Map<string, { version: string; type: string }>();
  return {
    get(path: string, version: string): string | undefined {
      const entry = entries.get(path);
      return entry?.version === version ? entry.type : undefined;
    },
    set(path: string, version: string, type: string): void {
      entries.delete(path);
      if (entries.size >= TYPE_CACHE_SIZE) entries.delete(entries.keys().next().value as string);
      entries.set(path, { version, type });
    },
  };
}

/**
 * A second name for the spooled upload instead of a second copy of its bytes, when both are on one
 * filesystem (the data dir's `.uploads/` and `storage/` usually are): measured on 100 MiB uploads, the copy
 * doubled what the server wrote and cost a third of its CPU per upload. The spool keeps its own name, so
 * removing it, or storing it again (a retried batch), works as before; elsewhere the bytes are copied.
 */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch {
    await copyFile(from, to);
  }
}

/**
 * Blobs as files under `root` (the data dir's `storage/`), one folder per key segment. A write goes to
 * `root/.tmp/` first and is renamed into place, so a reader never sees half a file and a crash leaves
 * only a temporary file behind (removed at the next start).
 */
export async function createLocalStorage(root: string): Promise<FileStorage> {
  const tmp = join(root, '.tmp');
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true, mode: 0o700 });
  const pathOf = (key: string) => join(root, checkKey(key));

  async function place(key: string, write: (path: string) => Promise<void>): Promise<void> {
    const target = pathOf(key);
    const staged = join(tmp, randomBytes(12).toString('hex'));
    try {
      await write(staged);
      await mkdir(dirname(target), { recursive: true, mode: 0o700 });
      await rename(staged, target);
    } catch (err) {
      await rm(staged, { force: true });
      throw err;
    }
  }

  const types = typeCache();

  async function statOf(key: string): Promise<BlobInfo | undefined> {
    try {
      const path = pathOf(key);
      const s = await stat(path);
      if (!s.isFile()) return undefined;
      const etag = `"${s.size.toString(16)}-${Math.floor(s.mtimeMs).toString(16)}"`;
      // No metadata beside the file: its type is sniffed again, exactly as it was on upload, once per version.
      // Every write renames a new file into place: the inode tells versions apart within one millisecond.
      const version = `${etag}:${s.ino}`;
      let contentType = types.get(path, version);
      if (contentType === undefined) {
        contentType = await sniffMime(await readHead(path));
        types.set(path, version, contentType);
      }
      return { size: s.size, modified: s.mtime, etag, contentType };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  return {
    putFile: (key, path) => place(key, (staged) => linkOrCopy(path, staged)),
    putBuffer: (key, body) => place(key, (staged) => writeFile(staged, body, { mode: 0o600 })),
    stat: statOf,
    // A real write where uploads are staged: catches a missing or replaced directory, a read-only mount
    // and a full disk, which a permission check would not (and root passes every permission check).
    async check() {
      const probe = join(tmp, `ready-${randomBytes(6).toString('hex')}`);
      try {
        await writeFile(probe, 'ok', { mode: 0o600 });
      } finally {
        await rm(probe, { force: true });
      }
    },
    async read(key: string, range?: ByteRange): Promise<Readable | undefined> {
      try {
        const handle = await open(pathOf(key), 'r');
        return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
    async deletePrefix(prefix) {
      await rm(pathOf(prefix), { recursive: true, force: true });
    },
    close: async () => {},
  };
}
