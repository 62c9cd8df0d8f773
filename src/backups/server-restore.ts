import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Progress } from './archive-write.ts';
import type { Manifest } from './manifest.ts';
import { verifyArchive } from './restore.ts';
import { dropScratch, scratchName } from './server-db.ts';
import {
  finishMariadbViews,
  journalMariadbViews,
  mariadbHoldsTables,
  pgDatabaseExists,
  reopenPostgres,
  swapMariadb,
  swapPostgres,
} from './server-swap.ts';
import { parseServerUrl, type ServerUrl } from './server-tools.ts';
import {
  moveStorageIn,
  type ReadyMarker,
  readReady,
  type Staging,
  stagingPaths,
  writeReady,
} from './staging.ts';
import { ArchiveError } from './zip-read.ts';

/**
 * A restore on PostgreSQL or MariaDB, in two halves like SQLite's (staging.ts). The stage loads the dump
 * into a scratch database beside the live one and verifies it there, unpacks the files into
 * `DATA/.restore/new`, and writes `ready` naming the scratch database: the live data is not touched. The
 * apply (at start, before the database opens) swaps the scratch database in atomically, then the files.
 */
export async function stageServerRestore(
  url: string,
  dataDir: string,
  archive: string,
  onProgress?: Progress,
): Promise<Manifest> {
  const server = parseServerUrl(url);
  const p = stagingPaths(dataDir);
  await discard(server, p);
  await mkdir(p.fresh, { recursive: true, mode: 0o700 });
  // Named before it exists: a crash while the dump loads leaves the name, and the next start drops it.
  const scratch = { ...server, database: scratchName(server) };
  await writeFile(join(p.root, 'scratch'), scratch.database, { mode: 0o600 });
  try {
    const target = { engine: server.engine, server, scratch: scratch.database };
    const { manifest } = await verifyArchive(archive, p.fresh, target, onProgress, true);
    // Loaded and checked: only the files are still needed from the archive.
    await rm(join(p.fresh, 'dump.sql'), { force: true });
    // Local files: the archive's set replaces the live one, even when it is empty.
    if (manifest.storage === 'local') await mkdir(join(p.fresh, 'storage'), { recursive: true, mode: 0o700 });
    if (server.engine === 'mysql') await journalMariadbViews(server, scratch.database);
    await writeReady(p, {
      engine: server.engine,
      createdAt: manifest.createdAt,
      live: server.database,
      scratch: scratch.database,
      old: `${server.database.slice(0, 40)}_old_${Date.now().toString(36)}`,
    });
    return manifest;
  } catch (err) {
    // The marker is never written on this path: removing the folder first keeps a crash here harmless.
    await rm(p.root, { recursive: true, force: true });
    await dropScratch(server, scratch).catch(() => {});
    throw err;
  }
}

/** The bus topic on which the node (or `plinth restore`) that swapped restored data in tells the others. */
export const RESTORED_TOPIC = 'backups.restored';

/** What a start found: nothing, a staging thrown away, a restore swapped in or failed, a crash repaired. */
export interface ServerRestoreOutcome {
  outcome: 'none' | 'discarded' | 'applied' | 'failed' | 'recovered';
  error?: Error;
}

/**
 * Finishes what a restore left (see {@link stageServerRestore}); runs at every start of every node before
 * the database opens, and from `plinth restore`. First what any node may find after a crash elsewhere
 * (PostgreSQL connections still refused, MariaDB views still to be made); then this node's staging: swapped
 * in when `ready` and its scratch database still holds the data, finished when the swap had committed,
 * thrown away otherwise. A swap that fails leaves the old database in use, and is answered as `failed`.
 */
