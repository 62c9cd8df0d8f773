import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createTestDatabase, TEST_ENGINE } from './helpers/databases.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// The import preview and the guarded import (docs/migrations.md): what an import would change, found by
// id (so renames are renames, not a drop and an add), and the data each destructive step would destroy.

let server: TestServer;
before(async () => {
  server = await startServer();
});
after(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked key by key.
type Body = Record<string, any>;

const call = (path: string, body: unknown) =>
  server.request('POST', path, { body, token: server.adminToken });
const preview = (body: unknown) => call('/api/plinth/collections/import-preview', body);
const guarded = (body: unknown) => call('/api/plinth/collections/import', body);

let n = 0;
/** A fresh pair of collections: `posts` (with records) relating to `tags` (empty). */
async function fixture() {
  const suffix = `${Date.now().toString(36)}${++n}`;
  const tags = await server.admin.collections.create({ name: `tags_${suffix}`, type: 'base', fields: [] });
  const posts = await server.admin.collections.create({
    name: `posts_${suffix}`,
    type: 'base',
    fields: [
      { id: 'f_title', name: 'title', type: 'text' },
      { id: 'f_body', name: 'body', type: 'text' },
      { id: 'f_note', name: 'note', type: 'text' },
      { id: 'f_cats', name: 'cats', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    ],
  });
  const rows = [
    { title: 'one', body: 'text', cats: ['a', 'b'] },
    { title: 'two', body: '', cats: ['c'] },
    { title: 'three', body: 'more', cats: ['a', 'b', 'c'] },
  ];
  for (const row of rows) await server.admin.collection(posts.name).create(row);
  const full = await server.admin.collections.getList(1, 500);
  return { posts, tags, suffix, all: full.items as Body[] };
}

/** The exported definition of `c`, changed by `edit`. */
const edited = (c: Body, edit: (c: Body) => void) => {
  const copy = structuredClone(c);
  edit(copy);
  return copy;
};

describe('collections import preview and guard', () => {
  test('finds renames by id, additions and changes, and destroys nothing', async () => {
    const { posts, all } = await fixture();
    const renamed = edited(posts, (c) => {
      c.name = `${posts.name}_v2`;
      c.fields.find((f: Body) => f.name === 'title').name = 'heading';
      c.fields.find((f: Body) => f.name === 'note').max = 50;
      c.fields.push({ id: 'f_extra', name: 'extra', type: 'number' });
      c.listRule = '';
    });
    const list = all.map((c) => (c.id === posts.id ? renamed : c));
    const res = await preview({ collections: list });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.destructive, []);
    const plan = res.body.collections[0] as Body;
    assert.equal(
      res.body.collections.length,
      1,
      JSON.stringify(res.body.collections.filter((c: Body) => c.id !== posts.id)),
    );
    assert.equal(plan.action, 'update');
    assert.equal(plan.renamedFrom, posts.name);
    assert.deepEqual(plan.fields.renamed, [{ from: 'title', to: 'heading' }]);
    assert.deepEqual(plan.fields.added, ['extra']);
    assert.deepEqual(plan.fields.changed, ['note']);
    assert.deepEqual(plan.fields.removed, []);
    assert.deepEqual(plan.rules, ['listRule']);
    // A preview writes nothing.
    assert.equal((await server.admin.collections.getOne(posts.id)).name, posts.name);
  });

  test('counts what dropping a field, narrowing a list and deleting a collection destroy', async () => {
    const { posts, tags, all } = await fixture();
    const narrowed = edited(posts, (c) => {
      c.fields = c.fields.filter((f: Body) => f.name !== 'body' && f.name !== 'note');
      c.fields.find((f: Body) => f.name === 'cats').maxSelect = 1;
    });
    // deleteMissing drops every collection the list leaves out: here `tags` (empty) and no other.
    const list = all.filter((c) => c.id !== tags.id).map((c) => (c.id === posts.id ? narrowed : c));
    const res = await preview({ collections: list, deleteMissing: true });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const byName = new Map((res.body.collections as Body[]).map((c) => [c.name, c]));
    const plan = byName.get(posts.name)!;
    assert.deepEqual(plan.fields.removed, [
      { name: 'body', values: 2 },
      { name: 'note', values: 0 },
    ]);
    assert.deepEqual(plan.fields.narrowed, [{ name: 'cats', records: 2 }]);
    assert.deepEqual(byName.get(tags.name), {
      action: 'delete',
      id: tags.id,
      name: tags.name,
      type: 'base',
      records: 0,
    });
    assert.equal(res.body.destructive.length, 2, JSON.stringify(res.body.destructive));
    assert.match(res.body.destructive.join('\n'), new RegExp(`${posts.name}\\.body" \\(2 record`));
    assert.match(res.body.destructive.join('\n'), new RegExp(`${posts.name}\\.cats" where 2 record`));

    // The guarded import refuses, changing nothing; allowed, it applies and answers the plan.
    const refused = await guarded({ collections: list, deleteMissing: true });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.data.collections.code, 'validation_destructive_import');
    assert.match(refused.body.data.collections.message, /body" \(2 record/);
    const still = await server.admin.collections.getOne(posts.id);
    assert.ok(still.fields.some((f) => f.name === 'body'));
    assert.ok(await server.admin.collections.getOne(tags.id));
    const done = await guarded({ collections: list, deleteMissing: true, allowDestructive: true });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.destructive.length, 2);
    const after = await server.admin.collections.getOne(posts.id);
    assert.ok(!after.fields.some((f) => f.name === 'body'));
    const rows = await server.admin.collection(posts.name).getFullList({ sort: 'title' });
    assert.deepEqual(
      rows.map((r) => r.cats),
      ['b', 'c', 'c'],
    );
  });

  test('a guarded import with nothing destructive applies without being told', async () => {
    const { posts, all } = await fixture();
    const list = all.map((c) =>
      c.id === posts.id ? edited(c, (x) => x.fields.push({ name: 'added', type: 'bool' })) : c,
    );
    const res = await guarded({ collections: list });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.destructive, []);
    assert.ok((await server.admin.collections.getOne(posts.id)).fields.some((f) => f.name === 'added'));
  });

  test('refuses hostile and invalid input as the import does, and guests', async () => {
    const { posts, all } = await fixture();
    for (const body of [null, 'x', [], { collections: 'x' }, { collections: [1] }, { collections: [] }]) {
      const res = await preview(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.body.message, 'string');
    }
    const bad = all.map((c) => (c.id === posts.id ? edited(c, (x) => (x.name = 'bad name!')) : c));
    const invalid = await preview({ collections: bad });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.data.collections.code, 'validation_collections_import_failure');
    // A name that would be SQL if pasted into the counting queries is only a name that fails validation.
    const sneaky = all.map((c) =>
      c.id === posts.id ? edited(c, (x) => (x.name = 'x"; DROP TABLE y; --')) : c,
    );
    assert.equal((await preview({ collections: sneaky })).status, 400);
    const guest = await server.request('POST', '/api/plinth/collections/import-preview', {
      body: { collections: all },
    });
    assert.equal(guest.status, 401);
  });
});

