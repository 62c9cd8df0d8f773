import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readManifest } from './archive-read.ts';
import { type Progress, writeArchive } from './archive-write.ts';
import type { Manifest } from './manifest.ts';
import { stageRestore } from './restore.ts';
import { createScratch, dropScratch, summarizeServer } from './server-db.ts';
import { dumpServer, loadServer, parseServerUrl, type ServerUrl } from './server-tools.ts';
import { snapshotSqlite } from './sqlite-snapshot.ts';
import { ArchiveError } from './zip-read.ts';

/** One stored backup, as PocketBase's `GET /api/backups` lists it. */
export interface BackupInfo {
  key: string;
  size: number;
  modified: string;
}

/** A backup or restore is already running (PocketBase answers 400 "Try again later"). */
export class BackupBusyError extends Error {}

export interface BackupServiceOptions {
  dataDir: string;
  engine: Manifest['engine'];
  /** The SQLite database file; undefined on the server engines. */
  sqliteFile: string | undefined;
  /** The server database's URL (PostgreSQL, MariaDB); undefined on SQLite. */
  databaseUrl?: string;
  /** The local storage folder, or undefined while files go to S3 (then they are referenced, not copied). */
  storageDir: () => string | undefined;
  plinthVersion: string;
}

/** Backups of this server: made, listed, stored, removed and staged for restore; one at a time. */
export interface BackupService {
  /** The folder archives are kept in (`DATA/backups`). */
  readonly dir: string;
  list(): Promise<BackupInfo[]>;
  /** The archive's path when `key` names a stored backup, else undefined. */
  find(key: string): Promise<string | undefined>;
  create(key: string, onProgress?: Progress): Promise<Manifest>;
  /** Checks an uploaded archive (directory and manifest) and moves it in as `key`. */
  adopt(key: string, uploaded: string): Promise<void>;
  remove(key: string): Promise<boolean>;
  /** Verifies the archive and stages it; the swap happens when the app restarts (see `onRestart`). */
  restore(key: string, onProgress?: Progress): Promise<Manifest>;
  /** The key being created or restored now, if any. */
  active(): string | undefined;
  /** Set by `plinth serve`: closes and reopens the app, which swaps a staged restore in. */
  onRestart?: () => void;
}

/** Names a stored archive may have: no path, no dot first, `.zip` last. */
export const STORED_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,145}\.zip$/;

/** Makes the backup service; archives live in the data dir's `backups/` folder. */
export function createBackupService(options: BackupServiceOptions): BackupService {
  const dir = join(options.dataDir, 'backups');
  let running: string | undefined;
  const exclusive = async <T>(key: string, work: () => Promise<T>): Promise<T> => {
    if (running)
      throw new BackupBusyError('Try again later - another backup/restore process has already been started.');
    running = key;
    try {
      return await work();
    } finally {
      running = undefined;
    }
  };
  const sqlite = () => {
    if (!options.sqliteFile)
      throw new ArchiveError(
        `A running server restores SQLite only: on ${options.engine}, stop every node and run \`plinth restore FILE\`.`,
      );
    return options.sqliteFile;
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
  const pathOf = (key: string) => (STORED_KEY.test(key) ? join(dir, key) : undefined);
  const service: BackupService = {
    dir,
    async list() {
      const names = await readdir(dir).catch(() => [] as string[]);
      const out: BackupInfo[] = [];
      for (const key of names.filter((n) => STORED_KEY.test(n)).sort()) {
        const info = await stat(join(dir, key)).catch(() => undefined);
        if (info?.isFile()) out.push({ key, size: info.size, modified: pbDate(info.mtime) });
      }
      return out;
    },
    async find(key) {
      const path = pathOf(key);
      if (!path) return undefined;
      const info = await stat(path).catch(() => undefined);
      return info?.isFile() ? path : undefined;
    },
    create(key, onProgress) {
      return exclusive(key, async () => {
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const work = await mkdtemp(join(options.dataDir, '.backup-'));
        try {
          const { database, summary } = await snapshot(work);
          return await writeArchive(join(dir, key), {
            engine: options.engine,
            plinthVersion: options.plinthVersion,
            database,
            summary,
            storageDir: options.storageDir(),
            onProgress,
          });
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      });
    },
    async adopt(key, uploaded) {
      await readManifest(uploaded);
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await rename(uploaded, join(dir, key));
    },
    async remove(key) {
      const path = await service.find(key);
      if (!path) return false;
      await rm(path, { force: true });
      return true;
    },
    restore(key, onProgress) {
      return exclusive(key, async () => {
        const path = await service.find(key);
        if (!path) throw new ArchiveError('Missing or invalid backup file.');
        return stageRestore(options.dataDir, sqlite(), path, onProgress);
      });
    },
    active: () => running,
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

/** PocketBase's date format: `2024-01-02 03:04:05.678Z`. */
const pbDate = (date: Date) => date.toISOString().replace('T', ' ');
