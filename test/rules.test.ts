import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

let srv: TestServer;
const users: Record<string, { id: string; token: string }> = {};
const GUEST = '';

/** Signs a new user of `users` in and keeps its id and token. */
async function user(name: string, extra: Record<string, unknown> = {}) {
  const email = `${name}@example.com`;
  const rec = await srv.admin
    .collection('users')
    .create({ email, password: 'pass-word-1', passwordConfirm: 'pass-word-1', name, ...extra });
  const pb = new PocketBase(srv.url);
  await pb.collection('users').authWithPassword(email, 'pass-word-1');
  users[name] = { id: rec.id, token: pb.authStore.token };
}

const call = (
  method: string,
  path: string,
  token: string,
  body?: unknown,
  headers?: Record<string, string>,
) => srv.request(method, path, { token: token || undefined, body, headers });

before(async () => {
  srv = await startServer();
  const pb = srv.admin;
  await user('ann');
  await user('bob');
  const usersId = (await pb.collections.getOne('users')).id;
  await pb.collections.create({
    name: 'notes',
    type: 'base',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    createRule:
      "@request.auth.id != '' && owner = @request.auth.id && @request.body.title:isset = true && title != 'forbidden'",
    updateRule:
      'owner = @request.auth.id && (@request.body.owner:isset = false || @request.body.owner = owner)',
    deleteRule: 'owner = @request.auth.id',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
      { name: 'secret', type: 'text', hidden: true },
    ],
    indexes: ['CREATE INDEX idx_notes_owner ON notes (owner)'],
  });
  for (const [who, titles] of [
    ['ann', ['a1', 'a2']],
    ['bob', ['b1']],
  ] as const) {
    for (const title of titles)
      await pb.collection('notes').create({ title, owner: users[who]?.id, secret: `s-${title}` });
  }
});

after(async () => {
  await srv?.close();
});

const notes = (query = '') => `/api/collections/notes/records${query}`;
const idOf = async (title: string) =>
  (await srv.admin.collection('notes').getFirstListItem(`title = '${title}'`)).id;

