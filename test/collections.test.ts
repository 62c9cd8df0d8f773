import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import PocketBase, { ClientResponseError, type CollectionModel } from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let counter = 0;
/** A collection name no other test uses. */
const uniq = (prefix: string) => `${prefix}_${Date.now().toString(36)}${++counter}`;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked key by key.
type Body = Record<string, any>;

/** Awaits an SDK call that must fail; returns the error for further checks. */
async function sdkError(promise: Promise<unknown>, status: number): Promise<ClientResponseError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClientResponseError, `expected a ClientResponseError, got ${err}`);
    assert.equal(err.status, status, JSON.stringify(err.response));
    assertErrorShape(err.response, status);
    return err;
  }
  assert.fail(`expected HTTP ${status}, but the call succeeded`);
}

/** PocketBase's error JSON, with no internals leaked. */
function assertErrorShape(body: Body, status: number) {
  assert.equal(body.status, status);
  assert.equal(typeof body.message, 'string');
  assert.ok(body.message.length > 0);
  assert.equal(typeof body.data, 'object');
  assert.ok(body.data !== null);
  const text = JSON.stringify(body);
  assert.doesNotMatch(text, /SQLITE_[A-Z]|ERR_SQLITE|ALTER TABLE|CREATE TABLE|DROP TABLE|\bat .*\.ts:\d+/);
}

/** Creates a collection with the superuser client and returns the API's response. */
function create(body: Body): Promise<CollectionModel> {
  return server.admin.collections.create(body);
}

/** A raw superuser request that must fail validation; returns the error `data`. */
async function rejected(method: string, path: string, body: unknown, status = 400): Promise<Body> {
  const res = await server.request(method, path, { body, token: server.adminToken });
  assert.equal(res.status, status, JSON.stringify(res.body));
  assertErrorShape(res.body, status);
  return res.body.data;
}

const createRejected = (body: unknown) => rejected('POST', '/api/collections', body);

