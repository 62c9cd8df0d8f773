import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Manifest } from './manifest.ts';

/**
 * A restore is staged in `DATA/.restore/`: `new/` holds the verified data (SQLite: `data.db`; every engine:
 * `storage/` when files are local), `ready` (written last, atomically) says it may be swapped in and what
 * with, `old/` receives the data it replaces. Without `ready` the folder is a restore that never finished
 * verifying and is thrown away; with it, the swap is finished at the next start, step by step, each step
 * skipped once done, so a crash (kill -9) at any point leaves either the old data or the new.
 */
export function stagingPaths(dataDir: string) {
  const root = join(dataDir, '.restore');
  return {
    root,
    fresh: join(root, 'new'),
    old: join(root, 'old'),
    ready: join(root, 'ready'),
    /** Server engines: `ready` renamed once the swap is whole; what is left is dropping the old data. */
    cleanup: join(root, 'cleanup'),
  };
}

export type Staging = ReturnType<typeof stagingPaths>;

/** What `ready` records: the engine it was staged for and, on the server engines, the databases to swap. */
export interface ReadyMarker {
  engine: Manifest['engine'];
  createdAt: string;
  /** Server engines: the live database, the verified scratch one, and the name the live one moves to. */
  live?: string;
  scratch?: string;
  old?: string;
}

/** Writes `ready` through a synced temp file and a rename: it is there whole or not at all. */
export async function writeReady(p: Staging, marker: ReadyMarker): Promise<void> {
  const file = await open(`${p.ready}.tmp`, 'w', 0o600);
  await file.writeFile(JSON.stringify(marker));
  await file.sync();
  await file.close();
  await rename(`${p.ready}.tmp`, p.ready);
}

/**
 * The `ready` marker (or the one at `file`, `cleanup`), or undefined when it is missing or unreadable
 * (then the staging is discarded).
 */
export function readReady(p: Staging, file = p.ready): ReadyMarker | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const marker = JSON.parse(readFileSync(file, 'utf8')) as ReadyMarker;
    // Markers written before engines were named were SQLite's.
    return { ...marker, engine: marker.engine ?? 'sqlite' };
  } catch {
    return undefined;
  }
}

/** Moves the staged `storage/` in place of the live one (the live one aside into `old/`); each step once. */
export function moveStorageIn(p: Staging, dataDir: string): void {
  const staged = join(p.fresh, 'storage');
  if (!existsSync(staged)) return;
  mkdirSync(p.old, { recursive: true, mode: 0o700 });
  const live = join(dataDir, 'storage');
  const aside = join(p.old, 'storage');
  if (existsSync(live) && !existsSync(aside)) renameSync(live, aside);
  renameSync(staged, live);
}
