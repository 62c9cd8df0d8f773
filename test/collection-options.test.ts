import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

describe('field options that could never be satisfied are refused', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const create = (name: string, field: Record<string, unknown>) =>
    server.request('POST', '/api/collections', { token: server.adminToken, body: { name, fields: [field] } });

  it('refuses a minimum above the maximum', async () => {
    for (const [i, field] of [
      { name: 't', type: 'text', min: 10, max: 5 },
      { name: 'n', type: 'number', min: 10, max: 5 },
      { name: 'n', type: 'number', min: 1, max: 0 },
      { name: 'r', type: 'relation', collectionId: '_pb_users_auth_', minSelect: 3, maxSelect: 2 },
    ].entries()) {
      const res = await create(`range_${i}`, field);
      assert.equal(res.status, 400, JSON.stringify(field));
      assert.ok(res.body.data.fields['0'], JSON.stringify(res.body));
    }
  });

  it('treats a zero maximum of text as "no limit"', async () => {
    const res = await create('range_ok', { name: 't', type: 'text', min: 3, max: 0 });
    assert.equal(res.status, 200);
  });

  it('refuses duplicated select values and non-boolean flags', async () => {
    const dup = await create('dup_values', { name: 's', type: 'select', values: ['a', 'a'] });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.data.fields['0'].values.code, 'validation_duplicated_values');
    const flag = await create('bad_flag', { name: 't', type: 'text', hidden: 'yes' });
    assert.equal(flag.status, 400);
    assert.equal(flag.body.data.fields['0'].hidden.code, 'validation_invalid_value');
  });
});

describe('concurrent schema changes', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('applies each change to the result of the one before it', async () => {
    const created = await server.request('POST', '/api/collections', {
      token: server.adminToken,
      body: { name: 'racy', listRule: '', fields: [{ name: 'x', type: 'text' }] },
    });
    const field = created.body.fields.find((f: { name: string }) => f.name === 'x');
    await server.request('POST', '/api/collections/racy/records', {
      token: server.adminToken,
      body: { x: 'kept' },
    });
    const renames = ['a', 'b', 'c', 'd', 'e'].map((name) =>
      server.request('PATCH', '/api/collections/racy', {
        token: server.adminToken,
        body: { fields: [{ ...field, name }] },
      }),
    );
    const adds = ['p', 'q', 'r'].map((name) =>
      server.request('PATCH', '/api/collections/racy', {
        token: server.adminToken,
        body: {
          fields: [
            { ...field, name: `x_${name}` },
            { name, type: 'number' },
          ],
        },
      }),
    );
    const results = await Promise.all([...renames, ...adds]);
    for (const r of results) assert.equal(r.status, 200, JSON.stringify(r.body));
    // The same through the store, where both calls certainly start before either commits.
    const store = server.app.collections;
    const current = store.get('racy').fields.find((f) => f.id === field.id)!;
    await Promise.all([
      store.update('racy', {
        fields: [...store.get('racy').fields.filter((f) => f.id !== field.id), { ...current, name: 'm' }],
      }),
      store.update('racy', {
        fields: [...store.get('racy').fields.filter((f) => f.id !== field.id), { ...current, name: 'n' }],
      }),
    ]);
    assert.equal(store.get('racy').fields.find((f) => f.id === field.id)?.name, 'n');
    const list = await server.request('GET', '/api/collections/racy/records');
    assert.equal(list.status, 200);
    const values = Object.values(list.body.items[0]);
    assert.ok(values.includes('kept'), JSON.stringify(list.body.items[0]));
  });
});
