import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { S3Section } from '../storage/index.ts';
import { readManifest } from './archive-read.ts';
import { type Progress, writeArchive } from './archive-write.ts';
import type { Manifest } from './manifest.ts';
import { stageRestore } from './restore.ts';
import { createScratch, dropScratch, summarizeServer } from './server-db.ts';
import { stageServerRestore } from './server-restore.ts';
import { dumpServer, loadServer, parseServerUrl, type ServerUrl } from './server-tools.ts';
import { snapshotSqlite } from './sqlite-snapshot.ts';
import { type BackupInfo, createBackupStore } from './store.ts';
import { ArchiveError } from './zip-read.ts';

/** A backup or restore is already running (PocketBase answers 400 "Try again later"). */
export class BackupBusyError extends Error {}

/** What the backup service needs from the app (made in app.ts). */
export interface BackupServiceOptions {
  dataDir: string;
  engine: Manifest['engine'];
  /** The SQLite database file; undefined on the server engines. */
  sqliteFile: string | undefined;
  /** The server database's URL (PostgreSQL, MariaDB); undefined on SQLite. */
  databaseUrl?: string;
  /** The local storage folder, or undefined while files go to S3 (then they are referenced, not copied). */
  storageDir: () => string | undefined;
  /** The `backups.s3` settings: archives go to that bucket while enabled. */
  s3: () => S3Section;
  plinthVersion: string;
}

/** Backups of this server: made, listed, stored, removed and staged for restore; one at a time. */
export interface BackupService {
  /** The folder archives are written in (`DATA/backups`), and kept in unless `backups.s3` is enabled. */
  readonly dir: string;
  list(): Promise<BackupInfo[]>;
  /** The archive's size when `key` names a stored backup, else undefined. */
  size(key: string): Promise<number | undefined>;
  /** The archive's bytes (a download), or undefined. */
  open(key: string): Promise<Readable | undefined>;
  /** True while archives go to the `backups.s3` bucket. */
  remote(): boolean;
  create(key: string, onProgress?: Progress): Promise<Manifest>;
  /** Checks an uploaded archive (directory and manifest) and moves it in as `key`. */
  adopt(key: string, uploaded: string): Promise<void>;
  remove(key: string): Promise<boolean>;
  /**
   * Verifies the archive and stages it (SQLite: a file; PostgreSQL, MariaDB: a scratch database); the swap
   * happens when the app reopens (see `onRestart`).
   */
  restore(key: string, onProgress?: Progress): Promise<Manifest>;
  /** The key being created or restored now, if any. */
  active(): string | undefined;
  /** True while a backup or restore runs, or a restore is staged and waits for the app to reopen. */
  busy(): boolean;
  /** Set by `plinth serve`: closes and reopens the app, which swaps a staged restore in. */
  onRestart?: () => void;
}

/** Makes the backup service; archives live in the data dir's `backups/` folder. */
export function createBackupService(options: BackupServiceOptions): BackupService {
  const dir = join(options.dataDir, 'backups');
  let running: string | undefined;
  /** A restore staged and waiting for the reopen: no other backup or restore may start (and replace it). */
  let staged: string | undefined;
  const exclusive = async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    if (running ?? staged)
      throw new BackupBusyError('Try again later - another backup/restore process has already been started.');
    running = key;
    try {
      return await work();
    } finally {
      running = undefined;
    }
  };
  /** Verifies and stages the archive for the engine in use; the swap happens when the app reopens. */
  const stage = (archive: string, onProgress?: Progress) => {
    if (options.sqliteFile) return stageRestore(options.dataDir, options.sqliteFile, archive, onProgress);
    if (options.databaseUrl)
      return stageServerRestore(options.databaseUrl, options.dataDir, archive, onProgress);
    throw new ArchiveError('This database (in memory) cannot be restored into.');
  };
  /** The snapshot and its summary: a SQLite copy, or a server dump loaded once into a scratch database. */
  const snapshot = async (work: string) => {
    if (options.sqliteFile) {
      const path = join(work, 'data.db');
      return { database: { name: 'data.db', path }, summary: await snapshotSqlite(options.sqliteFile, path) };
    }
    const server = parseServerUrl(options.databaseUrl ?? '');
    const path = join(work, 'dump.sql');
    await dumpServer(server, path);
    return { database: { name: 'dump.sql', path }, summary: await summarizeDump(server, path) };
  };
  const store = createBackupStore(dir, options.s3);
  const service: BackupService = {
    dir,
    list: () => store.list(),
    size: (key) => store.size(key),
    open: (key) => store.open(key),
    remote: () => store.remote(),
    create(key, onProgress) {
      return exclusive(key, async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const work = await mkdtemp(join(options.dataDir, '.backup-'));
        try {
          const { database, summary } = await snapshot(work);
          const manifest = await writeArchive(join(dir, key), {
            engine: options.engine,
            plinthVersion: options.plinthVersion,
            database,
            summary,
            storageDir: options.storageDir(),
            onProgress,
          });
          await store.put(key, join(dir, key));
          return manifest;
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      });
    },
    async adopt(key, uploaded) {
      await readManifest(uploaded);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await rename(uploaded, join(dir, key));
      await store.put(key, join(dir, key));
    },
    remove: (key) => store.remove(key),
    restore(key, onProgress) {
      return exclusive(key, async () => {
        if ((await store.size(key)) === undefined) throw new ArchiveError('Missing or invalid backup file.');
        const spool = join(options.dataDir, '.restore-download');
        try {
          const manifest = await stage(await store.fetch(key, spool), onProgress);
          staged = key;
          return manifest;
        } finally {
          await rm(spool, { recursive: true, force: true });
        }
      });
    },
    active: () => running,
    busy: () => (running ?? staged) !== undefined,
  };
  return service;
}

/**
 * A server dump's summary, from the dump itself: it is loaded once into a scratch database and counted
 * there. Twice the work of the dump alone, but the manifest then describes exactly what the archive holds
 * (the dump tools' snapshots cannot be shared with another connection), and a dump that does not load is
 * found when it is made, not when it is needed.
 */
async function summarizeDump(server: ServerUrl, dump: string) {
  const scratch = await createScratch(server);
  try {
    await loadServer(scratch, dump);
    return await summarizeServer(scratch);
  } finally {
    await dropScratch(server, scratch);
  }
}
