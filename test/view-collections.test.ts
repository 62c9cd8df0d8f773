import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ClientResponseError } from 'pocketbase';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

// View collections, checked against PocketBase's behaviour (core/view.go, core/collection_validate.go,
// apis/collection.go's dry run, apis/record_crud.go): a read-only collection defined by a SELECT, its fields
// inferred from the columns, read like any collection under its list/view rules, never written.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

describe(`view collections on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  const api = (method: string, path: string, body?: unknown, token = srv.adminToken) =>
    srv.request(method, path, { token, body });
  const createView = (name: string, viewQuery: string, extra: object = {}) =>
    api('POST', '/api/collections', { name, type: 'view', viewQuery, listRule: '', viewRule: '', ...extra });
  const viewQueryError = (res: { status: number; body: Json }) => {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.data.viewQuery?.code, 'validation_invalid_view_query', JSON.stringify(res.body));
    return String(res.body.data.viewQuery.message);
  };
  let authorId = '';

  before(async () => {
    srv = await startServer();
    const posts = await api('POST', '/api/collections', {
      name: 'vc_posts',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'views', type: 'number' },
        { name: 'published', type: 'bool' },
        { name: 'meta', type: 'json' },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
      ],
    });
    assert.equal(posts.status, 200, JSON.stringify(posts.body));
    const user = await srv.admin
      .collection('users')
      .create({ email: 'writer@example.com', password: 'secret-pass-1', passwordConfirm: 'secret-pass-1' });
    authorId = user.id;
    for (const [i, title] of ['alpha', 'beta', 'gamma'].entries())
      await srv.admin.collection('vc_posts').create({
        title,
        views: (i + 1) * 10,
        published: i !== 2,
        meta: { n: i },
        author: i === 0 ? authorId : '',
      });
  });
  after(() => srv?.close());

  it('infers fields from the columns as PocketBase does (id, copied fields, relation from an id, count)', async () => {
    const res = await createView(
      'vc_published',
      'SELECT p.id, p.title, p.views AS hits, p.published, p.meta, p.author, u.id AS writer FROM vc_posts p LEFT JOIN users u ON u.id = p.author WHERE p.published = TRUE',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const fields = Object.fromEntries(res.body.fields.map((f: Json) => [f.name, f]));
    assert.deepEqual(Object.keys(fields), ['id', 'title', 'hits', 'published', 'meta', 'author', 'writer']);
    assert.equal(fields.id.type, 'text');
    assert.equal(fields.id.primaryKey, true);
    assert.equal(fields.title.type, 'text');
    assert.equal(fields.hits.type, 'number');
    assert.equal(fields.published.type, 'bool');
    assert.equal(fields.meta.type, 'json');
    assert.equal(fields.author.type, 'relation');
    assert.equal(fields.writer.type, 'relation'); // an `id` column of a collection becomes a relation to it
    assert.equal(fields.writer.collectionId, '_pb_users_auth_');
    assert.equal(res.body.type, 'view');
    assert.equal(res.body.viewQuery.startsWith('SELECT p.id'), true);

    const counted = await createView(
      'vc_authors',
      'SELECT u.id, u.email AS mail, count(p.id) AS posts FROM users u LEFT JOIN vc_posts p ON p.author = u.id GROUP BY u.id, u.email',
    );
    assert.equal(counted.status, 200, JSON.stringify(counted.body));
    const posts = counted.body.fields.find((f: Json) => f.name === 'posts');
    assert.equal(posts.type, 'number');
    assert.equal(posts.onlyInt, true);
  });

  it('is read like any collection: list, filter, sort, expand, fields, view', async () => {
    const list = await srv.admin.collection('vc_published').getList(1, 10, { sort: '-hits' });
    assert.deepEqual(
      list.items.map((r) => r.title),
      ['beta', 'alpha'],
    );
    assert.equal(list.totalItems, 2);
    assert.equal(list.items[0]!.collectionName, 'vc_published');
    assert.equal(typeof list.items[0]!.hits, 'number');
    assert.equal(list.items[0]!.published, true);
    assert.deepEqual(list.items[1]!.meta, { n: 0 });
    const filtered = await srv.admin
      .collection('vc_published')
      .getFullList({ filter: 'hits > 15 && title ~ "et" && meta.n = 1' });
    assert.deepEqual(
      filtered.map((r) => r.title),
      ['beta'],
    );
    const expanded = await srv.admin
      .collection('vc_published')
      .getFirstListItem('title = "alpha"', { expand: 'author', fields: 'id,title,expand.author.email' });
    assert.equal(expanded.expand?.author?.email, 'writer@example.com');
    assert.equal(expanded.hits, undefined);
    const one = await srv.admin.collection('vc_published').getOne(expanded.id);
    assert.equal(one.title, 'alpha');
    const rowid = await srv.admin.collection('vc_published').getFullList({ sort: '@rowid' });
    assert.equal(rowid.length, 2);
    const authors = await srv.admin.collection('vc_authors').getFullList({ filter: 'posts > 0' });
    assert.deepEqual(
      authors.map((a) => [a.mail, a.posts]),
      [['writer@example.com', 1]],
    );
  });

  it('applies its list and view rules to clients', async () => {
    const made = await createView('vc_private', 'SELECT id, title FROM vc_posts', {
      listRule: '@request.auth.id != ""',
      viewRule: null,
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const guest = await srv.request('GET', '/api/collections/vc_private/records');
    assert.equal(guest.status, 200);
    assert.equal(guest.body.totalItems, 0);
    const one = await srv.request(
      'GET',
      `/api/collections/vc_private/records/${(await srv.admin.collection('vc_private').getFullList())[0]!.id}`,
    );
    assert.equal(one.status, 403); // viewRule null: superusers only, as PocketBase
  });

  it('refuses every write with PocketBase\'s 400 "Unsupported collection type." before any rule', async () => {
    const create = await srv.request('POST', '/api/collections/vc_published/records', {
      body: { title: 'x' },
    });
    assert.equal(create.status, 400);
    assert.equal(create.body.message, 'Unsupported collection type.');
    const id = (await srv.admin.collection('vc_published').getFullList())[0]!.id;
    for (const [method, body] of [
      ['PATCH', { title: 'x' }],
      ['DELETE', undefined],
    ] as const) {
      const res = await api(method, `/api/collections/vc_published/records/${id}`, body);
      assert.equal(res.status, 400, `${method}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.message, 'Unsupported collection type.');
    }
    const truncate = await api('DELETE', '/api/collections/vc_published/truncate');
    assert.equal(truncate.status, 400);
    assert.match(truncate.body.message, /View collections cannot be truncated/);
    await assert.rejects(
      srv.admin.collection('vc_published').create({ title: 'x' }),
      (e: ClientResponseError) => e.status === 400,
    );
    // Nothing reached the source table.
    assert.equal((await srv.admin.collection('vc_posts').getFullList()).length, 3);
  });

  it('refuses write rules and indexes on a view (validation_nil, validation_indexes_not_supported)', async () => {
    const rules = await createView('vc_rules', 'SELECT id FROM vc_posts', { createRule: '', deleteRule: '' });
    assert.equal(rules.status, 400);
    assert.equal(rules.body.data.createRule.code, 'validation_nil');
    assert.equal(rules.body.data.deleteRule.code, 'validation_nil');
    const indexes = await createView('vc_idx', 'SELECT id FROM vc_posts', {
      indexes: ['CREATE INDEX idx_vc ON vc_idx (id)'],
    });
    assert.equal(indexes.status, 400);
    assert.equal(indexes.body.data.indexes.code, 'validation_indexes_not_supported');
    const missing = await api('POST', '/api/collections', { name: 'vc_noquery', type: 'view' });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.data.viewQuery.code, 'validation_required');
  });

  it('refuses queries without an id, with wildcards, or with unnamed expressions', async () => {
    assert.match(viewQueryError(await createView('vc_bad', 'SELECT title FROM vc_posts')), /id column/);
    assert.match(viewQueryError(await createView('vc_bad', 'SELECT * FROM vc_posts')), /wildcard/);
    assert.match(viewQueryError(await createView('vc_bad', 'SELECT p.* FROM vc_posts p')), /wildcard/);
    assert.match(viewQueryError(await createView('vc_bad', 'SELECT id, views + 1 FROM vc_posts')), /AS name/);
    assert.match(
      viewQueryError(await createView('vc_bad', 'SELECT id, nope FROM vc_posts')),
      /Invalid query/,
    );
    // Duplicated or empty ids in the sample (PocketBase's dry-run check).
    assert.match(
      viewQueryError(await createView('vc_bad', "SELECT 'same' AS id, title FROM vc_posts")),
      /non-unique ids/,
    );
  });

  describe('hostile queries: a view reads only collections and never writes', () => {
    const hostile = [
      'DELETE FROM vc_posts',
      'SELECT id FROM vc_posts; DELETE FROM vc_posts',
      'SELECT id FROM vc_posts; DROP TABLE vc_posts',
      'WITH gone AS (DELETE FROM vc_posts RETURNING id) SELECT id FROM gone',
      'SELECT id, (SELECT email FROM _superusers LIMIT 1) AS leak FROM vc_posts',
      'SELECT id FROM _superusers',
      'SELECT id, token AS t FROM _sessions',
      'SELECT p.id FROM vc_posts p JOIN vc_posts q ON 1 = 1, _superusers s',
      'SELECT id FROM vc_posts WHERE id IN _superusers',
      "SELECT id FROM '_superusers'",
      'SELECT id FROM main._superusers',
      'SELECT id, usename AS u FROM pg_catalog.pg_user',
      'WITH pg_user AS (SELECT usename AS id FROM pg_user) SELECT id FROM pg_user',
      'SELECT id, password AS p FROM users',
      'SELECT id, "tokenKey" AS k FROM users',
      'SELECT u.id, u AS whole FROM users u',
      "SELECT id, pg_read_file('/etc/passwd') AS f FROM vc_posts",
      "SELECT id, load_file('/etc/passwd') AS f FROM vc_posts",
      'SELECT id, sleep(5) AS s FROM vc_posts',
      'SELECT id, 1 AS x FROM vc_posts --',
      "SELECT id, 'a\\' AS x FROM vc_posts",
      'SELECT id FROM vc_posts FOR UPDATE',
      'SELECT id, title INTO copy_of_posts FROM vc_posts',
      'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n AS id FROM r',
      `SELECT id FROM vc_posts WHERE title = '${'x'.repeat(5000)}'`,
    ];
    for (const query of hostile)
      it(`refuses ${JSON.stringify(query.slice(0, 80))}`, async () => {
        viewQueryError(await createView('vc_hostile', query));
        const dry = await api('POST', '/api/collections/meta/dry-run-view', { query });
        assert.equal(dry.status, 400, JSON.stringify(dry.body));
        assert.equal((await srv.admin.collection('vc_posts').getFullList()).length, 3);
        const found = await srv.request('GET', '/api/collections/vc_hostile', { token: srv.adminToken });
        assert.equal(found.status, 404);
      });
  });

  it('dry-run-view answers the fields and a sample, superusers only (PocketBase apis/collection.go)', async () => {
    const query = 'SELECT id, title, views FROM vc_posts ORDER BY views';
    const res = await api('POST', '/api/collections/meta/dry-run-view', { query });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.fields.map((f: Json) => [f.name, f.type]),
      [
        ['id', 'text'],
        ['title', 'text'],
        ['views', 'number'],
      ],
    );
    assert.equal(res.body.sample.length, 3);
    assert.equal(typeof res.body.sample[0].views, 'number');
    const guest = await srv.request('POST', '/api/collections/meta/dry-run-view', { body: { query } });
    assert.equal(guest.status, 401);
    const empty = await api('POST', '/api/collections/meta/dry-run-view', {});
    assert.equal(empty.status, 400);
    assert.equal(empty.body.data.query.code, 'validation_required');
    const wrongType = await api('POST', '/api/collections/meta/dry-run-view', { query: ['x'] });
    assert.equal(wrongType.status, 400);
    const bad = await api('POST', '/api/collections/meta/dry-run-view', {
      query: 'SELECT title FROM vc_posts',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /^Invalid view query/);
  });

  it('keeps views working across changes to what they read, and refuses changes that would break one', async () => {
    const posts = (await api('GET', '/api/collections/vc_posts')).body;
    // A new field on the source: the views are rebuilt and still read.
    const added = await api('PATCH', '/api/collections/vc_posts', {
      fields: [...posts.fields, { name: 'extra', type: 'text' }],
    });
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.equal((await srv.admin.collection('vc_published').getFullList()).length, 2);
    // Renaming a column a view reads breaks it: refused, naming the view, and nothing changed.
    const renamed = await api('PATCH', '/api/collections/vc_posts', {
      fields: added.body.fields.map((f: Json) => (f.name === 'views' ? { ...f, name: 'views2' } : f)),
    });
    assert.equal(renamed.status, 400, JSON.stringify(renamed.body));
    assert.match(renamed.body.message, /vc_published/);
    const still = (await api('GET', '/api/collections/vc_posts')).body;
    assert.ok(still.fields.some((f: Json) => f.name === 'views'));
    assert.equal((await srv.admin.collection('vc_published').getFullList()).length, 2);
    // Deleting a collection a view reads is refused too.
    const removed = await api('DELETE', '/api/collections/vc_posts');
    assert.equal(removed.status, 400, JSON.stringify(removed.body));
    assert.equal((await srv.admin.collection('vc_posts').getFullList()).length, 3);
  });

  it('updates, renames and deletes a view; field ids stay stable across a query change', async () => {
    const made = await createView('vc_temp', 'SELECT id, title FROM vc_posts');
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const titleId = made.body.fields.find((f: Json) => f.name === 'title').id;
    const changed = await api('PATCH', '/api/collections/vc_temp', {
      name: 'vc_temp2',
      viewQuery: 'SELECT id, title, views FROM vc_posts WHERE views > 10',
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.fields.find((f: Json) => f.name === 'title').id, titleId);
    assert.equal((await srv.admin.collection('vc_temp2').getFullList()).length, 2);
    assert.equal((await srv.request('GET', '/api/collections/vc_temp/records')).status, 404);
    // A view on a view.
    const nested = await createView('vc_nested', 'SELECT id, views FROM vc_temp2 WHERE views > 20');
    assert.equal(nested.status, 200, JSON.stringify(nested.body));
    assert.equal((await srv.admin.collection('vc_nested').getFullList()).length, 1);
    assert.equal((await api('DELETE', '/api/collections/vc_temp2')).status, 400); // vc_nested reads it
    assert.equal((await api('DELETE', '/api/collections/vc_nested')).status, 204);
    assert.equal((await api('DELETE', '/api/collections/vc_temp2')).status, 204);
  });

  it('survives an import of the schema as exported, and imports new views after what they read', async () => {
    const all = (await api('GET', '/api/collections?perPage=500')).body.items;
    const again = await api('PUT', '/api/collections/import', { collections: all, deleteMissing: false });
    assert.equal(again.status, 204, JSON.stringify(again.body));
    assert.equal((await srv.admin.collection('vc_published').getFullList()).length, 2);
    // A new collection and a view reading it, the view listed first.
    const imported = await api('PUT', '/api/collections/import', {
      collections: [
        { name: 'vc_imp_view', type: 'view', listRule: '', viewQuery: 'SELECT id, label FROM vc_imp_base' },
        {
          name: 'vc_imp_base',
          type: 'base',
          listRule: '',
          createRule: '',
          fields: [{ name: 'label', type: 'text' }],
        },
      ],
    });
    assert.equal(imported.status, 204, JSON.stringify(imported.body));
    await srv.admin.collection('vc_imp_base').create({ label: 'from import' });
    const rows = await srv.admin.collection('vc_imp_view').getFullList();
    assert.deepEqual(
      rows.map((r) => r.label),
      ['from import'],
    );
    // An import that renames a column a kept view reads is refused whole.
    const base = (await api('GET', '/api/collections/vc_imp_base')).body;
    const broken = await api('PUT', '/api/collections/import', {
      collections: [
        {
          ...base,
          fields: base.fields.map((f: Json) => (f.name === 'label' ? { ...f, name: 'label2' } : f)),
        },
      ],
    });
    assert.equal(broken.status, 400, JSON.stringify(broken.body));
    assert.match(JSON.stringify(broken.body), /vc_imp_view/);
    assert.equal((await srv.admin.collection('vc_imp_view').getFullList()).length, 1);
  });

  it('refuses a relation from a base collection to a view (PocketBase issue 3000)', async () => {
    const view = (await api('GET', '/api/collections/vc_published')).body;
    const res = await api('POST', '/api/collections', {
      name: 'vc_refs',
      fields: [{ name: 'ref', type: 'relation', collectionId: view.id, maxSelect: 1 }],
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    // Index 1: the id field comes first.
    assert.equal(
      res.body.data.fields?.['1']?.collectionId?.code,
      'validation_relation_field_non_view_base_collection',
      JSON.stringify(res.body),
    );
  });
});
