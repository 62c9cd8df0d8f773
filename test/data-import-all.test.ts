import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { scratch, transfer } from './helpers/transfer.ts';

const SU = { collection: null, record: null, isSuperuser: true };
const NAMES = ['users', 'tags', 'posts', 'teams', 'people'];

/** Every row of a collection, as the API shows it to a superuser, less what the server sets on create. */
async function rows(app: App, name: string): Promise<Record<string, unknown>[]> {
  const c = app.collections.get(name);
  const list = await app.records.list(c, { sort: 'id', perPage: 1000, skipTotal: true }, SU);
  return list.items.map(({ created: _c, updated: _u, ...rest }) => rest);
}

/**
 * A source server whose relations need every trick: a required relation to an auth collection, a
 * self-relation pointing forward in id order, a multi-relation, and a cycle (teams.lead ↔ people.team).
 */
async function seed(app: App): Promise<void> {
  const c = app.collections;
  const users = c.get('users');
  const tags = await c.create({ name: 'tags', type: 'base', fields: [{ name: 'name', type: 'text' }] });
  const posts = await c.create({
    name: 'posts',
    type: 'base',
    fields: [
      { name: 'title', type: 'text', required: true },
      { name: 'author', type: 'relation', collectionId: users.id, maxSelect: 1, required: true },
      { name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 },
    ],
  });
  await c.update('posts', {
    fields: [
      ...posts.fields.map((f) => ({ ...f })),
      { name: 'parent', type: 'relation', collectionId: posts.id, maxSelect: 1 },
    ],
  });
  const teams = await c.create({ name: 'teams', type: 'base', fields: [{ name: 'name', type: 'text' }] });
  await c.create({
    name: 'people',
    type: 'base',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1, required: true },
    ],
  });
  await c.update('teams', {
    fields: [
      ...teams.fields.map((f) => ({ ...f })),
      { name: 'lead', type: 'relation', collectionId: c.get('people').id, maxSelect: 1 },
    ],
  });
  await c.create({ name: 'post_titles', type: 'view', viewQuery: 'SELECT id, title FROM posts' });
  const r = app.records;
  const pw = { password: 'secret-pass-1', passwordConfirm: 'secret-pass-1' };
  await r.create(
    users,
    { id: 'user00000000001', email: 'ann@example.com', name: 'Ann', verified: true, ...pw },
    SU,
  );
  await r.create(
    users,
    { id: 'user00000000002', email: 'bob@example.com', emailVisibility: true, ...pw },
    SU,
  );
  await r.create(c.get('tags'), { id: 'tag000000000001', name: 'one' }, SU);
  await r.create(c.get('tags'), { id: 'tag000000000002', name: 'two, "quoted"' }, SU);
  const p = c.get('posts');
  await r.create(p, { id: 'post00000000001', title: 'first', author: 'user00000000001' }, SU);
  // The third post exists before the second points at it: in id order, the parent comes after.
  const third = {
    id: 'post00000000003',
    title: 'third',
    author: 'user00000000002',
    parent: 'post00000000001',
  };
  await r.create(p, { ...third, tags: ['tag000000000001', 'tag000000000002'] }, SU);
  await r.create(
    p,
    { id: 'post00000000002', title: 'second', author: 'user00000000001', parent: third.id },
    SU,
  );
  await r.create(c.get('teams'), { id: 'team00000000001', name: 'core' }, SU);
  await r.create(c.get('people'), { id: 'pers00000000001', name: 'Cy', team: 'team00000000001' }, SU);
  await r.update(c.get('teams'), 'team00000000001', { lead: 'pers00000000001' }, SU);
}