/** Every field type with some options set, as a client would send them. */
function allFieldTypes(relationTarget: string): Body[] {
  return [
    { name: 'title', type: 'text', required: true, max: 100, presentable: true },
    { name: 'body', type: 'editor' },
    { name: 'count', type: 'number', min: 0, onlyInt: true },
    { name: 'active', type: 'bool' },
    { name: 'contact', type: 'email', onlyDomains: ['example.com'] },
    { name: 'site', type: 'url' },
    { name: 'due', type: 'date' },
    { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
    { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    { name: 'attachment', type: 'file', maxSelect: 1 },
    { name: 'owner', type: 'relation', collectionId: relationTarget, maxSelect: 1 },
    { name: 'members', type: 'relation', collectionId: relationTarget, maxSelect: 5 },
    { name: 'meta', type: 'json' },
    { name: 'location', type: 'geoPoint' },
    { name: 'secret', type: 'password', hidden: true },
  ];
}

const COMMON_FIELD_KEYS = ['help', 'hidden', 'id', 'name', 'presentable', 'required', 'system', 'type'];
/** PocketBase's autodate fields have neither `help` nor `required` (core/field_autodate.go). */
const commonKeys = (type: string) =>
  type === 'autodate' ? COMMON_FIELD_KEYS.filter((k) => k !== 'help' && k !== 'required') : COMMON_FIELD_KEYS;
/** Type-specific option keys PocketBase serializes for each field type. */
const OPTION_KEYS: Record<string, string[]> = {
  text: ['autogeneratePattern', 'max', 'min', 'pattern', 'primaryKey'],
  editor: ['convertURLs', 'maxSize'],
  number: ['max', 'min', 'onlyInt'],
  bool: [],
  email: ['exceptDomains', 'onlyDomains'],
  url: ['exceptDomains', 'onlyDomains'],
  date: ['max', 'min'],
  autodate: ['onCreate', 'onUpdate'],
  select: ['maxSelect', 'values'],
  file: ['maxSelect', 'maxSize', 'mimeTypes', 'protected', 'thumbs'],
  relation: ['cascadeDelete', 'collectionId', 'maxSelect', 'minSelect'],
  json: ['maxSize'],
  geoPoint: [],
  password: ['cost', 'max', 'min', 'pattern'],
};

describe('collections API access', () => {
  let userToken: string;
  let targetName: string;

  before(async () => {
    targetName = uniq('access');
    await create({ name: targetName, type: 'base', fields: [{ name: 'title', type: 'text' }] });
    const email = `${uniq('user')}@example.com`;
    const pb = server.client();
    await pb
      .collection('users')
      .create({ email, password: 'user-password-1', passwordConfirm: 'user-password-1' });
    await pb.collection('users').authWithPassword(email, 'user-password-1');
    userToken = pb.authStore.token;
  });

  const routes = () =>
    [
      ['GET', '/api/collections', undefined],
      ['POST', '/api/collections', { name: uniq('nope'), type: 'base' }],
      ['GET', `/api/collections/${targetName}`, undefined],
      ['PATCH', `/api/collections/${targetName}`, { name: uniq('renamed') }],
      ['DELETE', `/api/collections/${targetName}`, undefined],
      ['PUT', '/api/collections/import', { collections: [{ name: uniq('imp'), type: 'base' }] }],
    ] as const;

  test('guests get 401 on every collections route', async () => {
    for (const [method, path, body] of routes()) {
      const res = await server.request(method, path, { body });
      assert.equal(res.status, 401, `${method} ${path}`);
      assertErrorShape(res.body, 401);
    }
  });

  test('an auth record that is not a superuser gets 403 on every collections route', async () => {
    for (const [method, path, body] of routes()) {
      const res = await server.request(method, path, { body, token: userToken });
      assert.equal(res.status, 403, `${method} ${path}`);
      assertErrorShape(res.body, 403);
    }
  });

  test('the SDK reports 401 and 403 for guests and plain users', async () => {
    await sdkError(server.client().collections.getFullList(), 401);
    const pb = server.client();
    pb.authStore.save(userToken, null);
    await sdkError(pb.collections.getOne(targetName), 403);
    await sdkError(pb.collections.create({ name: uniq('nope') }), 403);
  });

  test('an invalid token is treated as a guest', async () => {
    const res = await server.request('GET', '/api/collections', { token: 'not-a-jwt' });
    assert.equal(res.status, 401);
  });

  test('nothing was changed by the refused requests', async () => {
    const c = await server.admin.collections.getOne(targetName);
    assert.equal(c.name, targetName);
  });
});

describe('creating a base collection', () => {
  let target: CollectionModel;
  let created: CollectionModel;
  let name: string;

  before(async () => {
    target = await create({ name: uniq('targets'), type: 'base' });
    name = uniq('everything');
    created = await create({
      name,
      type: 'base',
      fields: allFieldTypes(target.id),
      listRule: '',
      viewRule: '',
      createRule: null,
      indexes: [`CREATE INDEX idx_${name}_title ON ${name} (title)`],
    });
  });

  test('the response has PocketBase collection shape', () => {
    assert.match(created.id, /^pbc_\d+$/);
    assert.equal(created.name, name);
    assert.equal(created.type, 'base');
    assert.equal(created.system, false);
    assert.equal(created.listRule, '');
    assert.equal(created.viewRule, '');
    assert.equal(created.createRule, null);
    assert.equal(created.updateRule, null);
    assert.equal(created.deleteRule, null);
    assert.ok(Array.isArray(created.indexes));
    assert.equal(created.indexes.length, 1);
    assert.match(
      created.indexes[0]!,
      new RegExp(`^CREATE INDEX \`idx_${name}_title\` ON \`${name}\` \\(\`title\`\\)$`),
    );
    assert.match(created.created, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(created.updated, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      Object.keys(created).sort(),
      [
        'created',
        'createRule',
        'deleteRule',
        'fields',
        'id',
        'indexes',
        'listRule',
        'name',
        'system',
        'type',
        'updated',
        'updateRule',
        'viewRule',
      ].sort(),
    );
  });

  test('the id field comes first and is a system text primary key', () => {
    const id = created.fields[0]!;
    assert.equal(id.name, 'id');
    assert.equal(id.type, 'text');
    assert.equal(id.system, true);
    assert.equal(id.required, true);
    assert.equal(id.primaryKey, true);
    assert.equal(id.pattern, '^[a-z0-9]+$');
    assert.equal(id.autogeneratePattern, '[a-z0-9]{15}');
    assert.equal(id.min, 15);
    assert.equal(id.max, 15);
    assert.equal(created.fields.filter((f) => f.name === 'id').length, 1);
  });

  test('every field has the common keys and its type options, with defaults filled in', () => {
    const sent = allFieldTypes(target.id);
    assert.equal(created.fields.length, sent.length + 1);
    for (const [i, input] of sent.entries()) {
      const f = created.fields[i + 1]!;
      assert.equal(f.name, input.name);
      assert.equal(f.type, input.type);
      assert.match(f.id, new RegExp(`^${input.type}\\d+$`), `id of ${f.name}`);
      assert.equal(f.system, false);
      for (const key of [...commonKeys(input.type), ...OPTION_KEYS[input.type]!]) {
        assert.ok(key in f, `${f.name} (${f.type}) lacks ${key}`);
      }
      assert.equal(typeof f.hidden, 'boolean');
      assert.equal(typeof f.presentable, 'boolean');
      if (input.type !== 'autodate') assert.equal(typeof f.required, 'boolean');
    }
    const by = (n: string) => created.fields.find((f) => f.name === n)!;
    assert.equal(by('title').required, true);
    assert.equal(by('title').presentable, true);
    assert.equal(by('title').max, 100);
    assert.equal(by('title').min, 0);
    assert.equal(by('title').pattern, '');
    assert.equal(by('body').convertURLs, false);
    assert.equal(by('count').onlyInt, true);
    assert.equal(by('count').min, 0);
    assert.equal(by('count').max, null);
    assert.deepEqual(by('contact').onlyDomains, ['example.com']);
    assert.equal(by('site').onlyDomains, null);
    assert.equal(by('due').min, '');
    assert.equal(by('updated').onUpdate, true);
    assert.equal(by('created').onUpdate, false);
    assert.deepEqual(by('status').values, ['draft', 'published']);
    assert.equal(by('status').maxSelect, 1);
    assert.equal(by('tags').maxSelect, 3);
    assert.equal(by('attachment').protected, false);
    assert.equal(by('owner').collectionId, target.id);
    assert.equal(by('owner').cascadeDelete, false);
    assert.equal(by('owner').minSelect, 0);
    assert.equal(by('members').maxSelect, 5);
    assert.equal(by('secret').hidden, true);
    assert.equal(by('secret').min, 8);
  });

  test('field ids are unique', () => {
    const ids = created.fields.map((f) => f.id);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('GET by name and by id return the same collection', async () => {
    const byName = await server.admin.collections.getOne(name);
    const byId = await server.admin.collections.getOne(created.id);
    assert.deepEqual(byName, created);
    assert.deepEqual(byId, created);
    const raw = await server.request('GET', `/api/collections/${created.id}`, { token: server.adminToken });
    assert.equal(raw.status, 200);
    assert.deepEqual(raw.body, created);
  });

  test('a collection name is looked up case-insensitively', async () => {
    const c = await server.admin.collections.getOne(name.toUpperCase());
    assert.equal(c.id, created.id);
  });

  test('an unknown collection is a 404', async () => {
    await sdkError(server.admin.collections.getOne('no_such_collection'), 404);
  });

  test('list includes the system collections and the new one', async () => {
    const all = await server.admin.collections.getFullList();
    const names = all.map((c) => c.name);
    assert.ok(names.includes('_superusers'));
    assert.ok(names.includes('users'));
    assert.ok(names.includes(name));
    assert.equal(all.find((c) => c.name === '_superusers')!.system, true);
    assert.equal(all.find((c) => c.name === '_superusers')!.id, 'pbc_3142635823');
    assert.equal(all.find((c) => c.name === '_superusers')!.type, 'auth');
    assert.deepEqual(
      all.find((c) => c.id === created.id),
      created,
    );
  });

  test('getList pages through collections with PocketBase list shape', async () => {
    const page = await server.admin.collections.getList(1, 2);
    assert.equal(page.page, 1);
    assert.equal(page.perPage, 2);
    assert.equal(page.items.length, 2);
    assert.ok(page.totalItems >= 4);
    assert.equal(page.totalPages, Math.ceil(page.totalItems / 2));
    const sorted = await server.admin.collections.getList(1, 500, { sort: '-name' });
    const names = sorted.items.map((c) => c.name);
    assert.deepEqual(names, [...names].sort().reverse());
    const skip = await server.admin.collections.getList(1, 1, { skipTotal: true });
    assert.equal(skip.totalItems, -1);
    assert.equal(skip.totalPages, -1);
  });

  test('collections created in the same millisecond come in id order, the same on every read', async () => {
    const made = [];
    for (const n of ['tie_c', 'tie_a', 'tie_e', 'tie_b', 'tie_d'])
      made.push(await server.admin.collections.create({ name: `${n}_${Date.now()}`, type: 'base' }));
    // The same creation time for all of them, as one import can give them (PostgreSQL then listed them in
    // any order: its sort is not stable).
    const q = server.app.db.dialect.quote;
    await server.app.db.run(
      server.app.db.kysely,
      `UPDATE ${q('_collections')} SET ${q('created')} = ? WHERE ${q('id')} IN (?, ?, ?, ?, ?)`,
      [made[0]!.created, ...made.map((c) => c.id)],
    );
    await server.app.collections.reload();
    const ids = new Set(made.map((c) => c.id));
    const expected = made.map((c) => c.id).sort();
    for (let i = 0; i < 5; i++) {
      const listed = (await server.admin.collections.getFullList()).filter((c) => ids.has(c.id));
      assert.deepEqual(
        listed.map((c) => c.id),
        expected,
      );
    }
    for (const c of made) await server.admin.collections.delete(c.id);
  });

  test('an unknown sort key for the list is a 400', async () => {
    await sdkError(server.admin.collections.getList(1, 10, { sort: 'listRule' }), 400);
  });

  test('records of every field type start out with their zero values', async () => {
    const rec = await server.admin.collection(name).create({ title: 'hello' });
    assert.equal(rec.collectionId, created.id);
    assert.equal(rec.collectionName, name);
    assert.equal(rec.body, '');
    assert.equal(rec.count, 0);
    assert.equal(rec.active, false);
    assert.equal(rec.contact, '');
    assert.equal(rec.due, '');
    assert.match(rec.created, /Z$/);
    assert.equal(rec.status, '');
    assert.deepEqual(rec.tags, []);
    assert.equal(rec.attachment, '');
    assert.equal(rec.owner, '');
    assert.deepEqual(rec.members, []);
    assert.equal(rec.meta, null);
    assert.deepEqual(rec.location, { lon: 0, lat: 0 });
    assert.ok(!('secret' in rec));
  });

  test('a collection without fields gets just the id field', async () => {
    const c = await create({ name: uniq('bare') });
    assert.equal(c.type, 'base');
    assert.deepEqual(
      c.fields.map((f) => f.name),
      ['id'],
    );
    assert.deepEqual(c.indexes, []);
  });

  test('the id field may be sent and customised; it stays a visible, required system primary key', async () => {
    const name = uniq('customid');
    const c = await create({
      name,
      listRule: '',
      createRule: '',
      fields: [
        { name: 'title', type: 'text' },
        {
          name: 'id',
          type: 'text',
          hidden: true,
          required: false,
          primaryKey: false,
          min: 3,
          max: 20,
          pattern: '^[a-z]+$',
          // Ids are generated from it: it must fit the pattern (`validation_invalid_autogenerate_pattern_value`).
          autogeneratePattern: '[a-z]{10}',
        },
      ],
    });
    // As in PocketBase, a client-placed id field keeps its position.
    assert.deepEqual(
      c.fields.map((f) => f.name),
      ['title', 'id'],
    );
    const id = c.fields.find((f) => f.name === 'id')!;
    assert.equal(id.id, 'text3208210256');
    assert.equal(id.system, true);
    assert.equal(id.hidden, false);
    assert.equal(id.required, true);
    assert.equal(id.primaryKey, true);
    assert.equal(id.max, 20);
    const rec = await server.client().collection(name).create({ id: 'custom', title: 't' });
    assert.equal(rec.id, 'custom');
    const list = await server.client().collection(name).getFullList();
    assert.deepEqual(
      list.map((r) => r.id),
      ['custom'],
    );
    await sdkError(server.admin.collection(name).create({ id: 'ab' }), 400);
    await sdkError(server.admin.collection(name).create({ id: 'has1digit' }), 400);
    const generated = await server.client().collection(name).create({ title: 'no id sent' });
    assert.match(generated.id, /^[a-z]{10}$/);
  });

  test('the id field cannot be given another type or be dropped', async () => {
    const data = await createRejected({ name: uniq('idtype'), fields: [{ name: 'id', type: 'number' }] });
    assert.ok(data.fields, JSON.stringify(data));
    const c = await create({ name: uniq('keepid'), fields: [{ name: 'title', type: 'text' }] });
    const updated = await server.admin.collections.update(c.id, {
      fields: c.fields.filter((f) => f.name !== 'id'),
    });
    assert.deepEqual(
      updated.fields.map((f) => f.name),
      ['id', 'title'],
    );
  });

  test('a client-chosen collection id is kept', async () => {
    const id = `pbc_${Date.now()}`;
    const c = await create({ id, name: uniq('chosenid') });
    assert.equal(c.id, id);
    const data = await createRejected({ id, name: uniq('chosenid') });
    assert.equal(data.id?.code, 'validation_invalid_or_existing_id');
  });
});

describe('creating an auth collection', () => {
  let created: CollectionModel;
  let name: string;

  before(async () => {
    name = uniq('members');
    created = await create({
      name,
      type: 'auth',
      fields: [{ name: 'nickname', type: 'text' }],
      createRule: '',
    });
  });

  test('system auth fields are added automatically', () => {
    const names = created.fields.map((f) => f.name);
    assert.equal(names[0], 'id');
    for (const sys of ['password', 'tokenKey', 'email', 'emailVisibility', 'verified']) {
      const f = created.fields.find((x) => x.name === sys);
      assert.ok(f, `missing ${sys}`);
      assert.equal(f.system, true, sys);
    }
    assert.ok(names.includes('nickname'));
    const by = (n: string) => created.fields.find((f) => f.name === n)!;
    assert.equal(by('password').type, 'password');
    assert.equal(by('password').hidden, true);
    assert.equal(by('tokenKey').hidden, true);
    assert.equal(by('email').type, 'email');
    assert.equal(by('emailVisibility').type, 'bool');
    assert.equal(by('verified').type, 'bool');
  });

  test('auth options are present with defaults', () => {
    const c = created as Body;
    assert.equal(c.type, 'auth');
    assert.equal(c.authRule, '');
    assert.equal(c.manageRule, null);
    assert.equal(c.passwordAuth.enabled, true);
    assert.deepEqual(c.passwordAuth.identityFields, ['email']);
    assert.equal(typeof c.authToken.duration, 'number');
    assert.ok(!('secret' in c.authToken), 'token secrets are never sent');
    for (const key of [
      'oauth2',
      'mfa',
      'otp',
      'authAlert',
      'passwordResetToken',
      'emailChangeToken',
      'verificationToken',
      'fileToken',
      'verificationTemplate',
      'resetPasswordTemplate',
      'confirmEmailChangeTemplate',
    ]) {
      assert.ok(key in c, `missing ${key}`);
    }
  });

  test('unique indexes on email and tokenKey exist', () => {
    const unique = created.indexes.filter((i) => i.startsWith('CREATE UNIQUE INDEX'));
    assert.ok(
      unique.some((i) => /\(`email`/.test(i)),
      JSON.stringify(created.indexes),
    );
    assert.ok(
      unique.some((i) => /\(`tokenKey`\)/.test(i)),
      JSON.stringify(created.indexes),
    );
  });

  test('a user can sign up with password and passwordConfirm and then sign in', async () => {
    const pb = server.client();
    const email = `${uniq('signup')}@example.com`;
    const rec = await pb
      .collection(name)
      .create({ email, password: 'secret-pass-1', passwordConfirm: 'secret-pass-1', nickname: 'nick' });
    assert.equal(rec.collectionName, name);
    assert.ok(!('password' in rec));
    assert.ok(!('tokenKey' in rec));
    const auth = await pb.collection(name).authWithPassword(email, 'secret-pass-1');
    assert.equal(auth.record.id, rec.id);
    assert.equal(auth.record.nickname, 'nick');
    assert.ok(pb.authStore.isValid);
    await sdkError(pb.collection(name).authWithPassword(email, 'wrong-password'), 400);
  });

  test('mismatching passwordConfirm is a 400 on passwordConfirm', async () => {
    const err = await sdkError(
      server
        .client()
        .collection(name)
        .create({
          email: `${uniq('x')}@example.com`,
          password: 'secret-pass-1',
          passwordConfirm: 'other-pass-1',
        }),
      400,
    );
    assert.ok(err.response.data.passwordConfirm);
  });

  test('the unique email index rejects a second sign-up with the same email', async () => {
    const email = `${uniq('dupe')}@example.com`;
    const pb = server.client();
    await pb.collection(name).create({ email, password: 'secret-pass-1', passwordConfirm: 'secret-pass-1' });
    const err = await sdkError(
      pb
        .collection(name)
        .create({ email: email.toUpperCase(), password: 'secret-pass-1', passwordConfirm: 'secret-pass-1' }),
      400,
    );
    assert.equal(err.response.data.email?.code, 'validation_not_unique');
  });

  test('the users system collection is an auth collection with the same system fields', async () => {
    const users = await server.admin.collections.getOne('users');
    assert.equal(users.type, 'auth');
    for (const sys of ['id', 'password', 'tokenKey', 'email', 'emailVisibility', 'verified'])
      assert.ok(
        users.fields.some((f) => f.name === sys),
        sys,
      );
  });

  test('auth options can be updated, and unknown option keys are ignored', async () => {
    const updated = (await server.admin.collections.update(name, {
      passwordAuth: { enabled: false },
      authToken: { duration: 1000 },
      somethingElse: { x: 1 },
    })) as Body;
    assert.equal(updated.passwordAuth.enabled, false);
    assert.deepEqual(updated.passwordAuth.identityFields, ['email']);
    assert.equal(updated.authToken.duration, 1000);
    assert.ok(!('somethingElse' in updated));
    const back = (await server.admin.collections.update(name, { passwordAuth: { enabled: true } })) as Body;
    assert.equal(back.passwordAuth.enabled, true);
  });

  test('system auth fields cannot be dropped or renamed', async () => {
    const fields = created.fields.filter((f) => f.name !== 'email');
    const c = await server.admin.collections.update(name, { fields });
    assert.ok(
      c.fields.some((f) => f.name === 'email' && f.system),
      'a left-out system field is kept',
    );
    const renamed = created.fields.map((f) => (f.name === 'email' ? { ...f, name: 'mail' } : f));
    const data = await rejected('PATCH', `/api/collections/${name}`, { fields: renamed });
    assert.ok(data.fields, JSON.stringify(data));
  });
});

describe('collection validation errors', () => {
  test('a missing name is a 400 on data.name', async () => {
    const data = await createRejected({ type: 'base' });
    assert.equal(data.name?.code, 'validation_required');
    assert.equal(typeof data.name.message, 'string');
  });

  test('an empty body or a non-object body is a 400', async () => {
    await createRejected({});
    await createRejected([]);
    const res = await server.request('POST', '/api/collections', {
      rawBody: '{"name":',
      token: server.adminToken,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 400);
    assertErrorShape(res.body, 400);
  });

  test('a duplicate name is a 400, compared case-insensitively', async () => {
    const name = uniq('dup');
    await create({ name });
    for (const n of [name, name.toUpperCase(), 'USERS', '_superusers']) {
      const data = await createRejected({ name: n });
      assert.ok(data.name, `${n}: ${JSON.stringify(data)}`);
    }
  });

  test('a name starting with _ is refused', async () => {
    const data = await createRejected({ name: '_private' });
    assert.ok(data.name);
  });

  test('names with invalid characters are refused', async () => {
    for (const n of [
      'with space',
      'dash-name',
      'dot.name',
      'quote"name',
      'semi;colon',
      'ünïcode',
      'a'.repeat(256),
    ]) {
      const data = await createRejected({ name: n });
      // PocketBase's codes: a name too long, then one not of letters, digits and _.
      const code = n.length > 63 ? 'validation_length_out_of_range' : 'validation_match_invalid';
      assert.equal(data.name?.code, code, n);
    }
    for (const n of [123, null, true, { a: 1 }]) {
      const data = await createRejected({ name: n });
      assert.ok(data.name, JSON.stringify(n));
    }
  });

  test('a name clashing with an existing table or index is refused', async () => {
    for (const name of [
      '_collections',
      'sqlite_master',
      'sqlite_sequence',
      'SQLITE_anything',
      'idx__collections_name',
    ]) {
      const data = await createRejected({ name });
      assert.ok(data.name, `${name}: ${JSON.stringify(data)}`);
    }
    // Tables and indexes share one namespace: a collection cannot take another collection's index name.
    const users = await server.admin.collections.getOne('users');
    const indexName = /INDEX `(\w+)`/.exec(users.indexes[0]!)![1]!;
    const data = await createRejected({ name: indexName });
    assert.ok(data.name, JSON.stringify(data));
  });

  test('an index cannot take the name of a table or of a reserved object', async () => {
    const name = uniq('idxns');
    const fields = [{ name: 'title', type: 'text' }];
    for (const indexName of ['users', '_collections', name, 'idx__collections_name', 'sqlite_autoindex_x']) {
      const data = await createRejected({
        name,
        fields,
        indexes: [`CREATE INDEX ${indexName} ON ${name} (title)`],
      });
      assert.ok(data.indexes?.['0'], `${indexName}: ${JSON.stringify(data)}`);
    }
    await create({ name, fields, indexes: [`CREATE INDEX idx_${name} ON ${name} (title)`] });
  });

  test('duplicate field names are refused (case-insensitively) at the second field', async () => {
    const data = await createRejected({
      name: uniq('dupfields'),
      fields: [
        { name: 'title', type: 'text' },
        { name: 'Title', type: 'number' },
      ],
    });
    // Keyed as PocketBase keys them: by the index in the final list, where the id field comes first.
    assert.equal(data.fields?.['2']?.name?.code, 'validation_duplicated_field_name');
    assert.ok(!data.fields['1']);
  });

  test('a field named like the id field is refused', async () => {
    const data = await createRejected({
      name: uniq('idclash'),
      fields: [{ name: 'ID', type: 'number' }],
    });
    assert.ok(data.fields, JSON.stringify(data));
  });

  test('field names containing _via_ are refused', async () => {
    const data = await createRejected({
      name: uniq('via'),
      fields: [
        { name: 'ok', type: 'text' },
        { name: 'posts_via_author', type: 'text' },
      ],
    });
    assert.equal(data.fields?.['2']?.name?.code, 'validation_found_via');
  });

  test('reserved field names are refused', async () => {
    for (const n of ['expand', 'collectionId', 'collectionName', 'EXPAND', '__proto__']) {
      const data = await createRejected({ name: uniq('reserved'), fields: [{ name: n, type: 'text' }] });
      assert.ok(data.fields?.['1']?.name, `${n}: ${JSON.stringify(data)}`);
    }
    // Auth request keys are reserved in auth collections only, as in PocketBase.
    for (const n of ['passwordConfirm', 'oldPassword']) {
      const data = await createRejected({
        name: uniq('reserved'),
        type: 'auth',
        fields: [{ name: n, type: 'text' }],
      });
      assert.equal(data.fields?.['1']?.name?.code, 'validation_reserved_field_name', n);
    }
  });

  test('invalid field names are refused', async () => {
    for (const n of ['', 'has space', 'a-b', 'x'.repeat(101)]) {
      const data = await createRejected({ name: uniq('badfield'), fields: [{ name: n, type: 'text' }] });
      assert.ok(data.fields?.['1']?.name, `${JSON.stringify(n)}: ${JSON.stringify(data)}`);
    }
  });

  test('an unknown or missing field type is refused', async () => {
    for (const type of ['varchar', '', undefined, 5, 'view']) {
      const data = await createRejected({ name: uniq('badtype'), fields: [{ name: 'x', type }] });
      assert.ok(data.fields?.['1']?.type, `${JSON.stringify(type)}: ${JSON.stringify(data)}`);
    }
  });

  test('fields that are not a list of objects are refused', async () => {
    for (const fields of ['text', { name: 'x', type: 'text' }, [null], [1], [['x']]]) {
      const data = await createRejected({ name: uniq('badfields'), fields });
      assert.ok(data.fields, JSON.stringify(fields));
    }
  });

  test('a select without values is refused', async () => {
    for (const values of [undefined, [], null, 'a,b', [1, 2]]) {
      const data = await createRejected({
        name: uniq('sel'),
        fields: [{ name: 'choice', type: 'select', values }],
      });
      assert.ok(data.fields?.['1']?.values, `${JSON.stringify(values)}: ${JSON.stringify(data)}`);
    }
  });

  test('a relation to a missing collection is refused', async () => {
    for (const collectionId of ['pbc_0000000000', '', undefined, 42]) {
      const data = await createRejected({
        name: uniq('rel'),
        fields: [{ name: 'link', type: 'relation', collectionId }],
      });
      assert.ok(data.fields?.['1']?.collectionId, JSON.stringify(data));
    }
  });

  test('an invalid regex pattern is refused', async () => {
    const data = await createRejected({
      name: uniq('regex'),
      fields: [{ name: 'code', type: 'text', pattern: '([a-z' }],
    });
    assert.ok(data.fields?.['1']?.pattern, JSON.stringify(data));
  });

  test('negative or fractional min/max/maxSelect options are refused', async () => {
    const cases: Body[] = [
      { name: 'f', type: 'text', min: -1 },
      { name: 'f', type: 'text', max: 1.5 },
      { name: 'f', type: 'select', values: ['a'], maxSelect: -2 },
      { name: 'f', type: 'editor', maxSize: -1 },
      { name: 'f', type: 'json', maxSize: 'big' },
      { name: 'f', type: 'number', min: 'zero' },
      { name: 'f', type: 'bool', required: true, presentable: true, hidden: false },
    ];
    for (const field of cases.slice(0, -1)) {
      const data = await createRejected({ name: uniq('opts'), fields: [field] });
      assert.ok(data.fields?.['1'], JSON.stringify({ field, data }));
    }
    // The last case is fine: a sanity check that the rejections above are about the options.
    await create({ name: uniq('opts'), fields: [cases.at(-1)] });
  });

  test('a bad date option is refused', async () => {
    const data = await createRejected({
      name: uniq('dates'),
      fields: [{ name: 'when', type: 'date', min: 'yesterday' }],
    });
    assert.ok(data.fields?.['1']?.min, JSON.stringify(data));
  });

  test('rules must be null or strings', async () => {
    for (const rule of [5, true, {}, []]) {
      const data = await createRejected({ name: uniq('rules'), listRule: rule });
      assert.ok(data.listRule, JSON.stringify(rule));
    }
  });

  test('an unknown type is refused (view collections: test/view-collections.test.ts)', async () => {
    for (const type of ['table', '', 5, null]) {
      const d = await createRejected({ name: uniq('kind'), type });
      assert.ok(d.type, JSON.stringify(type));
    }
  });

  test("a collection's type cannot be changed", async () => {
    const c = await create({ name: uniq('fixedtype'), type: 'base' });
    const data = await rejected('PATCH', `/api/collections/${c.id}`, { type: 'auth' });
    assert.ok(data.type);
    const users = await rejected('PATCH', '/api/collections/users', { type: 'base' });
    assert.ok(users.type);
    assert.equal((await server.admin.collections.getOne(c.id)).type, 'base');
  });

  test("a field's type cannot be changed", async () => {
    const c = await create({ name: uniq('fixedfield'), fields: [{ name: 'n', type: 'number' }] });
    const fields = c.fields.map((f) => (f.name === 'n' ? { ...f, type: 'text' } : f));
    const data = await rejected('PATCH', `/api/collections/${c.id}`, { fields });
    // PocketBase keys this error on the field itself (core/collection_validate.go ensureNoFieldsTypeChange).
    assert.equal(data.fields?.['1']?.code, 'validation_field_type_change', JSON.stringify(data));
    const after = await server.admin.collections.getOne(c.id);
    assert.equal(after.fields[1]!.type, 'number');
  });

  test("a relation field's target collection cannot be changed", async () => {
    const a = await create({ name: uniq('rela') });
    const b = await create({ name: uniq('relb') });
    const c = await create({
      name: uniq('relc'),
      fields: [{ name: 'link', type: 'relation', collectionId: a.id }],
    });
    const fields = c.fields.map((f) => (f.name === 'link' ? { ...f, collectionId: b.id } : f));
    const data = await rejected('PATCH', `/api/collections/${c.id}`, { fields });
    assert.equal(
      data.fields?.['1']?.collectionId?.code,
      'validation_field_relation_change',
      JSON.stringify(data),
    );
    // Matched by name too, when the field id is left out (the left-out id field is put back first).
    const byName = await rejected('PATCH', `/api/collections/${c.id}`, {
      fields: [{ name: 'link', type: 'relation', collectionId: b.id }],
    });
    assert.ok(byName.fields?.['1']?.collectionId, JSON.stringify(byName));
    const after = await server.admin.collections.getOne(c.id);
    assert.equal(after.fields[1]!.collectionId, a.id);
  });

  test('several errors are reported together', async () => {
    const data = await createRejected({
      name: 'bad name',
      listRule: 7,
      fields: [
        { name: 'b', type: 'text' },
        { name: 'b', type: 'text' },
      ],
    });
    assert.ok(data.name);
    assert.ok(data.listRule);
    assert.ok(data.fields['2']);
    assert.ok(!data.fields['1']);
  });

  test('system collections cannot be renamed', async () => {
    const data = await rejected('PATCH', '/api/collections/_superusers', { name: 'admins' });
    assert.ok(data.name);
  });

  test('updating a missing collection is a 404', async () => {
    await sdkError(server.admin.collections.update('missing_collection_x', { listRule: '' }), 404);
  });

  test('a failed create leaves no table behind', async () => {
    const name = uniq('ghost');
    await createRejected({ name, fields: [{ name: 'x', type: 'nope' }] });
    await sdkError(server.admin.collections.getOne(name), 404);
    const res = await server.request('GET', `/api/collections/${name}/records`);
    assert.equal(res.status, 404);
    await create({ name });
  });
});

describe('table sync with data', () => {
  test('renaming a collection keeps its records under the new name', async () => {
    const oldName = uniq('books');
    const c = await create({
      name: oldName,
      listRule: '',
      viewRule: '',
      fields: [{ name: 'title', type: 'text' }],
    });
    const rec = await server.admin.collection(oldName).create({ title: 'Dune' });
    const newName = uniq('novels');
    const renamed = await server.admin.collections.update(oldName, { name: newName });
    assert.equal(renamed.id, c.id);
    assert.equal(renamed.name, newName);
    assert.equal(renamed.created, c.created);
    const got = await server.admin.collection(newName).getOne(rec.id);
    assert.equal(got.title, 'Dune');
    assert.equal(got.collectionName, newName);
    assert.equal((await server.admin.collection(c.id).getOne(rec.id)).title, 'Dune');
    await sdkError(server.admin.collection(oldName).getOne(rec.id), 404);
    await sdkError(server.admin.collection(oldName).getList(), 404);
    await sdkError(server.admin.collections.getOne(oldName), 404);
    // The old name is free again.
    const again = await create({ name: oldName });
    assert.notEqual(again.id, c.id);
  });

  test('a collection can be renamed to a different case of its name', async () => {
    const name = uniq('casing');
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'kept' });
    const upper = name.toUpperCase();
    const renamed = await server.admin.collections.update(c.id, { name: upper });
    assert.equal(renamed.name, upper);
    assert.equal((await server.admin.collections.getOne(c.id)).name, upper);
    assert.equal((await server.admin.collection(upper).getOne(rec.id)).title, 'kept');
    const created = await server.admin.collection(c.id).create({ title: 'new' });
    assert.equal(created.collectionName, upper);
  });

  test('a field can be renamed to a different case of its name', async () => {
    const name = uniq('fieldcase');
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'kept' });
    await server.admin.collections.update(c.id, {
      fields: c.fields.map((f) => (f.name === 'title' ? { ...f, name: 'Title' } : f)),
    });
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.Title, 'kept');
    assert.ok(!('title' in got));
  });

  test('renaming a collection keeps its indexes working', async () => {
    const oldName = uniq('uniqrename');
    await create({
      name: oldName,
      fields: [{ name: 'code', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${oldName}_code ON ${oldName} (code)`],
    });
    await server.admin.collection(oldName).create({ code: 'x' });
    const newName = uniq('uniqrenamed');
    const renamed = await server.admin.collections.update(oldName, { name: newName });
    assert.match(renamed.indexes[0]!, new RegExp(`ON \`${newName}\``));
    const err = await sdkError(server.admin.collection(newName).create({ code: 'x' }), 400);
    assert.equal(err.response.data.code?.code, 'validation_not_unique');
  });

  test('an added field gives existing records its zero value', async () => {
    const name = uniq('grow');
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'first' });
    const updated = await server.admin.collections.update(name, {
      fields: [
        ...c.fields,
        { name: 'score', type: 'number' },
        { name: 'done', type: 'bool' },
        { name: 'labels', type: 'select', values: ['x', 'y'], maxSelect: 2 },
        { name: 'note', type: 'text' },
        { name: 'extra', type: 'json' },
        { name: 'place', type: 'geoPoint' },
      ],
    });
    assert.equal(updated.fields.length, 8);
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.title, 'first');
    assert.equal(got.score, 0);
    assert.equal(got.done, false);
    assert.deepEqual(got.labels, []);
    assert.equal(got.note, '');
    assert.equal(got.extra, null);
    assert.deepEqual(got.place, { lon: 0, lat: 0 });
    const next = await server.admin
      .collection(name)
      .create({ title: 'second', score: 5, labels: ['x', 'y'] });
    assert.equal(next.score, 5);
    assert.deepEqual(next.labels, ['x', 'y']);
  });

  test('a field renamed by keeping its id keeps its data under the new name', async () => {
    const name = uniq('renamefield');
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'kept' });
    const titleField = c.fields.find((f) => f.name === 'title')!;
    const updated = await server.admin.collections.update(name, {
      fields: [c.fields[0], { ...titleField, name: 'headline' }],
    });
    assert.equal(updated.fields[1]!.id, titleField.id);
    assert.equal(updated.fields[1]!.name, 'headline');
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.headline, 'kept');
    assert.ok(!('title' in got));
    // Writes go to the new column too.
    const next = await server.admin.collection(name).create({ headline: 'new', title: 'ignored' });
    assert.equal(next.headline, 'new');
  });

  test('a field sent without its id but with its name is the same field', async () => {
    const name = uniq('byname');
    await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'kept' });
    await server.admin.collections.update(name, { fields: [{ name: 'title', type: 'text', max: 50 }] });
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.title, 'kept');
  });

  test('a dropped field is gone from records', async () => {
    const name = uniq('shrink');
    const c = await create({
      name,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'obsolete', type: 'text' },
      ],
    });
    const rec = await server.admin.collection(name).create({ title: 't', obsolete: 'o' });
    await server.admin.collections.update(name, { fields: c.fields.filter((f) => f.name !== 'obsolete') });
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.title, 't');
    assert.ok(!('obsolete' in got));
    const list = await server.admin.collection(name).getFullList();
    assert.ok(list.every((r) => !('obsolete' in r)));
    // A field added again under the old name is a new, empty column.
    await server.admin.collections.update(name, {
      fields: [...c.fields.filter((f) => f.name !== 'obsolete'), { name: 'obsolete', type: 'text' }],
    });
    assert.equal((await server.admin.collection(name).getOne(rec.id)).obsolete, '');
  });

  test('a dropped field that was in an index needs the index dropped too', async () => {
    const name = uniq('idxdrop');
    const c = await create({
      name,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'code', type: 'text' },
      ],
      indexes: [`CREATE INDEX idx_${name}_code ON ${name} (code)`],
    });
    const data = await rejected('PATCH', `/api/collections/${name}`, {
      fields: c.fields.filter((f) => f.name !== 'code'),
    });
    assert.ok(data.indexes, JSON.stringify(data));
    const ok = await server.admin.collections.update(name, {
      fields: c.fields.filter((f) => f.name !== 'code'),
      indexes: [],
    });
    assert.deepEqual(
      ok.fields.map((f) => f.name),
      ['id', 'title'],
    );
  });

  test('a select switched from single to multi turns values into lists, and back', async () => {
    const name = uniq('switch');
    const c = await create({
      name,
      fields: [{ name: 'color', type: 'select', values: ['red', 'green', 'blue'], maxSelect: 1 }],
    });
    const withValue = await server.admin.collection(name).create({ color: 'red' });
    const empty = await server.admin.collection(name).create({});
    assert.equal(withValue.color, 'red');
    assert.equal(empty.color, '');

    const multi = c.fields.map((f) => (f.name === 'color' ? { ...f, maxSelect: 3 } : f));
    await server.admin.collections.update(name, { fields: multi });
    assert.deepEqual((await server.admin.collection(name).getOne(withValue.id)).color, ['red']);
    assert.deepEqual((await server.admin.collection(name).getOne(empty.id)).color, []);
    await server.admin.collection(name).update(withValue.id, { 'color+': ['green', 'blue'] });
    assert.deepEqual((await server.admin.collection(name).getOne(withValue.id)).color, [
      'red',
      'green',
      'blue',
    ]);

    const single = c.fields.map((f) => (f.name === 'color' ? { ...f, maxSelect: 1 } : f));
    await server.admin.collections.update(name, { fields: single });
    // Back to one value: the last one is kept.
    assert.equal((await server.admin.collection(name).getOne(withValue.id)).color, 'blue');
    assert.equal((await server.admin.collection(name).getOne(empty.id)).color, '');
  });

  test('a relation switched from single to multi keeps its ids', async () => {
    const target = await create({ name: uniq('reltarget') });
    const t1 = await server.admin.collection(target.id).create({});
    const name = uniq('relswitch');
    const c = await create({
      name,
      fields: [{ name: 'link', type: 'relation', collectionId: target.id, maxSelect: 1 }],
    });
    const rec = await server.admin.collection(name).create({ link: t1.id });
    await server.admin.collections.update(name, {
      fields: c.fields.map((f) => (f.name === 'link' ? { ...f, maxSelect: 10 } : f)),
    });
    assert.deepEqual((await server.admin.collection(name).getOne(rec.id)).link, [t1.id]);
  });

  test('two fields can swap names in one update', async () => {
    const name = uniq('swap');
    const c = await create({
      name,
      fields: [
        { name: 'first', type: 'text' },
        { name: 'second', type: 'text' },
      ],
    });
    const rec = await server.admin.collection(name).create({ first: 'one', second: 'two' });
    const [id, a, b] = c.fields;
    const updated = await server.admin.collections.update(name, {
      fields: [id, { ...a, name: 'second' }, { ...b, name: 'first' }],
    });
    assert.equal(updated.fields.find((f) => f.name === 'second')!.id, a!.id);
    const got = await server.admin.collection(name).getOne(rec.id);
    assert.equal(got.second, 'one');
    assert.equal(got.first, 'two');
  });

  test('rename, add and drop in one update', async () => {
    const name = uniq('combo');
    const c = await create({
      name,
      fields: [
        { name: 'a', type: 'text' },
        { name: 'b', type: 'number' },
        { name: 'c', type: 'bool' },
      ],
    });
    const rec = await server.admin.collection(name).create({ a: 'x', b: 2, c: true });
    const [id, a, , cField] = c.fields;
    const newName = uniq('combo2');
    await server.admin.collections.update(name, {
      name: newName,
      fields: [id, { ...cField, name: 'b' }, { ...a, name: 'alpha' }, { name: 'd', type: 'text' }],
    });
    const got = await server.admin.collection(newName).getOne(rec.id);
    assert.equal(got.alpha, 'x');
    assert.equal(got.b, true);
    assert.equal(got.d, '');
    assert.ok(!('a' in got) && !('c' in got));
  });

  test('updating only rules leaves fields and data alone', async () => {
    const name = uniq('rulesonly');
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const rec = await server.admin.collection(name).create({ title: 'same' });
    const updated = await server.admin.collections.update(name, { listRule: '', viewRule: '' });
    assert.deepEqual(updated.fields, c.fields);
    assert.equal(updated.listRule, '');
    assert.ok(updated.updated >= c.updated);
    const pub = await server.client().collection(name).getOne(rec.id);
    assert.equal(pub.title, 'same');
    await server.admin.collections.update(name, { viewRule: null });
    await sdkError(server.client().collection(name).getOne(rec.id), 403);
  });
});

