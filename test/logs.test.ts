import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signedInUser, startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// Stored request logs and PocketBase's `/api/logs` routes (apis/logs.go): superusers only, a page filtered
// and sorted in the query language over id, created, level, message and data.*, one entry, hourly stats.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

describe(`request logs on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let userToken = '';
  const logs = (query = '', token = srv.adminToken) => srv.request('GET', `/api/logs${query}`, { token });
  const settings = (logsSettings: object) =>
    srv.request('PATCH', '/api/settings', { token: srv.adminToken, body: { logs: logsSettings } });
  const filter = (text: string) => `?filter=${encodeURIComponent(text)}&perPage=200`;

  before(async () => {
    srv = await startServer();
    await srv.admin.collections.create({
      name: 'notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'title', type: 'text' }],
    });
    userToken = await signedInUser(srv, 'logs-user@example.com');
  });
  after(() => srv?.close());

  it('is for superusers only: 401 for guests, 403 for users, on every route', async () => {
    for (const path of ['', '/stats', '/abc']) {
      assert.equal((await srv.request('GET', `/api/logs${path}`)).status, 401, path);
      assert.equal((await logs(path, userToken)).status, 403, path);
    }
  });

  it("stores each request with PocketBase's fields, errors as errors, and serves it back", async () => {
    await srv.request('GET', '/api/collections/notes/records?perPage=5', {
      token: userToken,
      headers: { 'user-agent': 'logs-test', referer: 'https://app.example/x' },
    });
    await srv.request('GET', '/api/collections/notes/records/missing00000001');
    await srv.app.logs.flush();

    const ok = await logs(filter('data.url = "/api/collections/notes/records?perPage=5"'));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(Object.keys(ok.body).sort(), ['items', 'page', 'perPage', 'totalItems', 'totalPages']);
    assert.equal(ok.body.totalItems, 1);
    const entry = ok.body.items[0];
    assert.deepEqual(Object.keys(entry).sort(), ['created', 'data', 'id', 'level', 'message']);
    assert.match(entry.id, /^[a-z0-9]{15}$/);
    assert.equal(entry.level, 0);
    assert.equal(entry.message, 'GET /api/collections/notes/records?perPage=5');
    assert.match(entry.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    const d = entry.data;
    assert.equal(d.type, 'request');
    assert.equal(d.method, 'GET');
    assert.equal(d.status, 200);
    assert.equal(d.auth, 'users');
    assert.equal(d.userAgent, 'logs-test');
    assert.equal(d.referer, 'https://app.example/x');
    assert.equal(d.userIP, '127.0.0.1');
    assert.ok(typeof d.execTime === 'number' && d.execTime >= 0);
    assert.equal(d.authId, undefined, 'logAuthId is off by default');

    const missing = await logs(filter('data.status = 404 && message ~ "missing00000001"'));
    assert.equal(missing.body.totalItems, 1);
    const error = missing.body.items[0];
    assert.equal(error.level, 8);
    assert.equal(error.data.auth, '');
    assert.equal(error.data.error, "The requested resource wasn't found.");
    assert.deepEqual(error.data.details, {});

    const one = await logs(`/${error.id}`);
    assert.equal(one.status, 200);
    assert.deepEqual(one.body, error);
    assert.equal((await logs('/nosuchlog000001')).status, 404);
  });

  it("does not log the logs' own successful reads, and keeps file tokens out", async () => {
    await logs();
    await srv.request('GET', '/api/files/notes/nope00000000001/a.png?thumb=100x100&token=secret.token.value');
    await srv.app.logs.flush();
    // (Refused reads are logged, as errors.)
    assert.equal((await logs(filter('data.url ~ "/api/logs" && data.status = 200'))).body.totalItems, 0);
    const file = await logs(filter('data.url ~ "/api/files/notes"'));
    assert.equal(file.body.totalItems, 1);
    assert.equal(
      file.body.items[0].data.url,
      '/api/files/notes/nope00000000001/a.png?thumb=100x100&token=***',
    );
    assert.ok(!JSON.stringify(file.body).includes('secret.token.value'));
  });

  it('does not log CORS preflights (PocketBase answers them before its request logger)', async () => {
    const res = await srv.request('OPTIONS', '/api/collections/notes/records?cors=preflight', {
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'PATCH' },
    });
    assert.equal(res.status, 204);
    await srv.request('GET', '/api/collections/notes/records?cors=after');
    await srv.app.logs.flush();
    assert.equal((await logs(filter('data.url ~ "cors=after"'))).body.totalItems, 1);
    assert.equal((await logs(filter('data.url ~ "cors=preflight"'))).body.totalItems, 0);
  });

  it('filters, sorts and pages in the query language, newest first by default', async () => {
    for (let i = 0; i < 4; i++) await srv.request('GET', `/api/collections/notes/records?page=${i + 1}`);
    await srv.app.logs.flush();
    const mine = 'data.url ~ "/api/collections/notes/records?page="';
    const all = await logs(filter(mine));
    assert.equal(all.body.totalItems, 4);
    assert.deepEqual(
      all.body.items.map((e: Json) => e.data.url.slice(-1)),
      ['4', '3', '2', '1'],
    );
    // Ids are made in order, so they sort as the entries were written.
    const ids = all.body.items.map((e: Json) => e.id);
    assert.deepEqual(ids, [...ids].sort().reverse());
    const rowid = await logs(`${filter(mine)}&sort=-@rowid`);
    assert.deepEqual(
      rowid.body.items.map((e: Json) => e.data.url.slice(-1)),
      ['4', '3', '2', '1'],
    );
    const asc = await logs(`${filter(mine)}&sort=created`);
    assert.equal(asc.body.items[0].data.url.slice(-1), '1');
    const page = await logs(`?filter=${encodeURIComponent(mine)}&perPage=3&page=2`);
    assert.equal(page.body.items.length, 1);
    assert.equal(page.body.totalPages, 2);
    const skip = await logs(`${filter(mine)}&skipTotal=1`);
    assert.equal(skip.body.totalItems, -1);
    // A full last page, and pages past it, still count every match (no row of theirs carries the total).
    const paged = (n: number) => logs(`?filter=${encodeURIComponent(mine)}&perPage=2&page=${n}`);
    for (const [n, length] of [
      [2, 2],
      [3, 0],
      [50, 0],
    ] as const) {
      const res = await paged(n);
      assert.deepEqual(
        [res.body.items.length, res.body.totalItems, res.body.totalPages],
        [length, 4, 2],
        `page ${n}`,
      );
    }
    // Server engines keep the logs in the main database: the page and its total are one statement.
    if (srv.app.db.countsInPage) {
      const sent: string[] = [];
      const db = srv.app.db;
      const original = db.query;
      const query = db.query.bind(db);
      db.query = (text, params, options) => {
        sent.push(text);
        return query(text, params, options);
      };
      try {
        assert.equal((await paged(1)).body.totalItems, 4);
      } finally {
        db.query = original;
      }
      assert.equal(sent.length, 1, sent.join('\n'));
      assert.match(sent[0] ?? '', /COUNT\(\*\)[\s\S]*LIMIT/);
    }
    const errorsOnly = await logs(filter('level >= 8 && data.status >= 400'));
    assert.ok(errorsOnly.body.items.every((e: Json) => e.data.status >= 400));
  });

  it('answers hostile queries with a 400, never a 500', async () => {
    for (const query of [
      '?filter=(',
      `?filter=${encodeURIComponent('nosuchfield = 1')}`,
      `?filter=${encodeURIComponent('@request.auth.id = ""')}`,
      `?filter=${encodeURIComponent('@collection.users.id != ""')}`,
      `?filter=${encodeURIComponent('a\u0000')}`,
      '?sort=nosuchfield',
      '?sort=data.status,,,,-;drop',
      '?page=abc',
      `?filter=${encodeURIComponent('x'.repeat(5000))}`,
    ]) {
      const res = await logs(query);
      assert.equal(res.status, 400, `${query.slice(0, 60)} → ${JSON.stringify(res.body)}`);
    }
    const huge = await logs('?perPage=100000');
    assert.equal(huge.status, 200);
    assert.equal(huge.body.perPage, 1000);
    assert.equal((await logs(`/stats?filter=${encodeURIComponent('nosuchfield = 1')}`)).status, 400);
    // Each refusal is logged, the one with U+0000 in it too (PostgreSQL stores no U+0000: it becomes U+FFFD).
    await srv.app.logs.flush();
    const refused = await logs(filter('data.status = 400 && data.url ~ "/api/logs"'));
    assert.equal(refused.body.totalItems, 10);
    assert.ok(refused.body.items.some((e: Json) => e.message.includes('a\ufffd')));
    // The page size is written into the SQL (pageClause): only whole numbers reach it, clamped.
    for (const query of ['?perPage=1.5', '?perPage=1e300', '?perPage=2;DROP', '?page=1e300'])
      assert.equal((await logs(query)).status, 400, query);
    for (const [query, perPage] of [
      ['?perPage=-5', 30],
      ['?perPage=0', 30],
      ['?perPage=7&page=99999999', 7],
    ] as const) {
      const res = await logs(query);
      assert.equal(res.status, 200, query);
      assert.equal(res.body.perPage, perPage, query);
    }
  });

  it('counts entries per hour for the stats, filtered the same way', async () => {
    const res = await logs(`/stats?filter=${encodeURIComponent('data.status = 404')}`);
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(res.body) && res.body.length >= 1);
    for (const item of res.body) {
      assert.deepEqual(Object.keys(item).sort(), ['date', 'total']);
      assert.match(item.date, /^\d{4}-\d\d-\d\d \d\d:00:00\.000Z$/);
    }
    assert.ok(res.body.reduce((n: number, item: Json) => n + item.total, 0) >= 2);
  });

  it('follows the logs settings: logIP, logAuthId, minLevel, and maxDays 0 turns logging off', async () => {
    assert.equal((await settings({ logIP: false, logAuthId: true })).status, 200);
    await srv.request('GET', '/api/collections/notes/records?mark=ids', { token: userToken });
    await settings({ logIP: true, logAuthId: false, minLevel: 8 });
    await srv.request('GET', '/api/collections/notes/records?mark=info-skipped');
    await srv.request('GET', '/api/collections/notes/records/missing?mark=error-kept');
    await settings({ minLevel: 0, maxDays: 0 });
    await srv.request('GET', '/api/collections/notes/records/missing?mark=off');
    await settings({ maxDays: 5 });
    await srv.app.logs.flush();
    const marked = await logs(filter('data.url ~ "mark="'));
    const byMark = Object.fromEntries(
      marked.body.items.map((e: Json) => [e.data.url.split('mark=')[1], e.data]),
    );
    assert.deepEqual(Object.keys(byMark).sort(), ['error-kept', 'ids']);
    assert.equal(byMark.ids.userIP, undefined);
    assert.equal(byMark.ids.remoteIP, undefined);
    assert.match(byMark.ids.authId, /^\w{15}$/);
  });

  it('removes entries older than maxDays when it sweeps', async () => {
    const day = 86_400_000;
    srv.app.logs.add({ time: Date.now() - 3 * day, level: 0, message: 'GET /old', data: { url: '/old' } });
    srv.app.logs.add({
      time: Date.now() - 1 * day,
      level: 0,
      message: 'GET /recent',
      data: { url: '/recent' },
    });
    await srv.app.logs.flush();
    assert.equal((await logs(filter('message ~ "/old" || message ~ "/recent"'))).body.totalItems, 2);
    await settings({ maxDays: 2 });
    await srv.app.logs.sweep();
    const left = await logs(filter('message ~ "/old" || message ~ "/recent"'));
    assert.deepEqual(
      left.body.items.map((e: Json) => e.message),
      ['GET /recent'],
    );
    await settings({ maxDays: 5 });
  });
});
