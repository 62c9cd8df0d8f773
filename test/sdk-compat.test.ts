import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientResponseError } from 'pocketbase';
import { SUPERUSER, startServer, type TestServer } from './helpers/server.ts';

// The official `pocketbase` SDK, unmodified, as a real client over a real socket: the compatibility promise.
describe('the pocketbase JS SDK against Plinth', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('signs a superuser in and marks the auth store as superuser', async () => {
    const pb = server.client();
    const auth = await pb.collection('_superusers').authWithPassword(SUPERUSER.email, SUPERUSER.password);
    assert.equal(auth.record.email, SUPERUSER.email);
    assert.equal(auth.record.collectionName, '_superusers');
    assert.ok(pb.authStore.isValid);
    assert.ok(pb.authStore.isSuperuser);
    assert.equal(auth.record.password, undefined);
    assert.equal(auth.record.tokenKey, undefined);
  });

  it('creates, lists, views, updates and deletes collections', async () => {
    const pb = server.admin;
    const created = await pb.collections.create({
      name: 'sdk_notes',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text', required: true, max: 100 },
        { name: 'stars', type: 'number' },
        { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
      ],
    });
    assert.match(created.id, /^pbc_\d+$/);
    assert.deepEqual(
      created.fields.map((f: { name: string }) => f.name),
      ['id', 'title', 'stars', 'created'],
    );
    const one = await pb.collections.getOne('sdk_notes');
    assert.equal(one.id, created.id);
    const list = await pb.collections.getList(1, 50);
    assert.ok(list.items.some((c) => c.name === 'sdk_notes'));
    const full = await pb.collections.getFullList();
    assert.ok(full.some((c) => c.name === '_superusers'));
    const updated = await pb.collections.update('sdk_notes', {
      fields: [...created.fields, { name: 'body', type: 'editor' }],
    });
    assert.ok(updated.fields.some((f: { name: string }) => f.name === 'body'));
    await pb.collections.delete('sdk_notes');
    await assert.rejects(pb.collections.getOne('sdk_notes'), (e: ClientResponseError) => e.status === 404);
  });

  it('creates, reads, pages, updates and deletes records', async () => {
    const pb = server.admin;
    await pb.collections.create({
      name: 'sdk_posts',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'n', type: 'number' },
      ],
    });
    const guest = server.client();
    const posts = guest.collection('sdk_posts');
    const first = await posts.create({ title: 'first', n: 1 });
    assert.equal(first.collectionName, 'sdk_posts');
    assert.match(first.id, /^[a-z0-9]{15}$/);
    for (let i = 2; i <= 12; i++) await posts.create({ title: `post ${i}`, n: i });
    const page = await posts.getList(2, 5, { sort: '-n' });
    assert.equal(page.page, 2);
    assert.equal(page.perPage, 5);
    assert.equal(page.totalItems, 12);
    assert.equal(page.totalPages, 3);
    assert.deepEqual(
      page.items.map((r) => r.n),
      [7, 6, 5, 4, 3],
    );
    const all = await posts.getFullList({ sort: 'n', batch: 5 });
    assert.equal(all.length, 12);
    assert.equal(all[0]!.n, 1);
    const got = await posts.getOne(first.id);
    assert.equal(got.title, 'first');
    const changed = await posts.update(first.id, { title: 'renamed', 'n+': 10 });
    assert.equal(changed.title, 'renamed');
    assert.equal(changed.n, 11);
    await posts.delete(first.id);
    await assert.rejects(posts.getOne(first.id), (e: ClientResponseError) => e.status === 404);
  });

  it('truncates a collection, fixing up the records that point at it', async () => {
    const pb = server.admin;
    const tags = await pb.collections.create({ name: 'sdk_tags', fields: [{ name: 'label', type: 'text' }] });
    await pb.collections.create({
      name: 'sdk_items',
      fields: [{ name: 'tags', type: 'relation', collectionId: tags.id, maxSelect: 5 }],
    });
    const a = await pb.collection('sdk_tags').create({ label: 'a' });
    const b = await pb.collection('sdk_tags').create({ label: 'b' });
    const item = await pb.collection('sdk_items').create({ tags: [a.id, b.id] });
    assert.equal(await pb.collections.truncate('sdk_tags'), true);
    assert.equal((await pb.collection('sdk_tags').getList(1, 10)).totalItems, 0);
    assert.deepEqual((await pb.collection('sdk_items').getOne(item.id)).tags, []);
    const guest = await server.request('DELETE', '/api/collections/sdk_items/truncate');
    assert.equal(guest.status, 401);
  });

  it('signs a user up, in and refreshes, as an app would', async () => {
    const pb = server.client();
    const user = await pb.collection('users').create({
      email: 'sdk-user@example.com',
      password: 'a-long-password',
      passwordConfirm: 'a-long-password',
      name: 'Sdk',
    });
    assert.equal(user.collectionName, 'users');
    const auth = await pb.collection('users').authWithPassword('sdk-user@example.com', 'a-long-password');
    assert.equal(auth.record.id, user.id);
    assert.equal(auth.record.email, 'sdk-user@example.com');
    assert.ok(pb.authStore.isValid);
    assert.equal(pb.authStore.isSuperuser, false);
    const refreshed = await pb.collection('users').authRefresh();
    assert.equal(refreshed.record.id, user.id);
    assert.ok(refreshed.token);
    const methods = await pb.collection('users').listAuthMethods();
    assert.equal(methods.password.enabled, true);
    assert.deepEqual(methods.password.identityFields, ['email']);
  });

  it('surfaces validation errors as ClientResponseError with PocketBase field errors', async () => {
    const pb = server.client();
    const err = await pb
      .collection('users')
      .create({ email: 'not-an-email', password: 'short', passwordConfirm: 'other' })
      .catch((e: unknown) => e);
    assert.ok(err instanceof ClientResponseError);
    assert.equal(err.status, 400);
    assert.equal(err.response.message, 'Failed to create record.');
    assert.equal(err.response.data.email.code, 'validation_is_email');
    assert.equal(err.response.data.password.code, 'validation_min_text_constraint');
    assert.equal(err.response.data.passwordConfirm.code, 'validation_values_mismatch');
  });
});
