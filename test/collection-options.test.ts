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
      // Keyed by the index in the final list (PocketBase's), where the id field comes first.
      assert.ok(res.body.data.fields['1'], JSON.stringify(res.body));
    }
  });

  it('treats a zero maximum of text as "no limit"', async () => {
    const res = await create('range_ok', { name: 't', type: 'text', min: 3, max: 0 });
    assert.equal(res.status, 200);
  });

  it('refuses duplicated select values and non-boolean flags', async () => {
    const dup = await create('dup_values', { name: 's', type: 'select', values: ['a', 'a'] });
    assert.equal(dup.status, 400);
    assert.equal(dup.body.data.fields['1'].values.code, 'validation_duplicated_values');
    const flag = await create('bad_flag', { name: 't', type: 'text', hidden: 'yes' });
    assert.equal(flag.status, 400);
    assert.equal(flag.body.data.fields['1'].hidden.code, 'validation_invalid_value');
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

describe('names every engine can hold', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const create = (body: Record<string, unknown>) =>
    server.request('POST', '/api/collections', { token: server.adminToken, body });

  it('accepts names of 63 characters and refuses 64, for collections, fields and indexes', async () => {
    const n63 = `c${'x'.repeat(62)}`;
    const ok = await create({ name: n63, fields: [{ name: `f${'y'.repeat(62)}`, type: 'text' }] });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const longCollection = await create({ name: `c${'x'.repeat(63)}` });
    assert.equal(longCollection.status, 400);
    assert.equal(longCollection.body.data.name.code, 'validation_length_out_of_range');
    const longField = await create({
      name: 'long_field',
      fields: [{ name: `f${'y'.repeat(63)}`, type: 'text' }],
    });
    assert.equal(longField.status, 400);
    const longIndex = await create({
      name: 'long_index',
      fields: [{ name: 'a', type: 'text' }],
      indexes: [`CREATE INDEX i${'z'.repeat(63)} ON long_index (a)`],
    });
    assert.equal(longIndex.status, 400);
    const longId = await create({ id: 'x'.repeat(51), name: 'long_id' });
    assert.equal(longId.status, 400);
  });

  it('keeps names starting with _ for Plinth’s own columns', async () => {
    for (const name of ['_rowid', '_idx_x', '_private']) {
      const res = await create({ name: `under_${name.slice(1)}`, fields: [{ name, type: 'text' }] });
      assert.equal(res.status, 400, name);
      assert.equal(res.body.data.fields['1'].name.code, 'validation_reserved_field_name');
    }
  });
});