describe('an owner rule', () => {
  test('list: each caller sees and counts only their own records; a guest sees none', async () => {
    const ann = await call('GET', notes('?sort=title'), users.ann!.token);
    assert.deepEqual(
      ann.body.items.map((n: Json) => n.title),
      ['a1', 'a2'],
    );
    assert.equal(ann.body.totalItems, 2);
    const bob = await call('GET', notes(), users.bob!.token);
    assert.deepEqual(
      bob.body.items.map((n: Json) => n.title),
      ['b1'],
    );
    const guest = await call('GET', notes(), GUEST);
    assert.equal(guest.status, 200);
    assert.equal(guest.body.totalItems, 0);
    const filtered = await call(
      'GET',
      notes(`?filter=${encodeURIComponent("title = 'b1'")}`),
      users.ann!.token,
    );
    assert.equal(filtered.body.totalItems, 0, 'a filter cannot reach past the rule');
  });

  test("view, update and delete of another's record are 404s and change nothing", async () => {
    const b1 = await idOf('b1');
    assert.equal((await call('GET', notes(`/${b1}`), users.ann!.token)).status, 404);
    assert.equal((await call('PATCH', notes(`/${b1}`), users.ann!.token, { title: 'hacked' })).status, 404);
    assert.equal(
      (await call('PATCH', notes(`/${b1}`), users.ann!.token, { title: 12345678 })).status,
      404,
      'no validation errors leak',
    );
    assert.equal((await call('DELETE', notes(`/${b1}`), users.ann!.token)).status, 404);
    assert.equal((await srv.admin.collection('notes').getOne(b1)).title, 'b1');
    assert.equal((await call('GET', notes(`/${b1}`), users.bob!.token)).status, 200);
  });

  test('update may use @request.body: the owner cannot give a record away', async () => {
    const a1 = await idOf('a1');
    const give = await call('PATCH', notes(`/${a1}`), users.ann!.token, { owner: users.bob!.id });
    assert.equal(give.status, 404);
    const rename = await call('PATCH', notes(`/${a1}`), users.ann!.token, { title: 'a1!' });
    assert.equal(rename.status, 200);
    assert.equal(rename.body.title, 'a1!');
    await srv.admin.collection('notes').update(a1, { title: 'a1' });
  });

  test('create: the rule reads the record as it would be stored; a denied create is a 400 with nothing written', async () => {
    const before = (await srv.admin.collection('notes').getList(1, 1)).totalItems;
    const forOther = await call('POST', notes(), users.ann!.token, { title: 'x', owner: users.bob!.id });
    assert.equal(forOther.status, 400);
    const forbidden = await call('POST', notes(), users.ann!.token, {
      title: 'forbidden',
      owner: users.ann!.id,
    });
    assert.equal(forbidden.status, 400);
    const untitled = await call('POST', notes(), users.ann!.token, { owner: users.ann!.id });
    assert.equal(untitled.status, 400, '@request.body.title:isset');
    const guest = await call('POST', notes(), GUEST, { title: 'x' });
    assert.equal(guest.status, 400);
    assert.equal((await srv.admin.collection('notes').getList(1, 1)).totalItems, before);
    const own = await call('POST', notes(), users.ann!.token, { title: 'a3', owner: users.ann!.id });
    assert.equal(own.status, 200);
    await srv.admin.collection('notes').delete(own.body.id);
  });

  test('a rule may read hidden fields; a client filter may not, nor use @request or @collection', async () => {
    const pb = srv.admin;
    await pb.collections.update('notes', { listRule: "owner = @request.auth.id && secret != 's-a2'" });
    const ann = await call('GET', notes(), users.ann!.token);
    assert.deepEqual(
      ann.body.items.map((n: Json) => n.title),
      ['a1'],
    );
    assert.equal(ann.body.items[0].secret, undefined);
    const hidden = await call(
      'GET',
      notes(`?filter=${encodeURIComponent("secret = 's-a1'")}`),
      users.ann!.token,
    );
    assert.equal(hidden.status, 400);
    // PocketBase's 403 (apis/record_helpers.go checkForSuperuserOnlyRuleFields)
    for (const filter of ["@request.auth.id != ''", "@collection.notes.title ?= 'b1'"]) {
      const res = await call('GET', notes(`?filter=${encodeURIComponent(filter)}`), users.ann!.token);
      assert.equal(res.status, 403, filter);
    }
    await pb.collections.update('notes', { listRule: 'owner = @request.auth.id' });
  });
});

