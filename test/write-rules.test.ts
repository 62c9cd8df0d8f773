// Rules see what a write will store: modifiers resolved, hidden fields not writable by clients, and an auth
// id that another auth collection uses refused. Each class is tried in every form a client can shape.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

let srv: TestServer;
const people: Record<string, { id: string; token: string }> = {};

async function signUp(name: string, extra: Record<string, unknown> = {}) {
  const email = `${name}@example.com`;
  const res = await srv.request('POST', '/api/collections/users/records', {
    body: { email, password: 'pass-word-1', passwordConfirm: 'pass-word-1', ...extra },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const pb = new PocketBase(srv.url);
  await pb.collection('users').authWithPassword(email, 'pass-word-1');
  people[name] = { id: res.body.id, token: pb.authStore.token };
  return res.body;
}

const posts = (id = '') => `/api/collections/posts/records${id ? `/${id}` : ''}`;
const stored = (id: string) => srv.admin.collection('posts').getOne(id);

before(async () => {
  srv = await startServer();
  const usersId = (await srv.admin.collections.getOne('users')).id;
  // `role` is a visible field only managers should set; `is_mod` and `credits` are hidden fields rules trust.
  await srv.admin.collections.update('users', {
    createRule: '@request.body.role:isset = false',
    fields: [
      ...(await srv.admin.collections.getOne('users')).fields,
      { name: 'role', type: 'select', values: ['user', 'admin'], maxSelect: 1 },
      { name: 'is_mod', type: 'bool', hidden: true },
      { name: 'credits', type: 'number', hidden: true },
      { name: 'badges', type: 'select', values: ['a', 'b'], maxSelect: 2, hidden: true },
    ],
  });
  const guard = [
    "@request.body.role:isset = false && @request.body.status != 'published'",
    "(@request.body.n:isset = false || @request.body.n <= 10) && @request.body.tags:length <= 2 && @request.body.tags:each != 'c'",
  ].join(' && ');
  await srv.admin.collections.create({
    name: 'posts',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id || @request.auth.is_mod = true',
    createRule: `@request.auth.id != '' && owner = @request.auth.id && ${guard}`,
    updateRule: `owner = @request.auth.id && @request.body.owner:changed = false && ${guard}`,
    fields: [
      { name: 'title', type: 'text' },
      { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
      { name: 'role', type: 'select', values: ['user', 'admin'], maxSelect: 1 },
      { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'n', type: 'number' },
    ],
  });
  await signUp('ann');
  await signUp('bob');
});

after(async () => {
  await srv?.close();
});

describe('write modifiers are resolved before rules read @request.body', () => {
  // Each body tries to get past one part of the rule through a modifier; the rule must see the final value.
  const bypasses: Array<[string, (ann: string, bob: string) => Record<string, unknown>]> = [
    ['role+ (:isset)', () => ({ 'role+': 'admin' })],
    ['+role (:isset)', () => ({ '+role': 'admin' })],
    ['status+ (=)', () => ({ 'status+': 'published' })],
    ['+status (=)', () => ({ '+status': 'published' })],
    ['n+ past the bound (<=)', () => ({ 'n+': 50 })],
    ['n- with a negative step (<=)', () => ({ 'n-': -50 })],
    ['tags+ past the length (:length)', () => ({ 'tags+': ['a', 'b', 'c'] })],
    ['+tags with a banned item (:each)', () => ({ '+tags': 'c' })],
  ];

  for (const [name, body] of bypasses) {
    test(`create refuses ${name}`, async () => {
      const ann = people.ann!;
      const res = await srv.request('POST', posts(), {
        token: ann.token,
        body: { title: 'x', owner: ann.id, ...body(ann.id, people.bob!.id) },
      });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const left = await srv.admin.collection('posts').getFullList({ filter: `title = 'x'` });
      assert.equal(left.length, 0, 'nothing was stored');
    });

    test(`update refuses ${name}`, async () => {
      const ann = people.ann!;
      const post = await srv.admin.collection('posts').create({ title: 'u', owner: ann.id, n: 5 });
      const res = await srv.request('PATCH', posts(post.id), { token: ann.token, body: body(ann.id, '') });
      assert.equal(res.status, 404, JSON.stringify(res.body));
      const after = await stored(post.id);
      assert.deepEqual([after.role, after.status, after.n, after.tags], ['', '', 5, []]);
    });
  }

  test('owner+ cannot move a record to another user (:changed)', async () => {
    const ann = people.ann!;
    const post = await srv.admin.collection('posts').create({ title: 'o', owner: ann.id });
    const res = await srv.request('PATCH', posts(post.id), {
      token: ann.token,
      body: { 'owner+': people.bob!.id },
    });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    // On a single relation `+owner` prepends, and the last value stays: no change, so the rule allows it.
    const prepend = await srv.request('PATCH', posts(post.id), {
      token: ann.token,
      body: { '+owner': people.bob!.id },
    });
    assert.equal(prepend.status, 200, JSON.stringify(prepend.body));
    assert.equal((await stored(post.id)).owner, ann.id);
  });

  test('owner- cannot empty the owner of a record either', async () => {
    const ann = people.ann!;
    const post = await srv.admin.collection('posts').create({ title: 'o2', owner: ann.id });
    const res = await srv.request('PATCH', posts(post.id), { token: ann.token, body: { 'owner-': ann.id } });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    assert.equal((await stored(post.id)).owner, ann.id);
  });

  test('modifiers that keep within the rule still work (the rule sees the sum, not the step)', async () => {
    const ann = people.ann!;
    const post = await srv.admin
      .collection('posts')
      .create({ title: 'ok', owner: ann.id, n: 8, tags: ['a'] });
    const inc = await srv.request('PATCH', posts(post.id), {
      token: ann.token,
      body: { 'n+': 2, 'tags+': 'b' },
    });
    assert.equal(inc.status, 200, JSON.stringify(inc.body));
    assert.deepEqual([inc.body.n, inc.body.tags], [10, ['a', 'b']]);
    // 10 + 1 is past the bound although the step (1) is not.
    const over = await srv.request('PATCH', posts(post.id), { token: ann.token, body: { 'n+': 1 } });
    assert.equal(over.status, 404);
    const created = await srv.request('POST', posts(), {
      token: ann.token,
      body: { title: 'ok2', owner: ann.id, 'n+': 3, '+tags': 'a' },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual([created.body.n, created.body.tags], [3, ['a']]);
  });

  test('sign-up refuses role+ and +role where the create rule forbids role', async () => {
    for (const key of ['role+', '+role', 'role']) {
      const res = await srv.request('POST', '/api/collections/users/records', {
        body: {
          email: `r${key.length}${key[0] === '+' ? 'p' : 's'}@example.com`,
          password: 'pass-word-1',
          passwordConfirm: 'pass-word-1',
          [key]: 'admin',
        },
      });
      assert.equal(res.status, 400, `${key}: ${JSON.stringify(res.body)}`);
    }
  });
});

describe('hidden fields are not writable by clients', () => {
  test('a guest signing up cannot set a hidden field that rules trust', async () => {
    const user = await signUp('mallory', { is_mod: true, credits: 1000, 'credits+': 5, badges: ['a'] });
    assert.equal(user.is_mod, undefined, 'hidden fields are not returned');
    const row = await srv.admin.collection('users').getOne(user.id);
    assert.deepEqual([row.is_mod, row.credits, row.badges], [false, 0, []]);
    // The rule that trusts is_mod does not let mallory read ann's post.
    const post = await srv.admin.collection('posts').create({ title: 'private', owner: people.ann!.id });
    const res = await srv.request('GET', posts(post.id), { token: people.mallory!.token });
    assert.equal(res.status, 404);
  });

  test('a user cannot overwrite a hidden field on their own record, plainly or with modifiers', async () => {
    const ann = people.ann!;
    await srv.admin.collection('users').update(ann.id, { credits: 3 });
    for (const body of [
      { credits: 99 },
      { 'credits+': 99 },
      { 'credits-': -99 },
      { is_mod: true },
      { 'badges+': 'b' },
    ]) {
      const res = await srv.request('PATCH', `/api/collections/users/records/${ann.id}`, {
        token: ann.token,
        body,
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
    const row = await srv.admin.collection('users').getOne(ann.id);
    assert.deepEqual([row.is_mod, row.credits, row.badges], [false, 3, []]);
  });

  test('rules do not see hidden values a client sent', async () => {
    await srv.admin.collections.update('posts', {
      createRule:
        "@request.auth.id != '' && owner = @request.auth.id && @request.body.secretFlag:isset = false",
      fields: [
        ...(await srv.admin.collections.getOne('posts')).fields,
        { name: 'secretFlag', type: 'bool', hidden: true },
      ],
    });
    try {
      const ann = people.ann!;
      const res = await srv.request('POST', posts(), {
        token: ann.token,
        body: { title: 'h', owner: ann.id, secretFlag: true },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const row = await srv.admin.collection('posts').getOne(res.body.id);
      assert.equal(row.secretFlag, false);
    } finally {
      const c = await srv.admin.collections.getOne('posts');
      await srv.admin.collections.update('posts', {
        createRule: "@request.auth.id != '' && owner = @request.auth.id",
        fields: c.fields.filter((f: Json) => f.name !== 'secretFlag'),
      });
    }
  });

  test('superusers still write hidden fields, and users still set their password', async () => {
    const ann = people.ann!;
    const res = await srv.request('PATCH', `/api/collections/users/records/${ann.id}`, {
      token: srv.adminToken,
      body: { is_mod: true, 'credits+': 2 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const row = await srv.admin.collection('users').getOne(ann.id);
    assert.deepEqual([row.is_mod, row.credits], [true, 5]);
    const pw = await srv.request('PATCH', `/api/collections/users/records/${ann.id}`, {
      token: ann.token,
      body: { oldPassword: 'pass-word-1', password: 'pass-word-2', passwordConfirm: 'pass-word-2' },
    });
    assert.equal(pw.status, 200, JSON.stringify(pw.body));
    const pb = new PocketBase(srv.url);
    await pb.collection('users').authWithPassword('ann@example.com', 'pass-word-2');
    people.ann = { id: ann.id, token: pb.authStore.token };
  });
});

describe('one identity, one auth collection', () => {
  before(async () => {
    await srv.admin.collections.create({ name: 'partners', type: 'auth', createRule: '' });
  });

  test("an account in a second auth collection cannot take a user's id", async () => {
    const victim = people.bob!.id;
    const res = await srv.request('POST', '/api/collections/partners/records', {
      body: { id: victim, email: 'eve@example.com', password: 'pass-word-1', passwordConfirm: 'pass-word-1' },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.data.id.code, 'validation_invalid_auth_id');
    const list = await srv.admin.collection('partners').getFullList();
    assert.equal(list.length, 0);
  });

  test("nor a superuser's id, nor may a superuser create such an account", async () => {
    const su = (await srv.admin.collection('_superusers').getFullList())[0]!.id;
    const guest = await srv.request('POST', '/api/collections/partners/records', {
      body: { id: su, email: 'eve2@example.com', password: 'pass-word-1', passwordConfirm: 'pass-word-1' },
    });
    assert.equal(guest.body.data?.id?.code, 'validation_invalid_auth_id', JSON.stringify(guest.body));
    const admin = await srv.request('POST', '/api/collections/users/records', {
      token: srv.adminToken,
      body: { id: su, email: 'eve3@example.com', password: 'pass-word-1', passwordConfirm: 'pass-word-1' },
    });
    assert.equal(admin.body.data?.id?.code, 'validation_invalid_auth_id', JSON.stringify(admin.body));
  });

  test('a base collection may reuse an auth id (only auth identities must be unique)', async () => {
    const ann = people.ann!;
    await srv.admin.collections.create({
      name: 'free',
      createRule: '',
      fields: [{ name: 't', type: 'text' }],
    });
    const res = await srv.request('POST', '/api/collections/free/records', { body: { id: ann.id, t: 'x' } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test('a fresh id in a second auth collection is fine', async () => {
    const res = await srv.request('POST', '/api/collections/partners/records', {
      body: { email: 'pat@example.com', password: 'pass-word-1', passwordConfirm: 'pass-word-1' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });
});
