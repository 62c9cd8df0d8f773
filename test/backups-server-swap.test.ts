import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createApp } from '../src/app.ts';
import { applyPendingServerRestore, parseServerUrl, stageServerRestore } from '../src/backups/index.ts';
import { finishMariadbViews, swapMariadb, swapPostgres } from '../src/backups/server-swap.ts';
import { moveStorageIn, readReady, stagingPaths } from '../src/backups/staging.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import {
  createTestDatabase,
  mysqlAdmin,
  pgAdmin,
  scratchDatabases,
  TEST_ENGINE,
  type TestDatabase,
} from './helpers/databases.ts';

// The swap of a staged PostgreSQL or MariaDB restore, from every state a crash (kill -9) can leave it in,
// with real databases: the next start (applyPendingServerRestore) finishes a swap that was marked ready and
// gives the restored data whole (tables, views, files), or throws away one that was not and gives the old
// data whole; a swap that fails leaves the old data in use. Two archives of one database are swapped in
// turn: `three` (three notes, two views, storage file "three") and `two` (two notes, one view, "two").

describe(`the swap of a staged restore on ${TEST_ENGINE}`, {
  skip: TEST_ENGINE === 'sqlite' && 'SQLite swaps files: backups-swap.test.ts',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-server-swap-'));
  let database: TestDatabase;
  const open = () =>
    createApp(loadConfig({ dir, db: database.url, logLevel: 'silent' }, {}), createLogger('silent'));
  const archive = (name: string) => join(dir, 'backups', name);
  const storageFile = join(dir, 'storage', 'which.txt');

  /** Which archive's data is live: note count, views (a stale one would be a mix), the file's text. */
  const live = async () => {
    const app = await open();
    try {
      const count = async (table: string) =>
        Number(
          (await sql<{ n: number }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(app.db.kysely))
            .rows[0]?.n,
        );
      const notes = await count('notes');
      const views = [await count('titles'), await count('late_titles').catch(() => 'none')];
      return { notes, views, file: readFileSync(storageFile, 'utf8') };
    } finally {
      await app.close();
    }
  };
  const THREE = { notes: 3, views: [3, 3], file: 'three' };
  const TWO = { notes: 2, views: [2, 'none'], file: 'two' };

  before(async () => {
    database = await createTestDatabase();
    const app = await open();
    await app.collections.create({ name: 'notes', type: 'base', fields: [{ name: 'title', type: 'text' }] });
    await app.collections.create({ name: 'titles', type: 'view', viewQuery: 'SELECT id, title FROM notes' });
    const insert = (id: string) =>
      sql`INSERT INTO notes (id, title) VALUES (${id}, ${id})`.execute(app.db.kysely);
    await insert('aaaaaaaaaaaaaa1');
    await insert('aaaaaaaaaaaaaa2');
    mkdirSync(join(dir, 'storage'), { recursive: true });
    writeFileSync(storageFile, 'two');
    await app.backups.create('two.zip');
    await insert('aaaaaaaaaaaaaa3');
    await app.collections.create({
      name: 'late_titles',
      type: 'view',
      viewQuery: 'SELECT id, title FROM titles',
    });
    writeFileSync(storageFile, 'three');
    await app.backups.create('three.zip');
    await app.close();
    assert.deepEqual(await live(), THREE);
  });
  after(async () => {
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const server = () => parseServerUrl(database.url);
  /** Stages `name`, lets `crash` leave the state a kill would, then starts as after the kill. */
  const restart = async (
    name: string,
    crash: (marker: { scratch: string; old: string }) => Promise<void>,
  ) => {
    await stageServerRestore(database.url, dir, archive(name));
    const marker = readReady(stagingPaths(dir));
    await crash({ scratch: marker?.scratch ?? '', old: marker?.old ?? '' });
    return applyPendingServerRestore(database.url, dir);
  };
  const swap = (m: { scratch: string; old: string }) =>
    (TEST_ENGINE === 'postgres' ? swapPostgres : swapMariadb)(server(), m.scratch, m.old);
  const clean = async () => {
    assert.equal(existsSync(join(dir, '.restore')), false, 'staging left behind');
    assert.deepEqual(await scratchDatabases(database.url), []);
  };

  /** The start swapped the restored data in whole (`data`), and left no staging or database behind. */
  const applied = async (result: { outcome: string }, data: typeof THREE | typeof TWO) => {
    assert.equal(result.outcome, 'applied');
    assert.deepEqual(await live(), data);
    await clean();
  };

  it('throws away a staging never marked ready: the old data, and no scratch database left', async () => {
    const result = await restart('two.zip', async () => rmSync(stagingPaths(dir).ready));
    assert.equal(result.outcome, 'discarded');
    assert.deepEqual(await live(), THREE);
    await clean();
  });

  it('swaps in a staging marked ready that a crash stopped before the swap', async () => {
    const result = await restart('two.zip', async (m) => {
      // What the swap does first: connections refused (PostgreSQL) or the old database made (MariaDB).
      if (TEST_ENGINE === 'postgres')
        await pgAdmin(`ALTER DATABASE "${server().database}" WITH ALLOW_CONNECTIONS false`);
      else await mysqlAdmin(`CREATE DATABASE \`${m.old}\``);
    });
    await applied(result, TWO);
  });

  it('finishes a swap that committed before the crash (views and files still to follow)', async () => {
    const result = await restart('three.zip', swap);
    await applied(result, THREE);
  });

  it('finishes the views and files when the crash came half-way through them', async () => {
    const result = await restart('two.zip', async (m) => {
      await swap(m);
      // MariaDB: the views are made after the tables move (PostgreSQL's moved with the database).
      if (TEST_ENGINE === 'mysql') await mysqlAdmin(`DROP VIEW \`${server().database}\`.\`titles\``);
      const p = stagingPaths(dir);
      mkdirSync(p.old, { recursive: true });
      renameSync(join(dir, 'storage'), join(p.old, 'storage'));
    });
    await applied(result, TWO);
  });

  it('drops the old data left over when the crash came after the swap was whole', async () => {
    const result = await restart('three.zip', async (m) => {
      await swap(m);
      if (TEST_ENGINE === 'mysql') await finishMariadbViews(server());
      const p = stagingPaths(dir);
      moveStorageIn(p, dir);
      renameSync(p.ready, p.cleanup);
    });
    // Applied (the other nodes are told again, harmlessly), and nothing left behind.
    await applied(result, THREE);
  });

  it('leaves the old data in use when the swap itself fails', async () => {
    const result = await restart('two.zip', async (m) => {
      // The name the live database (or its tables) would move to is taken: the swap fails as a whole.
      if (TEST_ENGINE === 'postgres') await pgAdmin(`CREATE DATABASE "${m.old}"`);
      else {
        await mysqlAdmin(`CREATE DATABASE \`${m.old}\``);
        await mysqlAdmin(`CREATE TABLE \`${m.old}\`.\`notes\` (id INT)`);
      }
      after(() =>
        TEST_ENGINE === 'postgres'
          ? pgAdmin(`DROP DATABASE IF EXISTS "${m.old}"`)
          : mysqlAdmin(`DROP DATABASE IF EXISTS \`${m.old}\``),
      );
    });
    assert.equal(result.outcome, 'failed');
    assert.deepEqual(await live(), THREE);
    assert.equal(existsSync(join(dir, '.restore')), false);
  });
});