export async function applyPendingServerRestore(url: string, dataDir: string): Promise<ServerRestoreOutcome> {
  const server = parseServerUrl(url);
  // Out of reach (the server down, no access to PostgreSQL's maintenance database): opening the database
  // says why soon enough, and a staging below is kept for the next start.
  const repair = server.engine === 'postgres' ? reopenPostgres(server) : finishMariadbViews(server);
  const repaired = await repair.catch(() => false);
  const p = stagingPaths(dataDir);
  if (!existsSync(p.root)) return { outcome: repaired ? 'recovered' : 'none' };
  // A crash after the swap was whole, while the old data was dropped: finish that (and say it was applied,
  // so that the other nodes hear of the restore if they had not).
  const whole = readReady(p, p.cleanup);
  if (whole?.engine === server.engine && whole.live === server.database) {
    await dropLeftovers(server, whole);
    rmSync(p.root, { recursive: true, force: true });
    return { outcome: 'applied' };
  }
  const marker = readReady(p);
  const state = marker ? await swapState(server, marker) : 'gone';
  if (state === 'gone' || !marker?.scratch || !marker.old) {
    await discard(server, p);
    return { outcome: 'discarded' };
  }
  if (state === 'pending') {
    try {
      await (server.engine === 'postgres' ? swapPostgres : swapMariadb)(server, marker.scratch, marker.old);
    } catch (err) {
      await discard(server, p);
      return { outcome: 'failed', error: err as Error };
    }
  }
  if (server.engine === 'mysql') await finishMariadbViews(server);
  moveStorageIn(p, dataDir);
  // Whole: `ready` becomes `cleanup` in one rename, so a crash from here on only drops what is left over.
  renameSync(p.ready, p.cleanup);
  await dropLeftovers(server, marker);
  rmSync(p.root, { recursive: true, force: true });
  return { outcome: 'applied' };
}

/**
 * Drops the old data (and MariaDB's emptied scratch database) of a swap that is whole. The restore is done
 * whatever happens here: a database that does not drop is left behind (its `_old_` name says what it is)
 * rather than keeping the other nodes from hearing of the restore.
 */
async function dropLeftovers(server: ServerUrl, marker: ReadyMarker): Promise<void> {
  for (const name of [marker.old, server.engine === 'mysql' ? marker.scratch : undefined])
    if (name && name !== server.database)
      await dropScratch(server, { ...server, database: name }).catch(() => {});
}

/**
 * Where a staged swap stands, read from the databases themselves: `pending` while the scratch database
 * holds the restored data, `done` once the old data sits under its `old` name (only the swap puts it
 * there), `gone` when neither (a marker for another database, or scratch data someone dropped).
 */
async function swapState(server: ServerUrl, marker: ReadyMarker): Promise<'pending' | 'done' | 'gone'> {
  const { scratch, old } = marker;
  if (marker.engine !== server.engine || marker.live !== server.database || !scratch || !old) return 'gone';
  // Never the live database under another name: the marker is a file anyone with the data dir can edit.
  if (scratch === server.database || old === server.database) return 'gone';
  if (server.engine === 'postgres') {
    if (await pgDatabaseExists(server, scratch)) return 'pending';
    return (await pgDatabaseExists(server, old)) ? 'done' : 'gone';
  }
  if (await mariadbHoldsTables(server, scratch)) return 'pending';
  return (await mariadbHoldsTables(server, old)) ? 'done' : 'gone';
}

/**
 * Removes a staging folder, then the scratch database it names: only a name of the scratch form beside
 * this live database (the folder is a file anyone with the data dir can edit; the live data is never dropped).
 */
async function discard(server: ServerUrl, p: Staging): Promise<void> {
  const named = join(p.root, 'scratch');
  const name = existsSync(named) ? readFileSync(named, 'utf8').trim() : undefined;
  rmSync(p.root, { recursive: true, force: true });
  const prefix = `${server.database.slice(0, 40)}_bk_`;
  if (name?.startsWith(prefix) && name !== server.database)
    await dropScratch(server, { ...server, database: name }).catch(() => {});
}

/** For messages: the archive problem, or the swap's failure in words an operator can act on. */
export function swapFailure(err: Error): ArchiveError {
  return new ArchiveError(
    `The restored database could not be swapped in (${err.message}); the old data is still in use.`,
  );
}
