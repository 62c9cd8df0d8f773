import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { extractArchive } from './archive-read.ts';
import type { Progress } from './archive-write.ts';
import type { Manifest } from './manifest.ts';
import { createScratch, dropScratch, summarizeServer } from './server-db.ts';
import { loadServer, type ServerUrl } from './server-tools.ts';
import { type DatabaseSummary, summarizeSqlite } from './sqlite-snapshot.ts';
import { moveStorageIn, readReady, stagingPaths, writeReady } from './staging.ts';
import { ArchiveError } from './zip-read.ts';

/** Where a verify loads the archive: a SQLite file in the scratch folder, or a scratch database on a server. */
export type VerifyTarget =
  | { engine: 'sqlite' }
  /** `scratch`: the scratch database's name, when the caller must know it before it exists (a restore). */
  | { engine: 'postgres' | 'mysql'; server: ServerUrl; scratch?: string };

/**
 * Unpacks `archive` into a scratch folder, checks every hash against the manifest, loads the database
 * (SQLite: opens it and runs its integrity check; server engines: loads the dump into a scratch database)
 * and compares its schema checksum and record counts with the manifest. Throws ArchiveError for anything
 * that differs; nothing but the scratch folder and scratch database is written. With `keep`, a server
 * engine's scratch database is answered instead of dropped (a restore swaps it in).
 */
export async function verifyArchive(
  archive: string,
  scratch: string,
  target: VerifyTarget,
  onProgress?: Progress,
  keep = false,
): Promise<{ manifest: Manifest; database?: ServerUrl }> {
  const accept = (m: Manifest) => {
    if (m.engine !== target.engine)
      throw new ArchiveError(`This backup was made on ${m.engine}; this server runs on ${target.engine}.`);
  };
  const manifest = await extractArchive(archive, scratch, { accept, onProgress });
  if (target.engine === 'sqlite') {
    const summary = await summarizeSqlite(join(scratch, 'data.db')).catch((err: Error) => {
      throw new ArchiveError(`The backup's database cannot be read: ${err.message}.`);
    });
    compare(summary, manifest);
    return { manifest };
  }
  const database = await createScratch(target.server, target.scratch);
  try {
    await loadServer(database, join(scratch, 'dump.sql')).catch((err: Error) => {
      throw new ArchiveError(`The backup's dump does not load: ${err.message}`);
    });
    compare(await summarizeServer(database), manifest);
  } catch (err) {
    await dropScratch(target.server, database);
    throw err;
  }
  if (keep) return { manifest, database };
  await dropScratch(target.server, database);
  return { manifest };
}

function compare(summary: DatabaseSummary, manifest: Manifest): void {
  if (summary.schemaChecksum !== manifest.schemaChecksum)
    throw new ArchiveError("The backup's collections do not match its manifest (schema checksum differs).");
  if (!isDeepStrictEqual(summary.counts, manifest.counts))
    throw new ArchiveError("The backup's record counts do not match its manifest.");
}

/**
 * Verifies `archive` into `DATA/.restore/new` and marks it ready. The live data is not touched: the swap
 * happens in {@link applyPendingRestore}, while the database is closed. A failure removes the staging.
 */
export async function stageRestore(
  dataDir: string,
  dbFile: string,
  archive: string,
  onProgress?: Progress,
): Promise<Manifest> {
  if ((await stat(dirname(dbFile))).dev !== (await stat(dataDir)).dev)
    throw new ArchiveError(
      'The database file is on another disk than the data directory; restore it by hand.',
    );
  const p = stagingPaths(dataDir);
  await rm(p.root, { recursive: true, force: true });
  await mkdir(p.fresh, { recursive: true, mode: 0o700 });
  try {
    const { manifest } = await verifyArchive(archive, p.fresh, { engine: 'sqlite' }, onProgress);
    // Local files: the archive's set replaces the live one, even when it is empty.
    if (manifest.storage === 'local') await mkdir(join(p.fresh, 'storage'), { recursive: true, mode: 0o700 });
    await writeReady(p, { engine: 'sqlite', createdAt: manifest.createdAt });
    return manifest;
  } catch (err) {
    await rm(p.root, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Finishes a staged restore (see {@link stagingPaths}); runs at start, before the database opens, and from
 * `plinth restore`. Answers what it did: nothing, threw away an unfinished staging, or swapped data in.
 */
export function applyPendingRestore(
  dataDir: string,
  dbFile: string | undefined,
): 'none' | 'discarded' | 'applied' {
  const p = stagingPaths(dataDir);
  if (!existsSync(p.root)) return 'none';
  // A server engine's staging is not SQLite's to finish: its data would be swapped in half.
  if (readReady(p)?.engine !== 'sqlite' || !dbFile) {
    rmSync(p.root, { recursive: true, force: true });
    return 'discarded';
  }
  mkdirSync(p.old, { recursive: true, mode: 0o700 });
  const newDb = join(p.fresh, 'data.db');
  if (existsSync(newDb)) {
    // The old database's WAL and shared memory go with it: left beside the new file they would be read into it.
    for (const suffix of ['-wal', '-shm', '-journal', '']) {
      const live = dbFile + suffix;
      const aside = join(p.old, `data.db${suffix}`);
      if (existsSync(live) && !existsSync(aside)) renameSync(live, aside);
    }
    renameSync(newDb, dbFile);
  }
  moveStorageIn(p, dataDir);
  // Done: the marker goes first, so a crash while deleting the old data cannot start the swap again.
  rmSync(p.ready);
  rmSync(p.root, { recursive: true, force: true });
  return 'applied';
}
