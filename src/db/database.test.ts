import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createLogger } from '../log/index.ts';
import { createDatabase } from './database.ts';
import { runMigrations } from './migrations.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-db-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const open = (sync: 'FULL' | 'NORMAL', name: string) =>
  createDatabase({
    url: `sqlite:${join(dir, name)}`,
    dataDir: dir,
    sqliteSynchronous: sync,
    log: createLogger('silent'),
  });

describe('the SQLite database', () => {
  it('runs in WAL mode with synchronous=FULL by default and NORMAL when asked', async () => {
    // FULL with group commit (the default): SQLite's COMMIT does not sync (NORMAL), the driver syncs the
    // WAL itself before answering (sqlite-group.ts); without group commit SQLite syncs (FULL).
    for (const [sync, groupCommit, expected] of [
      ['FULL', false, 2],
      ['FULL', true, 1],
      ['NORMAL', true, 1],
    ] as const) {
      const db = createDatabase({
        url: `sqlite:${join(dir, `${sync}-${groupCommit}.db`)}`,
        dataDir: dir,
        sqliteSynchronous: sync,
        sqliteGroupCommit: groupCommit,
        log: createLogger('silent'),
      });
      const [mode] = await db.run<{ journal_mode: string }>(db.kysely, 'PRAGMA journal_mode', []);
      const [s] = await db.run<{ synchronous: number }>(db.kysely, 'PRAGMA synchronous', []);
      assert.equal(mode?.journal_mode, 'wal');
      assert.equal(s?.synchronous, expected);
      await db.close();
    }
  });

  it('rolls a failed transaction back whole, DDL included', async () => {
    const db = open('FULL', 'tx.db');
    await assert.rejects(
      db.transaction(async (trx) => {
        await sql.raw('CREATE TABLE t (a TEXT)').execute(trx);
        await sql.raw("INSERT INTO t VALUES ('x')").execute(trx);
        throw new Error('boom');
      }),
      /boom/,
    );
    const tables = await db.run(db.kysely, db.dialect.listTablesSql(), []);
    assert.equal(tables.length, 0);
    await db.close();
  });

  it('applies each migration once', async () => {
    const db = open('FULL', 'mig.db');
    let runs = 0;
    const m = [{ name: '0001_x', up: async () => void runs++ }];
    assert.deepEqual(await runMigrations(db, m), ['0001_x']);
    assert.deepEqual(await runMigrations(db, m), []);
    assert.equal(runs, 1);
    await db.close();
  });

  it('translates unique and not-null violations with their columns', async () => {
    const db = open('FULL', 'err.db');
    await sql.raw('CREATE TABLE u (a TEXT NOT NULL, b TEXT UNIQUE)').execute(db.kysely);
    await sql.raw("INSERT INTO u VALUES ('1', 'x')").execute(db.kysely);
    const unique = await sql
      .raw("INSERT INTO u VALUES ('2', 'x')")
      .execute(db.kysely)
      .catch((e) => e);
    assert.deepEqual(db.dialect.translateError(unique), { kind: 'unique', columns: ['b'] });
    const notNull = await sql
      .raw("INSERT INTO u VALUES (NULL, 'y')")
      .execute(db.kysely)
      .catch((e) => e);
    assert.deepEqual(db.dialect.translateError(notNull), { kind: 'notNull', columns: ['a'] });
    assert.equal(db.dialect.translateError(new Error('other')), undefined);
    await db.close();
  });

  it('refuses an unknown URL scheme with a clear message', () => {
    assert.throws(
      () =>
        createDatabase({
          url: 'oracle://x',
          dataDir: dir,
          sqliteSynchronous: 'FULL',
          log: createLogger('silent'),
        }),
      /unsupported database URL scheme oracle/,
    );
  });
});
