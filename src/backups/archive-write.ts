import { createHash } from 'node:crypto';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { FORMAT, MANIFEST_NAME, type Manifest, type ManifestFile } from './manifest.ts';
import type { DatabaseSummary } from './sqlite-snapshot.ts';
import { createZipWriter } from './zip-write.ts';

/** Bytes done and bytes in all (the total is known once the files are listed), for progress bars. */
export type Progress = (done: number, total: number) => void;

/** What goes into one archive: the database entry already made, and where the files are (if local). */
export interface ArchiveInput {
  engine: Manifest['engine'];
  plinthVersion: string;
  database: { name: string; path: string };
  summary: DatabaseSummary;
  /** The local storage folder whose files are copied; undefined when files are on S3 (referenced only). */
  storageDir: string | undefined;
  onProgress?: Progress;
}

const KEY_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/;

/**
 * Writes the archive to `target` through a temporary name beside it, renamed into place only when the
 * whole archive is written: a backup that fails or is cut short leaves no `.zip` behind. Entries are
 * hashed as they stream in; the manifest goes last, once every hash is known.
 */
export async function writeArchive(target: string, input: ArchiveInput): Promise<Manifest> {
  const files = input.storageDir ? await listStorage(input.storageDir) : [];
  const dbFile = await open(input.database.path, 'r');
  const dbSize = (await dbFile.stat()).size;
  const total = dbSize + files.reduce((n, f) => n + f.size, 0);
  const temp = `${target}.partial`;
  const zip = createZipWriter(temp);
  const listed: ManifestFile[] = [];
  let done = 0;
  const addFrom = async (name: string, handle: Awaited<ReturnType<typeof open>>) => {
    const hash = createHash('sha256');
    let size = 0;
    await zip.add(name, handle.createReadStream(), (chunk) => {
      hash.update(chunk);
      size += chunk.length;
      done += chunk.length;
      input.onProgress?.(done, total);
    });
    listed.push({ name, size, sha256: hash.digest('hex') });
  };
  try {
    await addFrom(input.database.name, dbFile);
    for (const file of files) {
      // A file removed since it was listed (its record deleted meanwhile) is left out: the snapshot was
      // taken first, so such a file belongs to a state newer than the database in the archive.
      const handle = await open(file.path, 'r').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (handle) await addFrom(file.key, handle);
    }
    const manifest: Manifest = {
      format: FORMAT,
      formatVersion: 1,
      plinthVersion: input.plinthVersion,
      engine: input.engine,
      createdAt: new Date().toISOString(),
      storage: input.storageDir ? 'local' : 's3',
      schemaChecksum: input.summary.schemaChecksum,
      counts: input.summary.counts,
      files: listed,
    };
    await zip.addBuffer(MANIFEST_NAME, Buffer.from(JSON.stringify(manifest, null, 1)));
    await zip.finish();
    await rename(temp, target);
    return manifest;
  } catch (err) {
    zip.abort();
    await rm(temp, { force: true });
    throw err;
  }
}

/**
 * The regular files under the storage folder whose keys storage itself would accept (temporary files
 * under `.tmp/` and anything else starting with a dot are skipped; symlinks are not followed).
 */
async function listStorage(dir: string): Promise<Array<{ key: string; path: string; size: number }>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    },
  );
  const out: Array<{ key: string; path: string; size: number }> = [];
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const key = relative(dir, path).split(sep).join('/');
    if (!key.split('/').every((s) => KEY_SEGMENT.test(s))) continue;
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) continue;
    const { size } = await handle.stat();
    await handle.close();
    out.push({ key: `storage/${key}`, path, size });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}