describe('indexes', () => {
  test('a unique index rejects a duplicate value with validation_not_unique on that field', async () => {
    const name = uniq('uniq');
    const c = await create({
      name,
      fields: [
        { name: 'slug', type: 'text' },
        { name: 'title', type: 'text' },
      ],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_slug ON ${name} (slug)`],
    });
    assert.equal(c.indexes.length, 1);
    assert.match(c.indexes[0]!, /^CREATE UNIQUE INDEX/);
    const first = await server.admin.collection(name).create({ slug: 'hello', title: 'a' });
    const err = await sdkError(server.admin.collection(name).create({ slug: 'hello', title: 'b' }), 400);
    assert.equal(err.response.data.slug?.code, 'validation_not_unique');
    const second = await server.admin.collection(name).create({ slug: 'other' });
    const err2 = await sdkError(server.admin.collection(name).update(second.id, { slug: 'hello' }), 400);
    assert.equal(err2.response.data.slug?.code, 'validation_not_unique');
    await server.admin.collection(name).update(first.id, { slug: 'hello', title: 'same slug is fine' });
  });

  test('a unique index over several columns and with COLLATE NOCASE', async () => {
    const name = uniq('multi');
    await create({
      name,
      fields: [
        { name: 'a', type: 'text' },
        { name: 'b', type: 'text' },
      ],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_ab ON ${name} (a COLLATE NOCASE, b DESC)`],
    });
    await server.admin.collection(name).create({ a: 'x', b: '1' });
    await server.admin.collection(name).create({ a: 'x', b: '2' });
    const err = await sdkError(server.admin.collection(name).create({ a: 'X', b: '1' }), 400);
    assert.ok(err.response.data.a || err.response.data.b, JSON.stringify(err.response));
  });

  test('a partial unique index only constrains matching rows', async () => {
    const name = uniq('partial');
    await create({
      name,
      fields: [{ name: 'code', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_code ON ${name} (code) WHERE code != ''`],
    });
    await server.admin.collection(name).create({});
    await server.admin.collection(name).create({});
    await server.admin.collection(name).create({ code: 'a' });
    await sdkError(server.admin.collection(name).create({ code: 'a' }), 400);
  });

  test('adding a unique index over duplicate data is a 400 and leaves the collection unchanged', async () => {
    const name = uniq('dupdata');
    const c = await create({
      name,
      fields: [
        { name: 'slug', type: 'text' },
        { name: 'title', type: 'text' },
      ],
    });
    const r1 = await server.admin.collection(name).create({ slug: 'same', title: 'one' });
    const r2 = await server.admin.collection(name).create({ slug: 'same', title: 'two' });
    const data = await rejected('PATCH', `/api/collections/${name}`, {
      name: uniq('dupdata_renamed'),
      fields: [...c.fields, { name: 'added', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_slug ON ${name} (slug)`],
    });
    assert.ok(data.indexes, JSON.stringify(data));
    const after = await server.admin.collections.getOne(c.id);
    assert.deepEqual(after, c);
    const records = await server.admin.collection(name).getFullList({ sort: 'title' });
    assert.deepEqual(
      records.map((r) => [r.id, r.slug, r.title, 'added' in r]),
      [
        [r1.id, 'same', 'one', false],
        [r2.id, 'same', 'two', false],
      ],
    );
    // The table is really unchanged: a write with the old layout works, and no unique index exists.
    await server.admin.collection(name).create({ slug: 'same', title: 'three' });
    // The index name was not left behind either: it can be created once the data allows it.
    await server.admin.collection(name).update(r2.id, { slug: 'other' });
    const all = await server.admin.collection(name).getFullList();
    for (const [i, r] of all.entries()) await server.admin.collection(name).update(r.id, { slug: `s${i}` });
    const ok = await server.admin.collections.update(name, {
      indexes: [`CREATE UNIQUE INDEX idx_${name}_slug ON ${name} (slug)`],
    });
    assert.equal(ok.indexes.length, 1);
  });

  test('an index on an unknown column is a 400', async () => {
    const name = uniq('badcol');
    const data = await createRejected({
      name,
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE INDEX idx_${name}_x ON ${name} (nope)`],
    });
    assert.ok(data.indexes?.['0'], JSON.stringify(data));
    const c = await create({ name, fields: [{ name: 'title', type: 'text' }] });
    const upd = await rejected('PATCH', `/api/collections/${c.id}`, {
      indexes: [
        `CREATE INDEX idx_${name}_x ON ${name} (title)`,
        `CREATE INDEX idx_${name}_y ON ${name} (missing)`,
      ],
    });
    assert.ok(upd.indexes?.['1'], JSON.stringify(upd));
    assert.ok(!upd.indexes['0']);
    assert.deepEqual((await server.admin.collections.getOne(c.id)).indexes, []);
  });

  test('malformed or unsafe index definitions are a 400', async () => {
    const name = uniq('badidx');
    const bad = [
      'nonsense',
      `CREATE TABLE x (a)`,
      `CREATE INDEX ON ${name} (title)`,
      `CREATE INDEX idx_${name}_e ON ${name} (lower(title))`,
      `CREATE INDEX idx_${name}_f ON ${name} (title); DROP TABLE users`,
      `CREATE INDEX idx_${name}_g ON ${name} (title) WHERE 1=1 OR title = ''`,
      `CREATE INDEX idx_${name}_h ON ${name} (title COLLATE BINARY)`,
      5,
    ];
    for (const index of bad) {
      const data = await createRejected({
        name,
        fields: [{ name: 'title', type: 'text' }],
        indexes: [index],
      });
      assert.ok(data.indexes, JSON.stringify({ index, data }));
    }
    const data = await createRejected({ name, fields: [{ name: 'title', type: 'text' }], indexes: 'nope' });
    assert.ok(data.indexes);
    const users = await server.admin.collections.getOne('users');
    assert.ok(users, 'the users table survived');
  });

  test('index names must be unique within and across collections', async () => {
    const a = uniq('idxa');
    const shared = `idx_shared_${a}`;
    await create({
      name: a,
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE INDEX ${shared} ON ${a} (title)`],
    });
    const b = uniq('idxb');
    const data = await createRejected({
      name: b,
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE INDEX ${shared} ON ${b} (title)`],
    });
    assert.ok(data.indexes?.['0'], JSON.stringify(data));
    const data2 = await createRejected({
      name: b,
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE INDEX idx_${b}_1 ON ${b} (title)`, `CREATE INDEX IDX_${b}_1 ON ${b} (id)`],
    });
    assert.ok(data2.indexes?.['1'], JSON.stringify(data2));
    // Index names are compared case-insensitively, as SQLite does.
    const data3 = await createRejected({
      name: b,
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE INDEX ${shared.toUpperCase()} ON ${b} (title)`],
    });
    assert.ok(data3.indexes?.['0'], JSON.stringify(data3));
  });

  test('indexes can be dropped and changed by an update', async () => {
    const name = uniq('idxchange');
    const c = await create({
      name,
      fields: [{ name: 'code', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_code ON ${name} (code)`],
    });
    await server.admin.collection(name).create({ code: 'a' });
    await sdkError(server.admin.collection(name).create({ code: 'a' }), 400);
    await server.admin.collections.update(c.id, {
      indexes: [`CREATE INDEX idx_${name}_code ON ${name} (code)`],
    });
    await server.admin.collection(name).create({ code: 'a' });
    const cleared = await server.admin.collections.update(c.id, { indexes: [] });
    assert.deepEqual(cleared.indexes, []);
  });
});

