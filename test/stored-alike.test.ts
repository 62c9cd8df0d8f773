// Values one engine would store differently from another (or refuse with a 500) are refused alike with a
// 400 everywhere, and nothing is written: lone UTF-16 surrogates, numbers past the double range.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

let srv: TestServer;
const path = (id = '') => `/api/collections/things/records${id ? `/${id}` : ''}`;
const raw = (method: string, p: string, text: string) =>
  srv.request(method, p, {
    rawBody: text,
    token: srv.adminToken,
    headers: { 'content-type': 'application/json' },
  });
const count = async () => (await srv.admin.collection('things').getList(1, 1)).totalItems;

before(async () => {
  srv = await startServer();
  await srv.admin.collections.create({
    name: 'things',
    createRule: '',
    updateRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'data', type: 'json' },
      { name: 'n', type: 'number' },
      { name: 'where', type: 'geoPoint' },
    ],
  });
});

after(async () => {
  await srv?.close();
});

describe(`values stored alike on every engine (${TEST_ENGINE})`, () => {
  const surrogates: Array<[string, string]> = [
    ['a lone high surrogate in a JSON field', '{"data": {"k": "\\ud800"}}'],
    ['a lone low surrogate in a JSON array', '{"data": ["ok", "\\udfff"]}'],
    ['a lone surrogate in a JSON key', '{"data": {"\\ud83d": 1}}'],
    ['a lone surrogate in a text field', '{"title": "a\\ud800b"}'],
    ['a reversed pair', '{"title": "\\udc00\\ud800"}'],
  ];
  for (const [name, body] of surrogates) {
    test(`${name} is a 400 and nothing is written`, async () => {
      const before = await count();
      const res = await raw('POST', path(), body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.message, /unpaired UTF-16 surrogate/);
      assert.equal(await count(), before);
    });
  }

  test('a proper surrogate pair (an emoji) is stored and read back exactly', async () => {
    const res = await raw(
      'POST',
      path(),
      '{"title": "\\ud83d\\ude00", "data": {"\\ud83d\\ude00": "\\ud83d\\ude00"}}',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const back = await srv.admin.collection('things').getOne(res.body.id);
    assert.equal(back.title, '😀');
    assert.deepEqual(back.data, { '😀': '😀' });
  });

  test('n+ that overflows to Infinity is a 400 and the stored value stays', async () => {
    const created = await raw('POST', path(), '{"n": 1e308}');
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const res = await raw('PATCH', path(created.body.id), '{"n+": 1e308}');
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.data.n.code, 'validation_not_a_number');
    assert.equal((await srv.admin.collection('things').getOne(created.body.id)).n, 1e308);
    const minus = await raw('PATCH', path(created.body.id), '{"n-": 1e308, "n+": -1e308}');
    assert.equal(minus.status, 200, 'finite results are fine');
  });

  test('numbers past the double range are refused in number, JSON and geoPoint fields', async () => {
    for (const body of [
      '{"n": 1e309}',
      '{"data": {"x": 1e309}}',
      '{"data": [-1e400]}',
      '{"where": {"lon": 1e999, "lat": 0}}',
    ]) {
      const before = await count();
      const res = await raw('POST', path(), body);
      assert.equal(res.status, 400, `${body}: ${JSON.stringify(res.body)}`);
      assert.equal(await count(), before);
    }
  });
});
