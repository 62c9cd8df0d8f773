import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createDatabase, runMigrations } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import { createLogReader } from './reader.ts';
import { workerSink } from './sinks.ts';
import { LOGS_MIGRATIONS } from './table.ts';
import { createLogWriter } from './writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-logs-table-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// The SQLite log file: `msg` is stored only when the message is more than the data's method and URL.
describe('the SQLite request log table', () => {
  const file = join(dir, 'auxiliary.db');
  const db = createDatabase({
    url: `sqlite:${file}`,
    dataDir: dir,
    sqliteSynchronous: 'NORMAL',
    log: createLogger('silent'),
  });
  after(() => db.close());

  it('keeps the messages of rows written before logs_0003, and makes the others from their data', async () => {
    await runMigrations(db, LOGS_MIGRATIONS.slice(0, 2));
    await db.run(
      db.kysely,
      `INSERT INTO "_logs" ("id", "created", "level", "message", "data") VALUES (?, ?, ?, ?, ?)`,
      [
        'old000000000001',
        '2026-01-01 00:00:00.000Z',
        0,
        'GET /old?q="a"',
        '{"method":"GET","url":"/old?q=%22a%22"}',
      ],
    );
    await runMigrations(db, LOGS_MIGRATIONS);

    const writer = createLogWriter({
      db,
      sink: workerSink(file),
      log: createLogger('silent'),
      maxDays: () => 5,
    });
    const request = (url: string) =>
      writer.addRequest(
        Date.now(),
        200,
        1,
        'GET',
        url,
        undefined,
        'ua',
        '',
        '',
        '127.0.0.1',
        '127.0.0.1',
        undefined,
      );
    request('/api/plain?x=1');
    request('/api/odd?q=%22b%22');
    writer.add({ time: Date.now(), level: 4, message: 'a warning', data: { a: 1 } });
    writer.add({ time: Date.now(), level: 4, message: '', data: {} });
    await writer.close();

    const stored = await db.run<{ msg: string; message: string }>(
      db.kysely,
      `SELECT "msg", "message" FROM "_logs" ORDER BY "id"`,
      [],
    );
    const byMessage = new Map(stored.map((r) => [r.message, r.msg]));
    assert.deepEqual([...byMessage.keys()].sort(), [
      '',
      'GET /api/odd?q="b"',
      'GET /api/plain?x=1',
      'GET /old?q="a"',
      'a warning',
    ]);
    assert.equal(byMessage.get('GET /api/plain?x=1'), '', 'a plain request entry stores no message');
    assert.equal(byMessage.get('GET /api/odd?q="b"'), 'GET /api/odd?q="b"', 'a decoded URL is stored');
    assert.equal(byMessage.get('GET /old?q="a"'), 'GET /old?q="a"');
    assert.equal(byMessage.get('a warning'), 'a warning');

    // The API reads, filters and sorts the made messages as stored ones.
    const reader = createLogReader(db);
    const page = await reader.list({ filter: 'message ~ "/api/plain"', sort: '-message' });
    assert.deepEqual(
      page.items.map((e) => e.message),
      ['GET /api/plain?x=1'],
    );
    assert.deepEqual(Object.keys(page.items[0] ?? {}).sort(), ['created', 'data', 'id', 'level', 'message']);
    const sorted = await reader.list({ filter: 'message != ""', sort: 'message' });
    assert.deepEqual(
      sorted.items.map((e) => e.message),
      ['GET /api/odd?q="b"', 'GET /api/plain?x=1', 'GET /old?q="a"', 'a warning'],
    );
    const one = await reader.view(page.items[0]?.id ?? '');
    assert.equal(one.message, 'GET /api/plain?x=1');
  });
});