describe('deleting collections', () => {
  test('_superusers cannot be deleted', async () => {
    const err = await sdkError(server.admin.collections.delete('_superusers'), 400);
    assert.match(err.response.message, /system/i);
    assert.ok(await server.admin.collections.getOne('_superusers'));
  });

  test('a collection referenced by a relation in another collection cannot be deleted', async () => {
    const target = await create({ name: uniq('referenced') });
    const source = await create({
      name: uniq('referrer'),
      fields: [{ name: 'ref', type: 'relation', collectionId: target.id }],
    });
    await sdkError(server.admin.collections.delete(target.id), 400);
    assert.ok(await server.admin.collections.getOne(target.id));
    // Once the relation field is dropped, the delete works.
    await server.admin.collections.update(source.id, {
      fields: source.fields.filter((f) => f.name !== 'ref'),
    });
    assert.equal(await server.admin.collections.delete(target.id), true);
  });

  test('a collection with a relation to itself can be deleted', async () => {
    const id = `pbc_${Date.now()}7`;
    const name = uniq('tree');
    await create({ id, name, fields: [{ name: 'parent', type: 'relation', collectionId: id }] });
    const root = await server.admin.collection(name).create({});
    await server.admin.collection(name).create({ parent: root.id });
    assert.equal(await server.admin.collections.delete(name), true);
    await sdkError(server.admin.collections.getOne(id), 404);
  });

  test('deleting a collection drops its table: 204, then its records route is a 404', async () => {
    const name = uniq('doomed');
    const c = await create({ name, listRule: '', fields: [{ name: 'title', type: 'text' }] });
    await server.admin.collection(name).create({ title: 'x' });
    const res = await server.request('DELETE', `/api/collections/${c.id}`, { token: server.adminToken });
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    const records = await server.request('GET', `/api/collections/${name}/records`, {
      token: server.adminToken,
    });
    assert.equal(records.status, 404);
    assertErrorShape(records.body, 404);
    await sdkError(server.admin.collections.getOne(c.id), 404);
    await sdkError(server.admin.collections.delete(c.id), 404);
    // The name is free, and the new table starts empty.
    await create({ name, fields: [{ name: 'title', type: 'text' }] });
    assert.equal((await server.admin.collection(name).getFullList()).length, 0);
  });

  test('the users collection is not a system collection (it is deleted at the end of this file)', async () => {
    const users = await server.admin.collections.getOne('users');
    assert.equal(users.system, false);
    assert.equal(users.id, '_pb_users_auth_');
  });
});

