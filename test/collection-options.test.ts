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
