import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Statement } from '../src/db/index.ts';
import { signedInUser, startServer, type TestServer } from './helpers/server.ts';

// The list's total and its compiled SQL: the count runs only when asked for and counts what the page
// lists (rule and filter alike), and SQL compiled once for a filter and sort is never used for a caller
// or a schema it was not compiled for.

let srv: TestServer;
/** Every statement the list path sent to the database, while `recording` is on. */
let sent: string[] = [];

before(async () => {
  srv = await startServer();
  // A spy on the real database object the records service holds (not a mock: every call goes through).
  const db = srv.app.db;
  const query = db.query.bind(db);
  const queryBatch = db.queryBatch.bind(db);
  db.query = (sql, params, options) => {
    sent.push(sql);
    return query(sql, params, options);
  };
  db.queryBatch = (statements: readonly Statement[], options) => {
    sent.push(...statements.map((s) => s.sql));
    return queryBatch(statements, options);
  };
});

after(async () => {
  await srv?.close();
});

const list = async (name: string, query: string, token = srv.adminToken) => {
  const res = await srv.request('GET', `/api/collections/${name}/records?${query}`, { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as { items: { id: string; n: number }[]; totalItems: number; totalPages: number };
};

async function makeCollection(body: Record<string, unknown>): Promise<void> {
  const res = await srv.request('POST', '/api/collections', { token: srv.adminToken, body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

describe('the total of a list', () => {
  before(async () => {
    await makeCollection({
      name: 'counted',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
      indexes: ['CREATE INDEX idx_counted_n ON counted (n)'],
    });
    for (let n = 0; n < 25; n++) {
      const res = await srv.request('POST', '/api/collections/counted/records', {
        token: srv.adminToken,
        body: { n },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  test('is counted for a full page, and not at all with skipTotal', async () => {
    sent = [];
    const counted = await list('counted', 'perPage=5&sort=-n&filter=n>=3');
    assert.equal(counted.totalItems, 22);
    assert.equal(counted.totalPages, 5);
    assert.equal(sent.filter((s) => /COUNT\(\*\)/i.test(s)).length, 1, sent.join('\n'));

    sent = [];
    const skipped = await list('counted', 'perPage=5&sort=-n&filter=n>=3&skipTotal=1');
    assert.deepEqual(
      skipped.items.map((r) => r.n),
      counted.items.map((r) => r.n),
    );
    assert.equal(skipped.totalItems, -1);
    assert.equal(skipped.totalPages, -1);
    assert.equal(sent.length, 1, sent.join('\n'));
    assert.doesNotMatch(sent[0] ?? '', /COUNT\(\*\)/i);
  });

  test('comes with the page in one statement on server engines, and is right on the last page and past it', async () => {
    sent = [];
    const first = await list('counted', 'perPage=5&sort=-n');
    assert.equal(first.totalItems, 25);
    // Server engines: the total is a column of the page's statement; SQLite: a batch of two.
    assert.equal(sent.length, srv.app.db.countsInPage ? 1 : 2, sent.join('\n'));
    assert.match(sent.join('\n'), /COUNT\(\*\)/i);
    assert.deepEqual(
      first.items.map((r) => r.n),
      [24, 23, 22, 21, 20],
    );
    // The last page is full: its total comes from the count, not from its length.
    const last = await list('counted', 'page=5&perPage=5&sort=-n');
    assert.deepEqual(
      [last.totalItems, last.totalPages, last.items.map((r) => r.n)],
      [25, 5, [4, 3, 2, 1, 0]],
    );
    // Past the last page no row carries the total: it is counted on its own.
    for (const page of [6, 1000]) {
      const past = await list('counted', `page=${page}&perPage=5&sort=-n&filter=n>=3`);
      assert.deepEqual([past.totalItems, past.totalPages, past.items], [22, 5, []]);
    }
  });

  test('is not needed to page with a cursor past the last item (docs/query-language.md)', async () => {
    type Item = { id: string; created: string };
    const all = (await list('counted', 'perPage=100&sort=-created,-id')) as unknown as { items: Item[] };
    const seen: string[] = [];
    let last: Item | undefined;
    for (let i = 0; i < 20; i++) {
      const cursor = last
        ? `&filter=${encodeURIComponent(`created <= '${last.created}' && (created < '${last.created}' || id < '${last.id}')`)}`
        : '';
      const page = (await list('counted', `perPage=4&sort=-created,-id&skipTotal=1${cursor}`)) as unknown as {
        items: Item[];
      };
      seen.push(...page.items.map((r) => r.id));
      if (page.items.length < 4) break;
      last = page.items.at(-1);
    }
    assert.equal(all.items.length, 25);
    assert.deepEqual(
      seen,
      all.items.map((r) => r.id),
    );
  });

  test('agrees with the pages under a list rule', async () => {
    const token = await signedInUser(srv, 'counter@example.com');
    const me = await srv.request('POST', '/api/collections/users/auth-refresh', { token });
    const myId = me.body.record.id as string;
    await makeCollection({
      name: 'owned',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
    });
    for (let n = 0; n < 30; n++) {
      const res = await srv.request('POST', '/api/collections/owned/records', {
        token: srv.adminToken,
        body: { n, owner: n % 3 === 0 ? myId : '' },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const seen: number[] = [];
    let page = 1;
    let first: { totalItems: number; totalPages: number } | undefined;
    for (;;) {
      const body = await list('owned', `page=${page}&perPage=3&sort=n&filter=n>=6`, token);
      first ??= body;
      seen.push(...body.items.map((r) => r.n));
      if (body.items.length < 3) break;
      page++;
    }
    assert.deepEqual(seen, [6, 9, 12, 15, 18, 21, 24, 27]);
    assert.equal(first?.totalItems, seen.length);
    assert.equal(first?.totalPages, Math.ceil(seen.length / 3));
    // A guest's `@request.auth.id` is "": the rule lets through the records without an owner, and so does the count.
    const guest = await list('owned', 'perPage=3&sort=n&filter=n>=6', '');
    assert.equal(guest.totalItems, 16);
    assert.deepEqual(
      guest.items.map((r) => r.n),
      [7, 8, 10],
    );
  });
});

describe('SQL compiled once for a filter and sort', () => {
  before(async () => {
    await makeCollection({
      name: 'cached',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'n', type: 'number' },
        { name: 'secret', type: 'number', hidden: true },
      ],
    });
    for (let n = 0; n < 4; n++) {
      const res = await srv.request('POST', '/api/collections/cached/records', {
        token: srv.adminToken,
        body: { n, secret: n * 10 },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  test('is not reused for a caller who may not use its fields', async () => {
    const query = 'filter=secret>=10&sort=-secret';
    for (let i = 0; i < 2; i++) {
      const su = await list('cached', query);
      assert.deepEqual(
        su.items.map((r) => r.n),
        [3, 2, 1],
      );
      const guest = await srv.request('GET', `/api/collections/cached/records?${query}`);
      assert.equal(guest.status, 400, JSON.stringify(guest.body));
    }
  });

  test('is not reused once the schema changed', async () => {
    const query = 'filter=n>=2&sort=n';
    assert.equal((await list('cached', query, '')).totalItems, 2);
    const got = await srv.request('GET', '/api/collections/cached', { token: srv.adminToken });
    const fields = (got.body.fields as { name: string }[]).filter((f) => f.name !== 'n');
    const res = await srv.request('PATCH', '/api/collections/cached', {
      token: srv.adminToken,
      body: { fields },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const after = await srv.request('GET', `/api/collections/cached/records?${query}`);
    assert.equal(after.status, 400, JSON.stringify(after.body));
  });
});