describe('importing collections', () => {
  test('import creates collections whose relations point at each other', async () => {
    const authors = { id: `pbc_${Date.now()}1`, name: uniq('authors') };
    const posts = { id: `pbc_${Date.now()}2`, name: uniq('posts') };
    await server.admin.collections.import(
      [
        {
          ...posts,
          type: 'base',
          listRule: '',
          fields: [
            { name: 'title', type: 'text', required: true },
            { name: 'author', type: 'relation', collectionId: authors.id, maxSelect: 1 },
          ],
        },
        {
          ...authors,
          type: 'base',
          fields: [
            { name: 'name', type: 'text' },
            { name: 'favourite', type: 'relation', collectionId: posts.id, maxSelect: 1 },
          ],
          indexes: [`CREATE INDEX idx_${authors.name}_name ON ${authors.name} (name)`],
        },
      ] as unknown as CollectionModel[],
      false,
    );
    const p = await server.admin.collections.getOne(posts.id);
    const a = await server.admin.collections.getOne(authors.name);
    assert.equal(p.name, posts.name);
    assert.equal(a.id, authors.id);
    assert.equal(p.fields[0]!.name, 'id');
    assert.equal(p.fields.find((f) => f.name === 'author')!.collectionId, authors.id);
    assert.equal(a.indexes.length, 1);
    const author = await server.admin.collection(authors.id).create({ name: 'Ann' });
    const post = await server.admin.collection(posts.id).create({ title: 'Hi', author: author.id });
    await server.admin.collection(authors.id).update(author.id, { favourite: post.id });
    const err = await sdkError(
      server.admin.collection(posts.id).create({ title: 'x', author: 'nosuchid1234567' }),
      400,
    );
    assert.ok(err.response.data.author);
  });

  test('re-importing updates collections by id, keeping their data', async () => {
    const id = `pbc_${Date.now()}3`;
    const name = uniq('reimport');
    await server.admin.collections.import(
      [{ id, name, type: 'base', fields: [{ name: 'title', type: 'text' }] }] as unknown as CollectionModel[],
      false,
    );
    const before = await server.admin.collections.getOne(id);
    const rec = await server.admin.collection(id).create({ title: 'kept' });
    const newName = uniq('reimported');
    const titleField = before.fields.find((f) => f.name === 'title')!;
    await server.admin.collections.import(
      [
        {
          ...before,
          name: newName,
          listRule: '',
          fields: [
            ...before.fields.map((f) => (f.id === titleField.id ? { ...f, name: 'headline' } : f)),
            { name: 'extra', type: 'number' },
          ],
        },
      ] as unknown as CollectionModel[],
      false,
    );
    const after = await server.admin.collections.getOne(id);
    assert.equal(after.name, newName);
    assert.equal(after.listRule, '');
    assert.equal(after.created, before.created);
    const got = await server.admin.collection(newName).getOne(rec.id);
    assert.equal(got.headline, 'kept');
    assert.equal(got.extra, 0);
    await sdkError(server.admin.collections.getOne(name), 404);
  });

  test('an invalid item is a 400 with data.collections and nothing is changed', async () => {
    const existing = await create({ name: uniq('untouched'), fields: [{ name: 'title', type: 'text' }] });
    const fresh = uniq('never');
    const before = await server.admin.collections.getFullList();
    const res = await server.request('PUT', '/api/collections/import', {
      token: server.adminToken,
      body: {
        collections: [
          { name: fresh, type: 'base' },
          { ...existing, name: uniq('changed') },
          { name: uniq('broken'), type: 'base', fields: [{ name: 'x', type: 'nope' }] },
        ],
        deleteMissing: true,
      },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assertErrorShape(res.body, 400);
    assert.ok(res.body.data.collections, JSON.stringify(res.body));
    const after = await server.admin.collections.getFullList();
    assert.deepEqual(after, before);
    await sdkError(server.admin.collections.getOne(fresh), 404);
  });

  test('a malformed import body is a 400', async () => {
    for (const body of [
      {},
      { collections: [] },
      { collections: 'x' },
      { collections: [5] },
      [],
      { collections: [null] },
    ]) {
      const res = await server.request('PUT', '/api/collections/import', { token: server.adminToken, body });
      assert.equal(res.status, 400, JSON.stringify({ body, res: res.body }));
      assertErrorShape(res.body, 400);
    }
  });

  test('an import with two collections of the same name is a 400', async () => {
    const name = uniq('twins');
    const res = await server.request('PUT', '/api/collections/import', {
      token: server.adminToken,
      body: { collections: [{ name }, { name: name.toUpperCase() }] },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.data.collections);
    await sdkError(server.admin.collections.getOne(name), 404);
  });

  test('an import that changes a field type is a 400', async () => {
    const c = await create({ name: uniq('imptype'), fields: [{ name: 'n', type: 'number' }] });
    const res = await server.request('PUT', '/api/collections/import', {
      token: server.adminToken,
      body: {
        collections: [{ ...c, fields: c.fields.map((f) => (f.name === 'n' ? { ...f, type: 'text' } : f)) }],
      },
    });
    assert.equal(res.status, 400);
    assert.ok(res.body.data.collections);
  });

  test('deleteMissing cannot drop a collection that a kept collection still references', async () => {
    const target = await create({ name: uniq('keptref') });
    const source = await create({
      name: uniq('keptsrc'),
      fields: [{ name: 'ref', type: 'relation', collectionId: target.id }],
    });
    const all = await server.admin.collections.getFullList();
    const res = await server.request('PUT', '/api/collections/import', {
      token: server.adminToken,
      body: { collections: all.filter((c) => c.id !== target.id), deleteMissing: true },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.data.collections);
    assert.ok(await server.admin.collections.getOne(target.id));
    assert.ok(await server.admin.collections.getOne(source.id));
  });

  test("with deleteMissing, a deleted collection's name can be reused in the same import", async () => {
    const old = await create({ name: uniq('reused'), fields: [{ name: 'title', type: 'text' }] });
    await server.admin.collection(old.id).create({ title: 'old data' });
    const all = await server.admin.collections.getFullList();
    const newId = `pbc_${Date.now()}9`;
    await server.admin.collections.import(
      [
        ...all.filter((c) => c.id !== old.id),
        { id: newId, name: old.name, type: 'base', fields: [{ name: 'body', type: 'editor' }] },
      ] as unknown as CollectionModel[],
      true,
    );
    await sdkError(server.admin.collections.getOne(old.id), 404);
    const fresh = await server.admin.collections.getOne(old.name);
    assert.equal(fresh.id, newId);
    assert.deepEqual(await server.admin.collection(old.name).getFullList(), []);
    assert.equal((await server.admin.collection(old.name).create({ body: '<p>x</p>' })).body, '<p>x</p>');
  });

  test('the users collection is not a system collection: it can be deleted', async () => {
    const res = await server.request('DELETE', '/api/collections/users', { token: server.adminToken });
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.equal((await server.request('GET', '/api/collections/users/records')).status, 404);
    await sdkError(server.admin.collections.getOne('_pb_users_auth_'), 404);
  });

  // Last: deleteMissing drops everything else.
  test('deleteMissing removes the non-system collections not in the list', async () => {
    const keep = await create({ name: uniq('keepme'), fields: [{ name: 'title', type: 'text' }] });
    const gone = await create({ name: uniq('dropme'), listRule: '' });
    await server.admin.collection(keep.id).create({ title: 'stays' });
    const superusers = await server.admin.collections.getOne('_superusers');
    await server.admin.collections.import([keep], true);
    const names = (await server.admin.collections.getFullList()).map((c) => c.name).sort();
    const system = ['_authOrigins', '_externalAuths', '_mfas', '_otps', '_sessions', '_superusers'];
    assert.deepEqual(names, [...system, keep.name].sort());
    assert.deepEqual(await server.admin.collections.getOne('_superusers'), superusers);
    const res = await server.request('GET', `/api/collections/${gone.name}/records`);
    assert.equal(res.status, 404);
    assert.equal((await server.admin.collection(keep.id).getFullList())[0]!.title, 'stays');
    // The superuser still works after the import.
    const pb = new PocketBase(server.url);
    await pb.collection('_superusers').authWithPassword('root@example.com', 'root-password-1');
  });
});