describe('@request and @collection', () => {
  test('@request.headers, @request.query and @request.method', async () => {
    const pb = srv.admin;
    const c = await pb.collections.create({
      name: 'gated',
      type: 'base',
      listRule: "@request.headers.x_api_key = 'k1' || @request.query.code = 'c1'",
      viewRule: "@request.method = 'GET'",
      fields: [{ name: 'title', type: 'text' }],
    });
    const rec = await pb.collection('gated').create({ title: 't' });
    const path = `/api/collections/${c.name}/records`;
    assert.equal((await call('GET', path, GUEST)).body.totalItems, 0);
    assert.equal((await call('GET', path, GUEST, undefined, { 'X-Api-Key': 'k1' })).body.totalItems, 1);
    assert.equal((await call('GET', `${path}?code=c1`, GUEST)).body.totalItems, 1);
    assert.equal((await call('GET', `${path}?code=c2`, GUEST)).body.totalItems, 0);
    assert.equal((await call('GET', `${path}/${rec.id}`, GUEST)).status, 200);
  });

  test('@collection joins share the row across ? comparisons (team membership)', async () => {
    const pb = srv.admin;
    const usersId = (await pb.collections.getOne('users')).id;
    const teams = await pb.collections.create({
      name: 'teams',
      type: 'base',
      fields: [{ name: 'name', type: 'text' }],
    });
    await pb.collections.create({
      name: 'members',
      type: 'base',
      fields: [
        { name: 'user', type: 'relation', collectionId: usersId, maxSelect: 1 },
        { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1 },
      ],
    });
    await pb.collections.create({
      name: 'docs',
      type: 'base',
      listRule: '@collection.members.user ?= @request.auth.id && @collection.members.team ?= team',
      viewRule: '@collection.members.user ?= @request.auth.id && @collection.members.team ?= team',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1 },
      ],
    });
    const red = await pb.collection('teams').create({ name: 'red' });
    const blue = await pb.collection('teams').create({ name: 'blue' });
    await pb.collection('members').create({ user: users.ann!.id, team: red.id });
    await pb.collection('members').create({ user: users.bob!.id, team: blue.id });
    const redDoc = await pb.collection('docs').create({ title: 'red plan', team: red.id });
    const blueDoc = await pb.collection('docs').create({ title: 'blue plan', team: blue.id });
    const ann = await call('GET', '/api/collections/docs/records', users.ann!.token);
    // Independent comparisons would let Ann see the blue plan (some membership is hers, some is blue's).
    assert.deepEqual(
      ann.body.items.map((d: Json) => d.title),
      ['red plan'],
    );
    assert.equal(
      (await call('GET', `/api/collections/docs/records/${blueDoc.id}`, users.ann!.token)).status,
      404,
    );
    assert.equal(
      (await call('GET', `/api/collections/docs/records/${redDoc.id}`, users.ann!.token)).status,
      200,
    );
    assert.equal((await call('GET', '/api/collections/docs/records', GUEST)).body.totalItems, 0);
  });

  test('expand leaves out related records the view rule denies', async () => {
    const pb = srv.admin;
    const notesId = (await pb.collections.getOne('notes')).id;
    await pb.collections.create({
      name: 'pins',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'note', type: 'relation', collectionId: notesId, maxSelect: 1 }],
    });
    const pinA = await pb.collection('pins').create({ note: await idOf('a1') });
    const pinB = await pb.collection('pins').create({ note: await idOf('b1') });
    const res = await call('GET', '/api/collections/pins/records?expand=note&perPage=10', users.ann!.token);
    const byId = new Map(res.body.items.map((p: Json) => [p.id, p]));
    assert.equal((byId.get(pinA.id) as Json).expand?.note.title, 'a1');
    // PocketBase answers `expand: {}` for a relation expanded to nothing (core/record_query_expand.go)
    assert.deepEqual((byId.get(pinB.id) as Json).expand, {});
  });
});

describe('client filters through relations', () => {
  test('need list access to every collection on the path (no probing of records one cannot list)', async () => {
    const pb = srv.admin;
    const vaults = await pb.collections.create({
      name: 'vaults',
      type: 'base',
      fields: [{ name: 'code', type: 'text' }],
    });
    await pb.collections.create({
      name: 'doors',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'vault', type: 'relation', collectionId: vaults.id, maxSelect: 1 }],
    });
    const v = await pb.collection('vaults').create({ code: '1234' });
    await pb.collection('doors').create({ vault: v.id });
    for (const filter of ["vault.code = '1234'", "vault.code != '1234'"]) {
      const res = await call(
        'GET',
        `/api/collections/doors/records?filter=${encodeURIComponent(filter)}`,
        users.ann!.token,
      );
      assert.equal(res.status, 400, filter);
    }
    const sorted = await call('GET', '/api/collections/doors/records?sort=vault.code', users.ann!.token);
    assert.equal(sorted.status, 400);
    const byId = await call(
      'GET',
      `/api/collections/doors/records?filter=${encodeURIComponent(`vault = '${v.id}'`)}`,
      users.ann!.token,
    );
    assert.equal(byId.body.totalItems, 1, 'the stored id itself is the record’s own field');
    const su = await srv.admin.collection('doors').getList(1, 10, { filter: "vault.code = '1234'" });
    assert.equal(su.totalItems, 1);
  });
});

