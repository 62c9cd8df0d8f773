import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { insertParam, readParam, writeParam } from '../src/schema/index.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// `_params` holds one JSON value per id (settings, signing keys). Two nodes starting on a new database
// write the same ids at once; each write must end with one row, whichever commits last.

/** Another node's transaction: runs `statements`, and commits only when told. */
async function openTransaction(url: string, statements: [string, unknown[]][]) {
  if (TEST_ENGINE === 'postgres') {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('BEGIN');
    for (const [text, values] of statements) {
      let n = 0;
      await client.query(
        text.replace(/\?/g, () => `$${++n}`),
        values,
      );
    }
    return { commit: () => client.query('COMMIT').then(() => client.end()) };
  }
  const conn = await mysql.createConnection({ uri: url });
  await conn.beginTransaction();
  for (const [text, values] of statements) await conn.query(text.replaceAll('"', '`'), values);
  return { commit: () => conn.commit().then(() => conn.end()) };
}

describe('_params values written by two nodes at once', {
  skip: TEST_ENGINE === 'sqlite' && 'SQLite runs one write at a time',
}, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s?.close());

  it('writeParam ends with its own value when another node inserted the row meanwhile', async () => {
    // The other node has deleted and inserted, not committed: this node's DELETE cannot see that row, and
    // its INSERT waits for it (a unique violation once it commits, on PostgreSQL).
    const now = '2026-01-01 00:00:00.000Z';
    const other = await openTransaction(s.app.config.databaseUrl!, [
      ['DELETE FROM "_params" WHERE "id" = ?', ['raceParam']],
      [
        'INSERT INTO "_params" ("id", "value", "created", "updated") VALUES (?, ?, ?, ?)',
        ['raceParam', '"theirs"', now, now],
      ],
    ]);
    const mine = writeParam(s.app.db, 'raceParam', 'mine');
    await sleep(300);
    await other.commit();
    await mine;
    assert.equal(await readParam(s.app.db, 'raceParam'), 'mine');
  });

  it('insertParam keeps the value stored first and says it did not store its own', async () => {
    assert.equal(await insertParam(s.app.db, 'onceParam', 'first'), true);
    assert.equal(await insertParam(s.app.db, 'onceParam', 'second'), false);
    assert.equal(await readParam(s.app.db, 'onceParam'), 'first');
  });
});