describe(`plinth import --all on ${TEST_ENGINE}`, () => {
  let source: TestServer;
  const files = scratch();
  before(async () => {
    source = await startServer();
    await seed(source.app);
  });
  after(async () => {
    await source?.close();
    files.done();
  });

  async function sameAsSource(app: App): Promise<void> {
    for (const name of NAMES) assert.deepEqual(await rows(app, name), await rows(source.app, name), name);
    assert.equal(
      (await app.records.list(app.collections.get('post_titles'), { perPage: 10 }, SU)).totalItems,
      3,
    );
  }

  it('round-trips a whole server into a fresh one: ids, relations (self, cyclic, multi), accounts', async () => {
    const dir = files.path('jsonl');
    const exported = await transfer(source.app, 'export', ['--all', '--out', dir, '--quiet']);
    assert.equal(exported.code, 0, exported.err);
    const target = await startServer();
    try {
      const dry = await transfer(target.app, 'import', ['--all', dir, '--dry-run', '--quiet']);
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /\+ create base collection "posts"/);
      assert.match(dry.out, /would import posts once it is created/);
      assert.equal(target.app.collections.find('posts'), undefined, 'a dry run creates nothing');
      assert.equal((await rows(target.app, 'users')).length, 0);
      // Once the collections exist, a dry run checks every row, all but the relations into the directory
      // (their targets are not written), posts.author (required) included.
      const definitions = JSON.parse(readFileSync(`${dir}/collections.json`, 'utf8'));
      await target.app.collections.importCollections(definitions, false);
      const checked = await transfer(target.app, 'import', ['--all', dir, '--dry-run', '--quiet']);
      assert.equal(checked.code, 0, checked.err);
      assert.match(checked.out, /^No changes\.\n/);
      assert.match(checked.out, /would import 3 rows into posts .*; nothing was written/);
      assert.equal((await rows(target.app, 'posts')).length, 0);

      const run = await transfer(target.app, 'import', ['--all', dir, '--quiet']);
      assert.equal(run.code, 0, run.err);
      assert.match(run.out, /imported 2 rows into users .*\n(.*\n)*imported 3 rows into posts/);
      assert.match(run.out, /linked 2 rows of posts/);
      assert.match(run.out, /linked 1 rows of teams/);
      assert.match(run.out, /imported 5 collections from /);
      await sameAsSource(target.app);
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.includes('state')),
        [],
        'a finished import leaves no state files',
      );
      // The old passwords are not in the export: the accounts got random ones.
      const ann = await target.app.records.find(target.app.collections.get('users'), 'user00000000001');
      assert.ok(
        ann?.password &&
          ann.password !==
            (await source.app.records.find(source.app.collections.get('users'), 'user00000000001'))?.password,
      );

      // The same directory again, into the server that now holds it: the dry run says what would clash.
      const again = await transfer(target.app, 'import', ['--all', dir, '--dry-run', '--quiet']);
      assert.equal(again.code, 1);
      assert.match(again.out, /^No changes\./);
      assert.match(again.err, /line 1: .*\n {2}id: validation_not_unique/);
    } finally {
      await target.close();
    }
  });

  it('stops at a refused row of CSV files, refuses to start over, and resumes to the same data', async () => {
    const dir = files.path('csv');
    const exported = await transfer(source.app, 'export', [
      '--all',
      '--out',
      dir,
      '--format',
      'csv',
      '--quiet',
    ]);
    assert.equal(exported.code, 0, exported.err);
    const posts = `${dir}/posts.csv`;
    const good = readFileSync(posts, 'utf8');
    assert.match(good, /\r\npost00000000003,third,/);
    writeFileSync(posts, good.replace(/\r\npost00000000003,third,/, '\r\npost00000000003,,'));
    const target = await startServer();
    try {
      const first = await transfer(target.app, 'import', ['--all', dir, '--quiet', '--batch', '2']);
      assert.equal(first.code, 1);
      assert.match(first.err, /line 4: Failed to create record\.\n {2}title: validation_required/);
      assert.match(first.err, /stopped at posts; 2 collections before it are in\./);
      assert.deepEqual((await rows(target.app, 'users')).length, 2);
      assert.deepEqual(
        (await rows(target.app, 'posts')).map((r) => r.id),
        ['post00000000001', 'post00000000002'],
      );
      assert.ok(existsSync(`${dir}/import-all-state.json`));

      const again = await transfer(target.app, 'import', ['--all', dir, '--quiet']);
      assert.equal(again.code, 1);
      assert.match(again.err, /an earlier import --all of .* stopped .*add --resume/);

      writeFileSync(posts, good);
      const resumed = await transfer(target.app, 'import', ['--all', dir, '--quiet', '--resume']);
      assert.equal(resumed.code, 0, resumed.err);
      assert.match(resumed.err, /resuming after line 3 \(2 rows already imported\)/);
      assert.doesNotMatch(resumed.out, /into users/, 'a collection already in is not read again');
      await sameAsSource(target.app);
      assert.ok(!existsSync(`${dir}/import-all-state.json`));
    } finally {
      await target.close();
    }
  });
});