describe('auth collection rules', () => {
  test('authRule turns away records that do not meet it, with the same answer as a wrong password', async () => {
    const pb = srv.admin;
    await pb.collections.create({ name: 'clients', type: 'auth', authRule: 'verified = true', fields: [] });
    const pass = { password: 'pass-word-1', passwordConfirm: 'pass-word-1' };
    await pb.collection('clients').create({ email: 'new@example.com', verified: false, ...pass });
    await pb.collection('clients').create({ email: 'ok@example.com', verified: true, ...pass });
    const login = (identity: string, password = 'pass-word-1') =>
      call('POST', '/api/collections/clients/auth-with-password', GUEST, { identity, password });
    const unverified = await login('new@example.com');
    const wrong = await login('ok@example.com', 'not-the-password');
    assert.equal(unverified.status, 400);
    assert.deepEqual(unverified.body, wrong.body);
    assert.equal((await login('ok@example.com')).status, 200);
  });

  test('manageRule lets managers change other records’ verified state; others may not', async () => {
    const pb = srv.admin;
    await pb.collections.create({
      name: 'staff',
      type: 'auth',
      listRule: '',
      viewRule: '',
      updateRule: '',
      manageRule: "@request.auth.role = 'admin'",
      fields: [{ name: 'role', type: 'text' }],
    });
    const pass = { password: 'pass-word-1', passwordConfirm: 'pass-word-1' };
    await pb.collection('staff').create({ email: 'boss@example.com', role: 'admin', ...pass });
    await pb.collection('staff').create({ email: 'clerk@example.com', role: 'clerk', ...pass });
    const target = await pb.collection('staff').create({ email: 'new@example.com', role: 'clerk', ...pass });
    const tokenOf = async (email: string) => {
      const client = new PocketBase(srv.url);
      await client.collection('staff').authWithPassword(email, 'pass-word-1');
      return client.authStore.token;
    };
    const clerk = await call(
      'PATCH',
      `/api/collections/staff/records/${target.id}`,
      await tokenOf('clerk@example.com'),
      { verified: true },
    );
    assert.equal(clerk.status, 400);
    assert.equal(clerk.body.data.verified.code, 'validation_manage_only');
    const boss = await call(
      'PATCH',
      `/api/collections/staff/records/${target.id}`,
      await tokenOf('boss@example.com'),
      { verified: true },
    );
    assert.equal(boss.status, 200);
    assert.equal(boss.body.verified, true);
    assert.equal(boss.body.email, 'new@example.com', 'a manager reads the private email in the answer');
    // Managers read private emails in lists, views and filters; others do not.
    const bossToken = await tokenOf('boss@example.com');
    const clerkToken = await tokenOf('clerk@example.com');
    const listed = await call('GET', '/api/collections/staff/records?sort=email', bossToken);
    assert.deepEqual(
      listed.body.items.map((r: Json) => r.email),
      ['boss@example.com', 'clerk@example.com', 'new@example.com'],
    );
    const asClerk = await call('GET', '/api/collections/staff/records?sort=email', clerkToken);
    // Private emails are null to the clerk's sort too: they come first, in no order that tells anything.
    assert.deepEqual(
      asClerk.body.items.map((r: Json) => r.email ?? null),
      [null, null, 'clerk@example.com'],
    );
    assert.equal(
      (await call('GET', `/api/collections/staff/records/${target.id}`, bossToken)).body.email,
      'new@example.com',
    );
    assert.equal(
      (await call('GET', `/api/collections/staff/records/${target.id}`, clerkToken)).body.email,
      undefined,
    );
    const filter = encodeURIComponent("email = 'new@example.com'");
    assert.equal(
      (await call('GET', `/api/collections/staff/records?filter=${filter}`, bossToken)).body.totalItems,
      1,
    );
    assert.equal(
      (await call('GET', `/api/collections/staff/records?filter=${filter}`, clerkToken)).body.totalItems,
      0,
    );
    // ... and inside expand.
    const staffId = (await pb.collections.getOne('staff')).id;
    await pb.collections.create({
      name: 'tasks',
      type: 'base',
      listRule: '',
      viewRule: '',
      fields: [{ name: 'assignee', type: 'relation', collectionId: staffId, maxSelect: 1 }],
    });
    await pb.collection('tasks').create({ assignee: target.id });
    const expanded = (token: string) => call('GET', '/api/collections/tasks/records?expand=assignee', token);
    assert.equal((await expanded(bossToken)).body.items[0].expand.assignee.email, 'new@example.com');
    assert.equal((await expanded(clerkToken)).body.items[0].expand.assignee.email, undefined);
  });

  test('a signed-in record can filter on its own private email; not on others’', async () => {
    const pb = srv.admin;
    await pb.collections.create({ name: 'people2', type: 'auth', listRule: '', fields: [] });
    const pass = { password: 'pass-word-1', passwordConfirm: 'pass-word-1' };
    await pb.collection('people2').create({ email: 'me@example.com', emailVisibility: false, ...pass });
    await pb.collection('people2').create({ email: 'other@example.com', emailVisibility: false, ...pass });
    const client = new PocketBase(srv.url);
    await client.collection('people2').authWithPassword('me@example.com', 'pass-word-1');
    const mine = await client.collection('people2').getList(1, 10, { filter: "email = 'me@example.com'" });
    assert.equal(mine.totalItems, 1);
    const theirs = await client
      .collection('people2')
      .getList(1, 10, { filter: "email = 'other@example.com'" });
    assert.equal(theirs.totalItems, 0);
  });
});

