import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createDatabase, runMigrations } from '../db/index.ts';
import { createLogger } from '../log/index.ts';
import { createLogReader } from './reader.ts';
import { workerSink } from './sinks.ts';
import { LOGS_MIGRATIONS, SEQ_PER_MS, seqOfId } from './table.ts';
import { createLogWriter } from './writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'plinth-logs-table-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// SQLite's log table (logs_0003): keyed by an integer made from the time, a message stored only when the
// data's method and URL do not make it, and a view that makes the API's id and message.
describe('the SQLite request log table', () => {
  const file = join(dir, 'auxiliary.db');
  const db = createDatabase({
    url: `sqlite:${file}`,
    dataDir: dir,
    sqliteSynchronous: 'NORMAL',
    log: createLogger('silent'),
  });
  after(() => db.close());
  const reader = createLogReader(db);
  const DAY = 86_400_000;

  it('keeps the rows written before, and writes, reads, sorts and sweeps by the integer key', async () => {
    await runMigrations(db, LOGS_MIGRATIONS.slice(0, 2));
    const old = Date.now() - 2 * DAY;
    for (const [id, message] of [
      ['0a0000000000002', 'GET /old/2'],
      ['0a0000000000001', 'GET /old/1?q="a"'],
    ])
      await db.run(
        db.kysely,
        `INSERT INTO "_logs" ("id", "created", "level", "message", "data") VALUES (?, ?, 0, ?, ?)`,
        [id, new Date(old).toISOString().replace('T', ' '), message, '{"method":"GET","url":"/old"}'],
      );
    await runMigrations(db, LOGS_MIGRATIONS);
    let maxDays = 5;

    const writer = createLogWriter({
      db,
      sink: workerSink(file),
      log: createLogger('silent'),
      maxDays: () => maxDays,
    });
    after(() => writer.close());
    const request = (url: string, time = Date.now()) =>
      writer.addRequest(
        time,
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
    request('/api/same-ms/1', 1_900_000_000_000);
    request('/api/same-ms/2', 1_900_000_000_000);
    writer.add({ time: Date.now(), level: 4, message: 'a warning', data: { a: 1 } });
    // Logged late: older than what is already written (retention must still find it).
    writer.add({ time: Date.now() - 3 * DAY, level: 0, message: 'GET /late', data: { url: '/late' } });
    await writer.flush();

    const stored = await db.run<{ seq: number; msg: string; created: string }>(
      db.kysely,
      `SELECT "seq", "msg", "created" FROM "_logs" ORDER BY "seq"`,
      [],
    );
    assert.deepEqual(
      stored.map((r) => r.msg),
      ['GET /old/1?q="a"', 'GET /old/2', 'GET /late', '', 'GET /api/odd?q="b"', 'a warning', '', ''],
      'old rows first, in their order; a late entry among its time; a plain message not stored',
    );
    assert.deepEqual(
      stored.slice(-2).map((r) => r.seq),
      [1_900_000_000_000 * SEQ_PER_MS, 1_900_000_000_000 * SEQ_PER_MS + 1],
    );

    // Newest first by key; ids are the keys in hexadecimal, and find their entry.
    const all = await reader.list({ perPage: 100 });
    assert.equal(all.totalItems, 8);
    assert.deepEqual(
      all.items.map((e) => e.message),
      [
        'GET /api/same-ms/2',
        'GET /api/same-ms/1',
        'a warning',
        'GET /api/odd?q="b"',
        'GET /api/plain?x=1',
        'GET /late',
        'GET /old/2',
        'GET /old/1?q="a"',
      ],
    );
    for (const e of all.items) {
      assert.match(e.id, /^[0-9a-f]{15}$/);
      assert.deepEqual(await reader.view(e.id), e);
    }
    const ids = all.items.map((e) => e.id);
    assert.deepEqual(ids, [...ids].sort().reverse());
    await assert.rejects(reader.view('zzzzzzzzzzzzzzz'), { status: 404 });
    await assert.rejects(reader.view('fffffffffffffff'), { status: 404 });

    // Filters and sorts read the made id and message as stored columns.
    const plain = await reader.list({ filter: 'message ~ "/api/plain" && level = 0', sort: '-message' });
    assert.deepEqual(
      plain.items.map((e) => e.message),
      ['GET /api/plain?x=1'],
    );
    assert.deepEqual(Object.keys(plain.items[0] ?? {}).sort(), ['created', 'data', 'id', 'level', 'message']);
    assert.equal((await reader.list({ filter: `id = "${plain.items[0]?.id}"` })).totalItems, 1);
    const sorted = await reader.list({ filter: 'message ~ "/api/"', sort: 'level,-created' });
    assert.deepEqual(
      sorted.items.map((e) => e.message),
      ['GET /api/same-ms/2', 'GET /api/same-ms/1', 'GET /api/odd?q="b"', 'GET /api/plain?x=1'],
    );
    assert.deepEqual(
      (await reader.list({ filter: 'message ~ "/api/"', sort: '@rowid' })).items.map((e) => e.message),
      [...sorted.items.map((e) => e.message)].reverse(),
    );
    assert.ok((await reader.stats('message ~ "/old/"')).every((s) => s.total === 2));

    // Retention (1 day) removes the old rows and the late one, by key range and date.
    maxDays = 1;
    await writer.sweep();
    assert.deepEqual(
      (await reader.list({ sort: 'created' })).items.map((e) => e.message),
      ['GET /api/plain?x=1', 'GET /api/odd?q="b"', 'a warning', 'GET /api/same-ms/1', 'GET /api/same-ms/2'],
    );
  });

  it('reads an id as its key only when it is 15 hexadecimal digits', () => {
    assert.equal(seqOfId('000000000000400'), 1024);
    assert.equal(seqOfId('00000000000040'), undefined);
    assert.equal(seqOfId('00000000000040g'), undefined);
    assert.equal(seqOfId('fffffffffffffff'), undefined, 'past the safe integers');
  });
});
