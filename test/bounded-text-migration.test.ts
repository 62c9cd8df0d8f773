import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { type App, createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';
import { createTestDatabase, TEST_ENGINE } from './helpers/databases.ts';

// A MariaDB database made before bounded text (every text column LONGTEXT, indexes by a 255-character
// prefix) gets its bounded columns as VARCHAR at the next start: migration 0005_bounded_text_columns.

const TYPES =
  'SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?';
const KEYS =
  "SELECT column_name AS c, sub_part AS p FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = 'idx_ev'";

describe('the bounded text migration (MariaDB)', {
  skip: TEST_ENGINE !== 'mysql' ? 'the other engines store text alike' : false,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-bounded-'));
  const apps: App[] = [];
  let drop = async () => {};
  let conn: mysql.Connection | undefined;
  after(async () => {
    for (const app of apps) await app.close().catch(() => {});
    await conn?.end();
    await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns the old LONGTEXT columns into VARCHAR, keeps a column holding a longer value, and the data', async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const config = loadConfig({ dir, db: db.url, http: '127.0.0.1:0', logLevel: 'silent' }, {});
    const start = async () => {
      const app = await createApp(config, createLogger('silent'));
      apps.push(app);
      return app;
    };
    let app = await start();
    await app.collections.create({
      name: 'ev',
      fields: [
        { name: 'status', type: 'select', values: ['open', 'done'], maxSelect: 1 },
        { name: 'when', type: 'date' },
        { name: 'day', type: 'date' },
        { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
      indexes: ['CREATE INDEX idx_ev ON ev (status, `when`)'],
    });
    await app.close();
    conn = await mysql.createConnection({ uri: db.url });
    const q = (text: string, params: unknown[] = []) => conn!.query(text, params);
    // The layout of before: LONGTEXT, the index by prefix; and the migration not yet run.
    await q('DROP INDEX idx_ev ON ev');
    for (const c of ['status', 'when', 'day'])
      await q(`ALTER TABLE ev MODIFY COLUMN \`${c}\` LONGTEXT DEFAULT '' NOT NULL`);
    await q('CREATE INDEX idx_ev ON ev (status(255), `when`(255))');
    await q('ALTER TABLE users MODIFY COLUMN created LONGTEXT DEFAULT "" NOT NULL');
    await q("DELETE FROM _migrations WHERE file = '0005_bounded_text_columns'");
    const rows = [
      ['a1', 'open', '2024-01-02 00:00:00.000Z', 'd'.repeat(300)],
      ['a2', 'done', '2024-01-01 00:00:00.000Z', ''],
      ['a3', 'open', '2024-01-03 00:00:00.000Z', ''],
    ];
    await q('INSERT INTO ev (id, status, `when`, day, created, updated) VALUES ?', [
      rows.map((r) => [...r, '', '']),
    ]);

    app = await start();
    const types = async (table: string) =>
      Object.fromEntries(
        ((await q(TYPES, [table]))[0] as Array<{ c: string; t: string }>).map((r) => [
          r.c,
          r.t.toLowerCase(),
        ]),
      );
    const ev = await types('ev');
    assert.deepEqual([ev.status, ev.when, ev.created, ev.day], ['varchar', 'varchar', 'varchar', 'longtext']);
    assert.equal((await types('users')).created, 'varchar');
    const keys = (await q(KEYS, ['ev']))[0] as Array<{ c: string; p: number | null }>;
    assert.deepEqual(Object.fromEntries(keys.map((k) => [k.c, k.p])), { status: null, when: null });

    const collection = app.collections.list().find((c) => c.name === 'ev')!;
    const listed = await app.records.list(
      collection,
      { filter: "status = 'open'", sort: '-when' },
      { collection: null, record: null, isSuperuser: true },
    );
    assert.deepEqual(
      listed.items.map((r) => [r.id, r.day]),
      [
        ['a3', ''],
        ['a1', 'd'.repeat(300)],
      ],
    );
    // Once done, the migration is not run again.
    const [done] = (await q("SELECT file FROM _migrations WHERE file = '0005_bounded_text_columns'")) as [
      unknown[],
      unknown,
    ];
    assert.equal(done.length, 1);
  });
});