describe('saving rules', () => {
  test('a rule that does not compile against the schema is refused with the reason', async () => {
    const bad = [
      ['nope = 1', /unknown field "nope"/],
      ["title = 'x' &&", /end of filter/],
      ['@collection.missing.x = 1', /unknown collection/],
      ['title = views', /cannot compare/],
    ] as const;
    for (const [rule, message] of bad) {
      const res = await srv.request('POST', '/api/collections', {
        token: srv.adminToken,
        body: {
          name: 'badrule',
          type: 'base',
          listRule: rule,
          fields: [
            { name: 'title', type: 'text' },
            { name: 'views', type: 'number' },
          ],
        },
      });
      assert.equal(res.status, 400, rule);
      assert.equal(res.body.data.listRule?.code, 'validation_invalid_rule', rule);
      assert.match(res.body.data.listRule.message, message);
    }
    const ok = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'goodrule',
        type: 'base',
        listRule: "@request.auth.id != '' && title != ''",
        fields: [{ name: 'title', type: 'text' }],
      },
    });
    assert.equal(ok.status, 200);
    const drop = await srv.request('PATCH', '/api/collections/goodrule', {
      token: srv.adminToken,
      body: { fields: [] },
    });
    assert.equal(drop.status, 400, 'dropping a field a rule uses is refused');
  });
});

describe('client paths through collections with an expression list rule', () => {
  test('records the caller may not list act as missing on the path', async () => {
    const pb = srv.admin;
    const usersId = (await pb.collections.getOne('users')).id;
    const lockers = await pb.collections.create({
      name: 'lockers',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      fields: [
        { name: 'code', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
      ],
    });
    await pb.collections.create({
      name: 'keys',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'label', type: 'text' },
        { name: 'locker', type: 'relation', collectionId: lockers.id, maxSelect: 1 },
      ],
    });
    const annLocker = await pb.collection('lockers').create({ code: 'same', owner: users.ann!.id });
    const bobLocker = await pb.collection('lockers').create({ code: 'same', owner: users.bob!.id });
    await pb.collection('keys').create({ label: 'ann key', locker: annLocker.id });
    await pb.collection('keys').create({ label: 'bob key', locker: bobLocker.id });
    const asAnn = (filter: string, sort = 'label') =>
      call(
        'GET',
        `/api/collections/keys/records?filter=${encodeURIComponent(filter)}&sort=${sort}`,
        users.ann!.token,
      );
    const same = await asAnn("locker.code = 'same'");
    assert.deepEqual(
      same.body.items.map((k: Json) => k.label),
      ['ann key'],
    );
    const missing = await asAnn('locker.code = null');
    assert.deepEqual(
      missing.body.items.map((k: Json) => k.label),
      ['bob key'],
      "bob's locker acts as missing for ann",
    );
    const back = await call(
      'GET',
      `/api/collections/users/records?filter=${encodeURIComponent("lockers_via_owner.code ?= 'same'")}`,
      users.ann!.token,
    );
    assert.equal(back.status, 200);
    const sorted = await asAnn("label != ''", '-locker.code,label');
    assert.equal(sorted.status, 200);
  });
});
