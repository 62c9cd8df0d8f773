import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Progress } from './archive-write.ts';
import { MANIFEST_NAME, MAX_MANIFEST_BYTES, type Manifest, parseManifest } from './manifest.ts';
import { ArchiveError, openZipEntry, readZipEntries, type ZipEntry } from './zip-read.ts';

/** Room kept free on the disk beyond what an archive unpacks to. */
const DISK_MARGIN = 64 * 1024 * 1024;

/**
 * Reads and checks an archive's directory and manifest without unpacking anything: a foreign archive
 * (PocketBase's, any zip without our manifest), unsafe paths, entries the manifest does not list (or
 * lists with another size) are refused here. Uploads are checked this way; restores go on to unpack.
 */
export async function readManifest(archive: string): Promise<{ manifest: Manifest; entries: ZipEntry[] }> {
  const entries = await readZipEntries(archive);
  const entry = entries.find((e) => e.name === MANIFEST_NAME);
  if (!entry)
    throw new ArchiveError(
      'This archive is not a Plinth backup (it has no manifest.json); archives of PocketBase or other tools cannot be restored.',
    );
  if (entry.size > MAX_MANIFEST_BYTES) throw new ArchiveError('The backup manifest is too large.');
  const chunks: Buffer[] = [];
  for await (const chunk of await openZipEntry(archive, entry)) chunks.push(chunk as Buffer);
  const manifest = parseManifest(Buffer.concat(chunks).toString('utf8'));
  const listed = new Map(manifest.files.map((f) => [f.name, f]));
  for (const e of entries) {
    if (e.name === MANIFEST_NAME) continue;
    const file = listed.get(e.name);
    if (!file)
      throw new ArchiveError(
        `The archive holds ${JSON.stringify(e.name.slice(0, 200))}, which its manifest does not list.`,
      );
    if (file.size !== e.size)
      throw new ArchiveError(`The archive is damaged (${e.name} has another size than its manifest says).`);
    listed.delete(e.name);
  }
  if (listed.size) throw new ArchiveError(`The archive is damaged (${[...listed.keys()][0]} is missing).`);
  return { manifest, entries };
}

/**
 * Unpacks a checked archive into `dest` (a fresh scratch folder, never the live data): each entry is
 * hashed as it is written and compared with the manifest, and the disk must have room for all of it first.
 */
export async function extractArchive(
  archive: string,
  dest: string,
  options: { accept?: (manifest: Manifest) => void; onProgress?: Progress } = {},
): Promise<Manifest> {
  const { manifest, entries } = await readManifest(archive);
  options.accept?.(manifest);
  const onProgress = options.onProgress;
  const files = entries.filter((e) => e.name !== MANIFEST_NAME);
  const total = files.reduce((n, e) => n + e.size, 0);
  const disk = await statfs(dest);
  if (total + DISK_MARGIN > disk.bavail * disk.bsize)
    throw new ArchiveError(`Not enough disk space to unpack this backup (${total} bytes).`);
  const sums = new Map(manifest.files.map((f) => [f.name, f.sha256]));
  let done = 0;
  for (const entry of files) {
    const target = join(dest, ...entry.name.split('/'));
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const hash = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, next) {
        hash.update(chunk);
        done += chunk.length;
        onProgress?.(done, total);
        next(null, chunk);
      },
    });
    // `wx`: an entry can never write through something already there (names are unique and checked).
    await pipeline(
      await openZipEntry(archive, entry),
      tap,
      createWriteStream(target, { flags: 'wx', mode: 0o600 }),
    );
    if (hash.digest('hex') !== sums.get(entry.name))
      throw new ArchiveError(`The archive is damaged (${entry.name} does not match its manifest hash).`);
  }
  return manifest;
}
