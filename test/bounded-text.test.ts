import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// On MySQL/MariaDB the text columns whose values are bounded (dates, single selects, text with a small
// `max`) are VARCHAR(255), so that an index covers them whole (src/schema/column-types.ts). Whatever the
// storage, a field must read, filter and sort the same on every engine, and keep its values when it
// changes between bounded and not.

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies, read field by field.
type Json = any;

const LONG_OPTION = 'o'.repeat(200);

describe('fields stored as bounded text', () => {
  let s: TestServer;
  let sql: mysql.Connection | undefined;
  const call = (method: string, path: string, body?: unknown) =>
    s.request(method, path, { token: s.adminToken, ...(body === undefined ? {} : { body }) });
  /** MySQL only: each column's type, and whether the index covers each of its columns whole. */
  async function storage(table: string) {
    if (!sql) return undefined;
    const [cols] = (await sql.query(
      'SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ?',
      [table],
    )) as unknown as [Array<{ c: string; t: string }>];
    const [keys] = (await sql.query(
      'SELECT index_name AS i, column_name AS c, sub_part AS p FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ?',
      [table],
    )) as unknown as [Array<{ i: string; c: string; p: number | null }>];
    return {
      types: Object.fromEntries(cols.map((r) => [r.c, r.t.toLowerCase()])),
      prefixes: Object.fromEntries(keys.filter((k) => k.i === 'idx_ev').map((k) => [k.c, k.p])),
    };
  }

  before(async () => {
    s = await startServer();
    if (TEST_ENGINE === 'mysql') sql = await mysql.createConnection({ uri: s.app.config.databaseUrl });
    const made = await call('POST', '/api/collections', {
      name: 'ev',
      type: 'base',
      fields: [
        { name: 'status', type: 'select', values: ['open', 'done', LONG_OPTION], maxSelect: 1 },
        { name: 'title', type: 'text', max: 100 },
        { name: 'body', type: 'text' },
        { name: 'when', type: 'date' },
        { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
      ],
      indexes: ['CREATE INDEX idx_ev ON ev (status, `when`)'],
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const rows = [
      ['open', 'b', '2024-01-03 00:00:00.000Z'],
      ['done', 'a', '2024-01-01 00:00:00.000Z'],
      ['open', 'c', '2024-01-02 00:00:00.000Z'],
      [LONG_OPTION, 'é', '2024-01-04 00:00:00.000Z'],
      ['open', '', ''],
    ];
    for (const [status, title, when] of rows) {
      const r = await call('POST', '/api/collections/ev/records', { status, title, when, body: `${title}!` });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    }
  });
  after(async () => {
    await sql?.end();
    await s?.close();
  });

  const list = async (query: string) => {
    const r = await call('GET', `/api/collections/ev/records?perPage=50&${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { items: Json[]; totalItems: number };
  };

  it('stores dates, single selects and short text as VARCHAR on MySQL, indexed whole', async () => {
    const st = await storage('ev');
    if (!st) return;
    assert.deepEqual(
      [st.types.status, st.types.title, st.types.when, st.types.created, st.types.body],
      ['varchar', 'varchar', 'varchar', 'varchar', 'longtext'],
    );
    assert.deepEqual(st.prefixes, { status: null, when: null });
    const [plan] = (await sql!.query(
      "EXPLAIN SELECT id FROM ev WHERE status = 'open' ORDER BY `when` DESC LIMIT 20",
    )) as unknown as [Array<{ key: string; Extra: string | null }>];
    assert.equal(plan[0]?.key, 'idx_ev');
    assert.doesNotMatch(String(plan[0]?.Extra), /filesort/);
  });

  it('reads, filters and sorts bounded fields as before', async () => {
    const open = await list(`filter=${encodeURIComponent("status='open'")}&sort=-when`);
    assert.deepEqual(
      open.items.map((r) => r.title),
      ['b', 'c', ''],
    );
    assert.equal(open.totalItems, 3);
    const long = await list(`filter=${encodeURIComponent(`status='${LONG_OPTION}'`)}`);
    assert.deepEqual(
      long.items.map((r) => [r.status, r.title, r.when]),
      [[LONG_OPTION, 'é', '2024-01-04 00:00:00.000Z']],
    );
    const range = await list(
      `filter=${encodeURIComponent("when >= '2024-01-02' && when < '2024-01-04'")}&sort=title`,
    );
    assert.deepEqual(
      range.items.map((r) => r.title),
      ['b', 'c'],
    );
    const byTitle = await list('sort=-title');
    assert.deepEqual(
      byTitle.items.map((r) => r.title),
      ['é', 'c', 'b', 'a', ''],
    );
    const empty = await list(`filter=${encodeURIComponent("when = ''")}`);
    assert.deepEqual(
      empty.items.map((r) => r.title),
      [''],
    );
  });

  it('refuses a value past the bound with a 400 field error', async () => {
    const r = await call('POST', '/api/collections/ev/records', { title: 'x'.repeat(101) });
    assert.equal(r.status, 400);
    assert.equal(r.body.data.title.code, 'validation_max_text_constraint');
    const bad = await call('POST', '/api/collections/ev/records', { status: 'x'.repeat(300) });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.data.status.code, 'validation_invalid_value');
  });

  it('answers a 400 on the field when a hook sets a value past the bound after the checks (MySQL)', async () => {
    const hook = s.app.records.hooks.create.bind(async (event, next) => {
      if (event.collection.name === 'ev') event.record.title = 'h'.repeat(300);
      return next();
    });
    try {
      const r = await call('POST', '/api/collections/ev/records', { title: 'fine' });
      if (TEST_ENGINE === 'mysql') {
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.data.title.code, 'validation_max_text_constraint');
      } else {
        // Elsewhere text is stored whatever its length, as before.
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal((await call('DELETE', `/api/collections/ev/records/${r.body.id}`)).status, 204);
      }
    } finally {
      s.app.records.hooks.create.unbind(hook);
    }
  });

  it('keeps the values when a field stops being bounded, and again when it becomes bounded', async () => {
    const def = (await call('GET', '/api/collections/ev')).body;
    const withMax = (max: number) => ({
      fields: def.fields.map((f: Json) => (f.name === 'title' ? { ...f, max } : f)),
    });
    const before = (await list('sort=when')).items.map((r) => r.title);
    const loose = await call('PATCH', '/api/collections/ev', withMax(1000));
    assert.equal(loose.status, 200, JSON.stringify(loose.body));
    assert.equal((await storage('ev'))?.types.title ?? 'longtext', 'longtext');
    const long = await call('POST', '/api/collections/ev/records', { title: 't'.repeat(300) });
    assert.equal(long.status, 200);
    // 300 characters no longer fit: MySQL refuses to bound the column; the others keep PocketBase's rule
    // (a lower `max` applies to later writes only).
    const refused = await call('PATCH', '/api/collections/ev', withMax(100));
    if (TEST_ENGINE === 'mysql') {
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.data.fields.code, 'validation_values_too_long');
      assert.equal((await storage('ev'))?.types.title, 'longtext');
      assert.equal((await call('PATCH', '/api/collections/ev', withMax(1000))).status, 200);
    } else assert.equal(refused.status, 200);
    assert.equal((await call('DELETE', `/api/collections/ev/records/${long.body.id}`)).status, 204);
    const tight = await call('PATCH', '/api/collections/ev', withMax(100));
    assert.equal(tight.status, 200, JSON.stringify(tight.body));
    assert.equal((await storage('ev'))?.types.title ?? 'varchar', 'varchar');
    assert.deepEqual(
      (await list('sort=when')).items.map((r) => r.title),
      before,
    );
  });

  it('refuses with a 400 a bound that a value written after its check no longer fits (MySQL)', {
    skip:
      TEST_ENGINE !== 'mysql' &&
      'only MySQL bounds the column; elsewhere a lower max applies to later writes',
  }, async () => {
    const def = (await call('GET', '/api/collections/ev')).body;
    const target = (await list('sort=when')).items[0]!;
    // A trigger writes the long value between the check of the stored values and the ALTER: the same
    // statement that stores the new definition fires it, as a concurrent write could land there.
    await sql!.query(
      `CREATE TRIGGER plinth_race AFTER UPDATE ON _collections FOR EACH ROW UPDATE ev SET body = REPEAT('b', 300) WHERE id = ?`,
      [target.id],
    );
    try {
      const bounded = await call('PATCH', '/api/collections/ev', {
        fields: def.fields.map((f: Json) => (f.name === 'body' ? { ...f, max: 100 } : f)),
      });
      assert.equal(bounded.status, 400, JSON.stringify(bounded.body));
      assert.equal(bounded.body.data.fields.code, 'validation_values_too_long');
    } finally {
      await sql!.query('DROP TRIGGER plinth_race');
    }
    assert.equal((await storage('ev'))?.types.body, 'longtext');
    const after = (await call('GET', '/api/collections/ev')).body;
    assert.equal(after.fields.find((f: Json) => f.name === 'body').max, 0);
    const row = await call('GET', `/api/collections/ev/records/${target.id}`);
    assert.equal(row.body.body, 'b'.repeat(300));
    const back = await call('PATCH', `/api/collections/ev/records/${target.id}`, { body: target.body });
    assert.equal(back.status, 200, JSON.stringify(back.body));
  });

  it('converts a bounded single select to a list and back', async () => {
    const def = (await call('GET', '/api/collections/ev')).body;
    const withMaxSelect = (maxSelect: number) => ({
      fields: def.fields.map((f: Json) => (f.name === 'status' ? { ...f, maxSelect } : f)),
    });
    const multi = await call('PATCH', '/api/collections/ev', withMaxSelect(2));
    assert.equal(multi.status, 200, JSON.stringify(multi.body));
    assert.equal((await storage('ev'))?.types.status ?? 'longtext', 'longtext');
    const lists = (await list('sort=when')).items.map((r) => r.status);
    assert.deepEqual(lists, [['open'], ['done'], ['open'], ['open'], [LONG_OPTION]]);
    const single = await call('PATCH', '/api/collections/ev', withMaxSelect(1));
    assert.equal(single.status, 200, JSON.stringify(single.body));
    const st = await storage('ev');
    if (st) {
      assert.equal(st.types.status, 'varchar');
      assert.deepEqual(st.prefixes, { status: null, when: null });
    }
    const open = await list(`filter=${encodeURIComponent("status='open'")}&sort=-when`);
    assert.deepEqual(
      open.items.map((r) => r.title),
      ['b', 'c', ''],
    );
  });
});