// The command wraps the store's preview and guarded import, tested above on every engine; its processes
// (a server, then seven commands) run once.
const cliOnce =
  TEST_ENGINE !== 'sqlite' &&
  'the command prints and exits alike on every engine; the routes above run on each';
describe('plinth collections export and import', { skip: cliOnce }, () => {
  test('shows the plan, refuses data loss unless allowed, then applies it', async () => {
    const db = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'plinth-cli-import-'));
    const where = ['--dir', dir, ...(db.url ? ['--db', db.url] : [])];
    try {
      // A server makes a collection with a record, then stops: the CLI works on the same data.
      const made = await runCli(['superuser', 'upsert', 'cli@example.com', 'cli-password', ...where]);
      assert.equal(made.code, 0, made.stderr);
      const port = await freePort();
      const serve = await spawnServe(['--http', `127.0.0.1:${port}`, ...where]);
      const base = `http://127.0.0.1:${port}`;
      const login = await fetch(`${base}/api/collections/_superusers/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'cli@example.com', password: 'cli-password' }),
      });
      const { token } = (await login.json()) as { token: string };
      const post = (path: string, body: unknown) =>
        fetch(`${base}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: token },
          body: JSON.stringify(body),
        });
      const fields = [
        { name: 'title', type: 'text' },
        { name: 'body', type: 'text' },
      ];
      assert.equal((await post('/api/collections', { name: 'notes', type: 'base', fields })).status, 200);
      assert.equal((await post('/api/collections/notes/records', { title: 't', body: 'kept?' })).status, 200);
      serve.child.kill('SIGTERM');
      await serve.exited;

      const file = join(dir, 'schema.json');
      assert.equal((await runCli(['collections', 'export', file, ...where])).code, 0);
      const schema = JSON.parse(readFileSync(file, 'utf8')) as Body[];
      const notes = schema.find((c) => c.name === 'notes')!;
      notes.fields = notes.fields.filter((f: Body) => f.name !== 'body');
      writeFileSync(file, JSON.stringify(schema));

      const dry = await runCli(['collections', 'import', file, '--delete-missing', '--dry-run', ...where]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /~ update "notes"\n {4}- field body \(1 records hold a value\)/);
      assert.match(dry.stdout, /Destroys data:\n {2}! it drops the field "notes\.body"/);
      const refused = await runCli(['collections', 'import', file, '--delete-missing', ...where]);
      assert.equal(refused.code, 3);
      assert.match(refused.stderr, /Nothing was changed/);
      const unchanged = await runCli(['collections', 'export', '-', ...where]);
      assert.match(unchanged.stdout, /"name": "body"/);
      const applied = await runCli([
        'collections',
        'import',
        file,
        '--delete-missing',
        '--allow-destructive',
        ...where,
      ]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /Imported\./);
      const now = await runCli(['collections', 'export', '-', ...where]);
      assert.doesNotMatch(now.stdout, /"name": "body"/);

      writeFileSync(file, '{"collections": [1, 2');
      const broken = await runCli(['collections', 'import', file, ...where]);
      assert.equal(broken.code, 1);
      assert.match(broken.stderr, /cannot read .* as JSON/);
      assert.doesNotMatch(broken.stderr, /\n\s+at /, 'no stack trace');
    } finally {
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
