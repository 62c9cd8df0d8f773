import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Progress } from './archive-write.ts';
import type { Manifest } from './manifest.ts';
import { verifyArchive } from './restore.ts';
import { dropScratch } from './server-db.ts';
import { parseServerUrl, type ServerUrl } from './server-tools.ts';
import { ArchiveError } from './zip-read.ts';

/**
 * `plinth restore` on PostgreSQL or MariaDB, with every node stopped: the dump is loaded into a scratch
 * database and verified there, then swapped with the live database in one atomic step (PostgreSQL: both
 * databases renamed in one transaction; MariaDB: every table moved in one `RENAME TABLE`). A failure at
 * any point before the swap leaves the live database as it was and drops the scratch one.
 */
export async function restoreServer(
  url: string,
  dataDir: string,
  archive: string,
  onProgress?: Progress,
): Promise<Manifest> {
  const server = parseServerUrl(url);
  // In the data dir, so that the archive's files move into place by rename.
  const folder = await mkdtemp(join(dataDir, '.restore-'));
  try {
    const { manifest, database } = await verifyArchive(
      archive,
      folder,
      { engine: server.engine, server },
      onProgress,
      true,
    );
    const scratch = database as ServerUrl;
    try {
      await (server.engine === 'postgres' ? swapPostgres(server, scratch) : swapMariadb(server, scratch));
    } catch (err) {
      await dropScratch(server, scratch).catch(() => {});
      throw new ArchiveError(
        `The restored database could not be swapped in (${(err as Error).message}); stop every Plinth node and try again.`,
      );
    }
    // Local files follow the database (on S3 they were referenced, not copied, and stay as they are).
    if (manifest.storage === 'local') {
      const live = join(dataDir, 'storage');
      await mkdir(join(folder, 'storage'), { recursive: true, mode: 0o700 });
      if (existsSync(live)) await rename(live, join(folder, 'old-storage'));
      await rename(join(folder, 'storage'), live);
    }
    return manifest;
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function swapPostgres(live: ServerUrl, scratch: ServerUrl): Promise<void> {
  const q = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const old = `${live.database.slice(0, 40)}_old_${Date.now().toString(36)}`;
  // Connected to the maintenance database: a database cannot be renamed while anyone is connected to it.
  const admin = new pg.Client({
    host: live.host,
    port: Number(live.port),
    user: live.user,
    password: live.password,
    database: 'postgres',
  });
  await admin.connect();
  try {
    await admin.query('BEGIN');
    await admin.query(`ALTER DATABASE ${q(live.database)} RENAME TO ${q(old)}`);
    await admin.query(`ALTER DATABASE ${q(scratch.database)} RENAME TO ${q(live.database)}`);
    await admin.query('COMMIT');
  } catch (err) {
    await admin.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    await admin.end();
  }
  await dropScratch(live, { ...live, database: old });
}

async function swapMariadb(live: ServerUrl, scratch: ServerUrl): Promise<void> {
  const q = (name: string) => `\`${name.replaceAll('`', '``')}\``;
  const conn = await mysql.createConnection({
    host: live.host,
    port: Number(live.port),
    user: live.user,
    password: live.password,
  });
  const old = `${live.database.slice(0, 40)}_old_${Date.now().toString(36)}`;
  try {
    const tables = async (db: string, type: string) =>
      (
        (
          await conn.query(
            'SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = ?',
            [db, type],
          )
        )[0] as Array<{ n: string }>
      ).map((r) => r.n);
    const views = (
      await conn.query(
        'SELECT TABLE_NAME AS n, VIEW_DEFINITION AS d FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?',
        [scratch.database],
      )
    )[0] as Array<{ n: string; d: string }>;
    await conn.query(`CREATE DATABASE ${q(old)}`);
    const moves = [
      ...(await tables(live.database, 'BASE TABLE')).map(
        (t) => `${q(live.database)}.${q(t)} TO ${q(old)}.${q(t)}`,
      ),
      ...(await tables(scratch.database, 'BASE TABLE')).map(
        (t) => `${q(scratch.database)}.${q(t)} TO ${q(live.database)}.${q(t)}`,
      ),
    ];
    // One statement: MariaDB applies every rename or none.
    await conn.query(`RENAME TABLE ${moves.join(', ')}`);
    // Views cannot move between databases: the live ones go, the backup's are made again over the new tables.
    for (const v of await tables(live.database, 'VIEW'))
      await conn.query(`DROP VIEW ${q(live.database)}.${q(v)}`);
    for (const v of views)
      await conn.query(
        `CREATE VIEW ${q(live.database)}.${q(v.n)} AS ${v.d.replaceAll(`${q(scratch.database)}.`, `${q(live.database)}.`)}`,
      );
  } finally {
    await conn.end();
  }
  await dropScratch(live, { ...live, database: old });
  await dropScratch(live, scratch);
}
