import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ClientResponseError } from 'pocketbase';
import { startServer, type TestServer } from './helpers/server.ts';

let srv: TestServer;

before(async () => {
  srv = await startServer();
});

after(async () => {
  await srv?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;
type Res = { status: number; body: Json; headers: Headers };

const ID_RE = /^[a-z0-9]{15}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Token value meaning "send no Authorization header". */
const GUEST = '';
const OPEN_RULES = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };

let seq = 0;
const uniqueName = (prefix: string) => `${prefix}_${++seq}`;

const recordsPath = (collection: string, id?: string, query = '') =>
  `/api/collections/${collection}/records${id === undefined ? '' : `/${encodeURIComponent(id)}`}${query}`;

/** Creates a collection as the superuser; rules are open (`""`) unless overridden. */
async function makeCollection(
  fields: object[],
  extra: Record<string, unknown> = {},
): Promise<{ id: string; name: string; fields: Json[] }> {
  const res = await srv.request('POST', '/api/collections', {
    token: srv.adminToken,
    body: { name: uniqueName(String(extra.type ?? 'base')), type: 'base', ...OPEN_RULES, fields, ...extra },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

const create = (collection: string, body: unknown, token = srv.adminToken) =>
  srv.request('POST', recordsPath(collection), { body, token });
const update = (collection: string, id: string, body: unknown, token = srv.adminToken) =>
  srv.request('PATCH', recordsPath(collection, id), { body, token });
const view = (collection: string, id: string, token = srv.adminToken) =>
  srv.request('GET', recordsPath(collection, id), { token });
const list = (collection: string, query = '', token = srv.adminToken) =>
  srv.request('GET', recordsPath(collection, undefined, query), { token });
const remove = (collection: string, id: string, token = srv.adminToken) =>
  srv.request('DELETE', recordsPath(collection, id), { token });

/** Asserts a successful create/update and returns the record. */
function ok(res: Res): Json {
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Asserts PocketBase's error JSON with the given status (and, optionally, a field error code). */
function assertError(res: Res, status: number, field?: string, code?: string): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.status, status);
  assert.equal(typeof res.body.message, 'string');
  assert.equal(typeof res.body.data, 'object');
  if (field !== undefined) {
    assert.ok(res.body.data[field], `expected data.${field} in ${JSON.stringify(res.body)}`);
    if (code !== undefined) assert.equal(res.body.data[field].code, code, JSON.stringify(res.body));
  }
}

/** Asserts that an SDK call fails with the given status; returns the error for further checks. */
async function sdkRejects(promise: Promise<unknown>, status: number): Promise<ClientResponseError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ClientResponseError, String(err));
    assert.equal(err.status, status, JSON.stringify(err.response));
    return err;
  }
  assert.fail(`expected a ${status} error`);
}

/** Signs a record of an auth collection in and returns its token. */
async function login(collection: string, email: string, password: string): Promise<string> {
  const res = await srv.request('POST', `/api/collections/${collection}/auth-with-password`, {
    body: { identity: email, password },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.token;
}

describe('record JSON and ids', () => {
  test('a created record answers 200 with collectionId, collectionName and id first, then its fields in order', async () => {
    const c = await makeCollection([
      { name: 'title', type: 'text' },
      { name: 'n', type: 'number' },
      { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ]);
    const res = await create(c.name, { title: 'hello', n: 3 });
    const rec = ok(res);
    assert.deepEqual(Object.keys(rec), [
      'collectionId',
      'collectionName',
      'id',
      'title',
      'n',
      'created',
      'updated',
    ]);
    assert.equal(rec.collectionId, c.id);
    assert.equal(rec.collectionName, c.name);
    assert.match(rec.id, ID_RE);
    assert.equal(rec.title, 'hello');
    assert.equal(rec.n, 3);
    assert.deepEqual(ok(await view(c.name, rec.id)), rec);
  });

  test('generated ids are 15 characters of a-z and 0-9 and distinct', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const ids = await Promise.all(
      Array.from({ length: 40 }, async () => ok(await create(c.name, {})).id as string),
    );
    for (const id of ids) assert.match(id, ID_RE);
    assert.equal(new Set(ids).size, ids.length);
  });

  test('the SDK can create, read, update and delete a record', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const pb = srv.admin.collection(c.name);
    const created = await pb.create({ title: 'one' });
    assert.equal(created.collectionName, c.name);
    assert.equal((await pb.getOne(created.id)).title, 'one');
    const updated = await pb.update(created.id, { title: 'two' });
    assert.equal(updated.id, created.id);
    assert.equal(updated.title, 'two');
    assert.equal(await pb.delete(created.id), true);
    await sdkRejects(pb.getOne(created.id), 404);
    await sdkRejects(pb.update(created.id, { title: 'x' }), 404);
    await sdkRejects(pb.delete(created.id), 404);
  });

  test('delete answers 204 with an empty body', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const rec = ok(await create(c.name, { title: 'x' }));
    const res = await remove(c.name, rec.id);
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    assertError(await view(c.name, rec.id), 404);
  });

  test('an unknown collection is a 404 and a non-object body is a 400', async () => {
    assertError(await list('no_such_collection'), 404);
    assertError(await create('no_such_collection', {}), 404);
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    assertError(await create(c.name, [1, 2]), 400);
    assertError(await create(c.name, 'text'), 400);
    const bad = await srv.request('POST', recordsPath(c.name), {
      token: srv.adminToken,
      rawBody: '{"title":',
      headers: { 'content-type': 'application/json' },
    });
    assertError(bad, 400);
  });

  test('unknown keys in a body are ignored', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const rec = ok(await create(c.name, { title: 'a', nope: 1, collectionName: 'x', expand: {} }));
    assert.equal(rec.collectionName, c.name);
    assert.equal('nope' in rec, false);
  });
});

describe('custom ids', () => {
  test('a valid 15-character id is kept', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const id = 'abcdefghij12345';
    const rec = ok(await create(c.name, { id, title: 'x' }));
    assert.equal(rec.id, id);
    assert.equal(ok(await view(c.name, id)).title, 'x');
  });

  test('ids of the wrong length, with uppercase, path parts or spaces are rejected with data.id', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    for (const id of [
      'short',
      'abcdefghij123456',
      'ABCDEFGHIJ12345',
      'abcdefghiJ12345',
      '../x',
      '../abcdefghijkl',
      'abc/defghijklmn',
      'abc def ghijklm',
      ' abcdefghijklmn',
      12345678901234,
      ['abcdefghij12345'],
    ]) {
      assertError(await create(c.name, { id, title: 'x' }), 400, 'id');
    }
    assert.equal(ok(await list(c.name)).totalItems, 0);
  });

  test('a duplicate id is a 400 with data.id and the first record stays', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const id = 'dupdupdupdup123';
    ok(await create(c.name, { id, title: 'first' }));
    assertError(await create(c.name, { id, title: 'second' }), 400, 'id');
    assert.equal(ok(await view(c.name, id)).title, 'first');
  });

  test('parallel creates with the same id: one wins, the others get data.id validation_not_unique', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const id = 'racingracing123';
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => create(c.name, { id, title: `${i}` })),
    );
    assert.equal(results.filter((r) => r.status === 200).length, 1);
    for (const r of results.filter((r) => r.status !== 200))
      assertError(r, 400, 'id', 'validation_not_unique');
    assert.equal(ok(await list(c.name)).totalItems, 1);
  });

  test('the id cannot be changed by an update (PocketBase: validation_pk_change)', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const rec = ok(await create(c.name, { title: 'x' }));
    assertError(
      await update(c.name, rec.id, { id: 'zzzzzzzzzzzzzzz', title: 'y' }),
      400,
      'id',
      'validation_pk_change',
    );
    assertError(await view(c.name, 'zzzzzzzzzzzzzzz'), 404);
    const same = ok(await update(c.name, rec.id, { id: rec.id, title: 'y' }));
    assert.equal(same.title, 'y');
  });
});

describe('lists', () => {
  let name: string;
  before(async () => {
    const c = await makeCollection([
      { name: 'title', type: 'text' },
      { name: 'n', type: 'number' },
    ]);
    name = c.name;
    await Promise.all(Array.from({ length: 35 }, (_, i) => create(name, { title: `t${i}`, n: i })));
  });

  test('a list answers page, perPage, totalItems, totalPages and items, 30 per page by default', async () => {
    const page = ok(await list(name, '', GUEST));
    assert.deepEqual(Object.keys(page), ['page', 'perPage', 'totalItems', 'totalPages', 'items']);
    assert.equal(page.page, 1);
    assert.equal(page.perPage, 30);
    assert.equal(page.totalItems, 35);
    assert.equal(page.totalPages, 2);
    assert.equal(page.items.length, 30);
    assert.deepEqual(Object.keys(page.items[0]), ['collectionId', 'collectionName', 'id', 'title', 'n']);
    const second = ok(await list(name, '?page=2'));
    assert.equal(second.page, 2);
    assert.equal(second.items.length, 5);
    const ids = new Set([...page.items, ...second.items].map((r: Json) => r.id));
    assert.equal(ids.size, 35);
  });

  test('skipTotal=1 answers -1 for totalItems and totalPages', async () => {
    const page = ok(await list(name, '?skipTotal=1&perPage=10'));
    assert.equal(page.totalItems, -1);
    assert.equal(page.totalPages, -1);
    assert.equal(page.items.length, 10);
  });

  test('perPage is capped at 1000 and a page past the end is empty', async () => {
    const big = ok(await list(name, '?perPage=5000'));
    assert.equal(big.perPage, 1000);
    assert.equal(big.items.length, 35);
    const past = ok(await list(name, '?perPage=10&page=5'));
    assert.equal(past.page, 5);
    assert.equal(past.totalItems, 35);
    assert.equal(past.totalPages, 4);
    assert.deepEqual(past.items, []);
    const last = ok(await list(name, '?perPage=10&page=4'));
    assert.equal(last.items.length, 5);
  });

  test('a non-numeric page or perPage is a 400, not a 500', async () => {
    assertError(await list(name, '?page=abc'), 400);
    assertError(await list(name, '?perPage=1.5'), 400);
  });

  test('the SDK getList passes page and perPage through', async () => {
    const res = await srv.admin.collection(name).getList(2, 20);
    assert.equal(res.page, 2);
    assert.equal(res.perPage, 20);
    assert.equal(res.totalItems, 35);
    assert.equal(res.items.length, 15);
  });

  test('getFullList returns every record across several pages', async () => {
    const c = await makeCollection([{ name: 'n', type: 'number' }]);
    const total = 1100;
    const concurrency = 50;
    for (let start = 0; start < total; start += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, total - start) }, (_, i) =>
        create(c.name, { n: start + i }),
      );
      for (const res of await Promise.all(batch)) assert.equal(res.status, 200);
    }
    const all = await srv.admin.collection(c.name).getFullList({ sort: 'n' });
    assert.equal(all.length, total);
    assert.equal(new Set(all.map((r) => r.id)).size, total);
    assert.deepEqual(
      all.map((r) => r.n),
      Array.from({ length: total }, (_, i) => i),
    );
    const first = await srv.admin.collection(c.name).getList(1, 1000);
    assert.equal(first.items.length, 1000);
    assert.equal(first.totalItems, total);
    assert.equal(first.totalPages, 2);
  });
});

describe('field zero values and required fields', () => {
  test('an empty create stores each field type as its zero value', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const c = await makeCollection([
      { name: 'text', type: 'text' },
      { name: 'editor', type: 'editor' },
      { name: 'number', type: 'number' },
      { name: 'bool', type: 'bool' },
      { name: 'email', type: 'email' },
      { name: 'url', type: 'url' },
      { name: 'date', type: 'date' },
      { name: 'select1', type: 'select', values: ['a', 'b'], maxSelect: 1 },
      { name: 'selectN', type: 'select', values: ['a', 'b'], maxSelect: 2 },
      { name: 'rel1', type: 'relation', collectionId: target.id, maxSelect: 1 },
      { name: 'relN', type: 'relation', collectionId: target.id, maxSelect: 5 },
      { name: 'json', type: 'json' },
      { name: 'geo', type: 'geoPoint' },
    ]);
    const rec = ok(await create(c.name, {}));
    const expected = {
      text: '',
      editor: '',
      number: 0,
      bool: false,
      email: '',
      url: '',
      date: '',
      select1: '',
      selectN: [],
      rel1: '',
      relN: [],
      json: null,
      geo: { lon: 0, lat: 0 },
    };
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(rec[key], value, key);
    const read = ok(await view(c.name, rec.id));
    for (const [key, value] of Object.entries(expected)) assert.deepEqual(read[key], value, key);
  });

  test('required fields reject their zero values with validation_required', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const names = ['text', 'number', 'bool', 'email', 'url', 'date', 'sel', 'selN', 'rel', 'json', 'geo'];
    const c = await makeCollection([
      { name: 'text', type: 'text', required: true },
      { name: 'number', type: 'number', required: true },
      { name: 'bool', type: 'bool', required: true },
      { name: 'email', type: 'email', required: true },
      { name: 'url', type: 'url', required: true },
      { name: 'date', type: 'date', required: true },
      { name: 'sel', type: 'select', values: ['a'], required: true },
      { name: 'selN', type: 'select', values: ['a', 'b'], maxSelect: 2, required: true },
      { name: 'rel', type: 'relation', collectionId: target.id, required: true },
      { name: 'json', type: 'json', required: true },
      { name: 'geo', type: 'geoPoint', required: true },
    ]);
    const res = await create(c.name, {});
    assertError(res, 400);
    for (const n of names) assert.equal(res.body.data[n]?.code, 'validation_required', n);

    const explicit = await create(c.name, {
      text: '',
      number: 0,
      bool: false,
      email: '',
      url: '',
      date: '',
      sel: '',
      selN: [],
      rel: '',
      json: null,
      geo: { lon: 0, lat: 0 },
    });
    for (const n of names) assert.equal(explicit.body.data[n]?.code, 'validation_required', n);

    const t = ok(await create(target.name, { title: 't' }));
    const rec = ok(
      await create(c.name, {
        text: 'x',
        number: -1,
        bool: true,
        email: 'a@example.com',
        url: 'https://example.com',
        date: '2024-01-01',
        sel: 'a',
        selN: ['b'],
        rel: t.id,
        json: { a: 1 },
        geo: { lon: 1, lat: 2 },
      }),
    );
    // Clearing a required field on update is rejected too.
    assertError(await update(c.name, rec.id, { text: '' }), 400, 'text', 'validation_required');
    assertError(await update(c.name, rec.id, { selN: [] }), 400, 'selN', 'validation_required');
  });
});

describe('field validation', () => {
  test('text checks min, max and pattern', async () => {
    const c = await makeCollection([
      { name: 'code', type: 'text', min: 3, max: 5, pattern: '^[a-z]+$' },
      { name: 'free', type: 'text' },
    ]);
    assertError(await create(c.name, { code: 'ab' }), 400, 'code', 'validation_min_text_constraint');
    assertError(await create(c.name, { code: 'abcdef' }), 400, 'code', 'validation_max_text_constraint');
    assertError(await create(c.name, { code: 'ab1' }), 400, 'code', 'validation_invalid_format');
    assertError(await create(c.name, { free: { a: 1 } }), 400, 'free');
    assertError(await create(c.name, { free: 'x'.repeat(5001) }), 400, 'free');
    assert.equal(ok(await create(c.name, { code: 'abc' })).code, 'abc');
    // an empty optional value skips min and pattern
    assert.equal(ok(await create(c.name, { code: '' })).code, '');
    // numbers are accepted as text
    assert.equal(ok(await create(c.name, { free: 12 })).free, '12');
  });

  test('number checks min, max and onlyInt, and rejects non-numbers', async () => {
    const c = await makeCollection([
      { name: 'n', type: 'number', min: -2, max: 10 },
      { name: 'i', type: 'number', onlyInt: true },
    ]);
    assertError(await create(c.name, { n: -3 }), 400, 'n', 'validation_min_number_constraint');
    assertError(await create(c.name, { n: 10.5 }), 400, 'n', 'validation_max_number_constraint');
    assertError(await create(c.name, { i: 1.5 }), 400, 'i', 'validation_only_int_constraint');
    assertError(await create(c.name, { n: 'abc' }), 400, 'n');
    assertError(await create(c.name, { n: [1] }), 400, 'n');
    assertError(await create(c.name, { n: { a: 1 } }), 400, 'n');
    const rec = ok(await create(c.name, { n: 9.5, i: 4 }));
    assert.equal(rec.n, 9.5);
    assert.equal(rec.i, 4);
    assert.equal(ok(await create(c.name, { n: '7' })).n, 7);
  });

  test('email checks the format and onlyDomains / exceptDomains', async () => {
    const c = await makeCollection([
      { name: 'any', type: 'email' },
      { name: 'only', type: 'email', onlyDomains: ['example.com'] },
      { name: 'except', type: 'email', exceptDomains: ['spam.test'] },
    ]);
    for (const bad of ['nope', 'a@', '@example.com', 'a b@example.com', 'a@example']) {
      assertError(await create(c.name, { any: bad }), 400, 'any', 'validation_is_email');
    }
    assertError(
      await create(c.name, { only: 'a@other.com' }),
      400,
      'only',
      'validation_email_domain_not_allowed',
    );
    assertError(
      await create(c.name, { except: 'a@spam.test' }),
      400,
      'except',
      'validation_email_domain_not_allowed',
    );
    const rec = ok(await create(c.name, { any: 'x@y.org', only: 'a@example.com', except: 'a@ok.test' }));
    assert.equal(rec.only, 'a@example.com');
  });

  test('url checks the format and onlyDomains / exceptDomains', async () => {
    const c = await makeCollection([
      { name: 'any', type: 'url' },
      { name: 'only', type: 'url', onlyDomains: ['example.com'] },
      { name: 'except', type: 'url', exceptDomains: ['bad.test'] },
    ]);
    for (const bad of ['nope', 'example.com', 'http://', '//example.com/x']) {
      assertError(await create(c.name, { any: bad }), 400, 'any', 'validation_invalid_url');
    }
    assertError(
      await create(c.name, { only: 'https://other.com/x' }),
      400,
      'only',
      'validation_url_domain_not_allowed',
    );
    assertError(await create(c.name, { except: 'https://bad.test/' }), 400, 'except');
    const rec = ok(
      await create(c.name, {
        any: 'https://a.b/c?d=1',
        only: 'https://example.com/p',
        except: 'http://good.test',
      }),
    );
    assert.equal(rec.any, 'https://a.b/c?d=1');
  });

  test('dates are normalised to YYYY-MM-DD HH:MM:SS.sssZ in UTC and checked against min and max', async () => {
    const c = await makeCollection([
      { name: 'd', type: 'date' },
      { name: 'ranged', type: 'date', min: '2020-01-01 00:00:00.000Z', max: '2020-12-31 23:59:59.999Z' },
    ]);
    const cases: Array<[string, string]> = [
      ['2024-03-04T05:06:07Z', '2024-03-04 05:06:07.000Z'],
      ['2024-03-04T05:06:07.123Z', '2024-03-04 05:06:07.123Z'],
      ['2024-03-04 05:06:07.123Z', '2024-03-04 05:06:07.123Z'],
      ['2024-03-04T07:06:07+02:00', '2024-03-04 05:06:07.000Z'],
      ['2024-03-04', '2024-03-04 00:00:00.000Z'],
    ];
    cases.push(
      ['2024-02-29', '2024-02-29 00:00:00.000Z'],
      ['2000-02-29T23:59:59Z', '2000-02-29 23:59:59.000Z'],
    );
    for (const [input, expected] of cases) {
      const rec = ok(await create(c.name, { d: input }));
      assert.equal(rec.d, expected, input);
      assert.match(rec.d, DATE_RE);
      assert.equal(ok(await view(c.name, rec.id)).d, expected);
    }
    for (const bad of [
      'yesterday',
      '2024-13-45',
      '2024/01/01',
      '2024-02-30',
      '2023-02-29',
      '2024-04-31 10:00:00Z',
      '2024-01-01T24:00:00Z',
      '2024-00-10',
      12345,
      true,
    ]) {
      assertError(await create(c.name, { d: bad }), 400, 'd', 'validation_invalid_date');
    }
    assertError(
      await create(c.name, { ranged: '2019-12-31' }),
      400,
      'ranged',
      'validation_min_greater_equal_than_required',
    );
    assertError(
      await create(c.name, { ranged: '2021-01-01' }),
      400,
      'ranged',
      'validation_max_less_equal_than_required',
    );
    assert.equal(
      ok(await create(c.name, { ranged: '2020-06-01T12:00:00Z' })).ranged,
      '2020-06-01 12:00:00.000Z',
    );
  });

  test('select accepts only its values and at most maxSelect of them', async () => {
    const c = await makeCollection([
      { name: 'one', type: 'select', values: ['a', 'b', 'c'] },
      { name: 'many', type: 'select', values: ['a', 'b', 'c'], maxSelect: 2 },
    ]);
    assertError(await create(c.name, { one: 'z' }), 400, 'one', 'validation_invalid_value');
    assertError(await create(c.name, { many: ['a', 'z'] }), 400, 'many', 'validation_invalid_value');
    assertError(await create(c.name, { many: ['a', 'b', 'c'] }), 400, 'many', 'validation_too_many_values');
    assertError(await create(c.name, { many: [1, 2] }), 400, 'many');
    const rec = ok(await create(c.name, { one: 'b', many: ['c', 'a', 'c'] }));
    assert.equal(rec.one, 'b');
    assert.deepEqual(rec.many, ['c', 'a']);
    // a single select given a list keeps the last value
    assert.equal(ok(await create(c.name, { one: ['a', 'c'] })).one, 'c');
    // a multi select given a string holds a list of one
    assert.deepEqual(ok(await create(c.name, { many: 'b' })).many, ['b']);
  });

  test('json stores any JSON value and checks maxSize', async () => {
    const c = await makeCollection([
      { name: 'j', type: 'json' },
      { name: 'small', type: 'json', maxSize: 20 },
    ]);
    for (const value of [{ a: [1, { b: null }] }, [1, 'two'], 'text', 42, true]) {
      const rec = ok(await create(c.name, { j: value }));
      assert.deepEqual(rec.j, value);
      assert.deepEqual(ok(await view(c.name, rec.id)).j, value);
    }
    assertError(
      await create(c.name, { small: { text: 'x'.repeat(50) } }),
      400,
      'small',
      'validation_json_size_limit',
    );
    assert.deepEqual(ok(await create(c.name, { small: { a: 1 } })).small, { a: 1 });
  });

  test('geoPoint takes {lon, lat} within range', async () => {
    const c = await makeCollection([{ name: 'g', type: 'geoPoint' }]);
    const rec = ok(await create(c.name, { g: { lon: -122.5, lat: 37.75 } }));
    assert.deepEqual(rec.g, { lon: -122.5, lat: 37.75 });
    assert.deepEqual(ok(await view(c.name, rec.id)).g, { lon: -122.5, lat: 37.75 });
    for (const bad of [
      { lon: 181, lat: 0 },
      { lon: -181, lat: 0 },
      { lon: 0, lat: 91 },
      { lon: 0, lat: -90.5 },
    ]) {
      assertError(await create(c.name, { g: bad }), 400, 'g');
    }
    for (const bad of [{ lon: 'x', lat: 1 }, { lat: 1 }, 'nope', [1, 2]]) {
      assertError(await create(c.name, { g: bad }), 400, 'g');
    }
    assert.deepEqual(ok(await create(c.name, { g: { lon: 180, lat: -90 } })).g, { lon: 180, lat: -90 });
  });
});

describe('autodate and hidden fields', () => {
  test('created and updated are set by the server, ignore client values, and only updated moves on update', async () => {
    const c = await makeCollection([
      { name: 'title', type: 'text' },
      { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
      { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
    ]);
    const fake = '2001-01-01 00:00:00.000Z';
    const before = Date.now();
    const rec = ok(await create(c.name, { title: 'a', created: fake, updated: fake }));
    assert.match(rec.created, DATE_RE);
    assert.match(rec.updated, DATE_RE);
    assert.notEqual(rec.created, fake);
    assert.ok(Math.abs(Date.parse(rec.created.replace(' ', 'T')) - before) < 60_000);
    assert.equal(rec.created, rec.updated);
    await new Promise((r) => setTimeout(r, 5));
    const upd = ok(await update(c.name, rec.id, { title: 'b', created: fake, updated: fake }));
    assert.equal(upd.created, rec.created);
    assert.notEqual(upd.updated, fake);
    assert.ok(upd.updated > rec.updated, `${upd.updated} > ${rec.updated}`);
    const read = ok(await view(c.name, rec.id));
    assert.equal(read.created, rec.created);
    assert.equal(read.updated, upd.updated);
  });

  test('hidden fields are left out for guests and returned to superusers', async () => {
    const c = await makeCollection([
      { name: 'title', type: 'text' },
      { name: 'secret', type: 'text', hidden: true },
    ]);
    // A guest's value for a hidden field is ignored; the superuser sets it.
    const asGuest = ok(await create(c.name, { title: 't', secret: 'guess' }, GUEST));
    assert.equal((await srv.admin.collection(c.name).getOne(asGuest.id)).secret, '');
    await srv.admin.collection(c.name).update(asGuest.id, { secret: 's' });
    assert.equal('secret' in asGuest, false);
    assert.equal('secret' in ok(await view(c.name, asGuest.id, GUEST)), false);
    assert.equal('secret' in ok(await list(c.name, '', GUEST)).items[0], false);
    assert.equal(ok(await view(c.name, asGuest.id)).secret, 's');
    assert.equal(ok(await list(c.name)).items[0].secret, 's');
    assert.equal((await srv.admin.collection(c.name).getOne(asGuest.id)).secret, 's');
    const upd = ok(await update(c.name, asGuest.id, { title: 'u' }, GUEST));
    assert.equal('secret' in upd, false);
  });
});

describe('write modifiers', () => {
  test('n+ and n- add to and subtract from a number', async () => {
    const c = await makeCollection([{ name: 'n', type: 'number', max: 100 }]);
    const rec = ok(await create(c.name, { n: 10 }));
    assert.equal(ok(await update(c.name, rec.id, { 'n+': 5 })).n, 15);
    assert.equal(ok(await update(c.name, rec.id, { 'n-': 20 })).n, -5);
    assert.equal(ok(await update(c.name, rec.id, { 'n+': '2.5' })).n, -2.5);
    assertError(await update(c.name, rec.id, { 'n+': 200 }), 400, 'n', 'validation_max_number_constraint');
    assertError(await update(c.name, rec.id, { 'n+': 'abc' }), 400, 'n');
    assert.equal(ok(await view(c.name, rec.id)).n, -2.5);
    // on create the modifier applies to the zero value (after the plain value)
    assert.equal(ok(await create(c.name, { n: 1, 'n+': 2 })).n, 3);
    const sdk = await srv.admin.collection(c.name).update(rec.id, { 'n+': 2.5 });
    assert.equal(sdk.n, 0);
  });

  test('parallel n+ updates are not lost', async () => {
    const c = await makeCollection([{ name: 'n', type: 'number' }]);
    const rec = ok(await create(c.name, {}));
    const results = await Promise.all(Array.from({ length: 40 }, () => update(c.name, rec.id, { 'n+': 1 })));
    for (const r of results) assert.equal(r.status, 200);
    assert.equal(ok(await view(c.name, rec.id)).n, 40);
  });

  test('tags+, +tags and tags- append, prepend and remove on a multi select', async () => {
    const c = await makeCollection([
      { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'd'], maxSelect: 3 },
    ]);
    const rec = ok(await create(c.name, { tags: ['b'] }));
    assert.deepEqual(ok(await update(c.name, rec.id, { 'tags+': 'c' })).tags, ['b', 'c']);
    assert.deepEqual(ok(await update(c.name, rec.id, { '+tags': ['a', 'b'] })).tags, ['a', 'b', 'c']);
    assert.deepEqual(ok(await update(c.name, rec.id, { 'tags-': ['b', 'd'] })).tags, ['a', 'c']);
    assertError(
      await update(c.name, rec.id, { 'tags+': ['b', 'd'] }),
      400,
      'tags',
      'validation_too_many_values',
    );
    assertError(await update(c.name, rec.id, { 'tags+': 'z' }), 400, 'tags', 'validation_invalid_value');
    assert.deepEqual(ok(await view(c.name, rec.id)).tags, ['a', 'c']);
    // like PocketBase: old and new values are joined in order and the first occurrence of each is kept
    assert.deepEqual(ok(await update(c.name, rec.id, { '+tags': ['c', 'b'] })).tags, ['c', 'b', 'a']);
    assert.deepEqual(ok(await update(c.name, rec.id, { 'tags+': ['c'] })).tags, ['c', 'b', 'a']);
    assert.deepEqual(ok(await update(c.name, rec.id, { 'tags-': 'z' })).tags, ['c', 'b', 'a']);
    // a plain value and a modifier in one body: the value first, then the modifier
    assert.deepEqual(ok(await update(c.name, rec.id, { tags: ['d'], 'tags+': 'a' })).tags, ['d', 'a']);
  });

  test('modifiers on a single select set or clear its one value', async () => {
    const c = await makeCollection([{ name: 'status', type: 'select', values: ['draft', 'live', 'gone'] }]);
    const rec = ok(await create(c.name, {}));
    assert.equal(ok(await update(c.name, rec.id, { 'status+': 'draft' })).status, 'draft');
    assert.equal(ok(await update(c.name, rec.id, { 'status+': 'live' })).status, 'live');
    // removing a value it does not hold changes nothing; removing its value clears it
    assert.equal(ok(await update(c.name, rec.id, { 'status-': 'draft' })).status, 'live');
    assert.equal(ok(await update(c.name, rec.id, { 'status-': 'live' })).status, '');
    assert.equal(ok(await update(c.name, rec.id, { '+status': 'gone' })).status, 'gone');
    // like PocketBase, a prepend lands before the current value, and the last value wins
    assert.equal(ok(await update(c.name, rec.id, { '+status': 'draft' })).status, 'gone');
    assert.equal(ok(await update(c.name, rec.id, { 'status+': ['live', 'gone'] })).status, 'live');
  });

  test('rel+, +rel and rel- edit a multi relation and check the ids exist', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const [a, b, c3] = await Promise.all(
      ['a', 'b', 'c'].map(async (t) => ok(await create(target.name, { title: t }))),
    );
    const c = await makeCollection([
      { name: 'rel', type: 'relation', collectionId: target.id, maxSelect: 5 },
    ]);
    const rec = ok(await create(c.name, { rel: [b.id] }));
    assert.deepEqual(ok(await update(c.name, rec.id, { 'rel+': c3.id })).rel, [b.id, c3.id]);
    assert.deepEqual(ok(await update(c.name, rec.id, { '+rel': a.id })).rel, [a.id, b.id, c3.id]);
    assert.deepEqual(ok(await update(c.name, rec.id, { 'rel-': [b.id] })).rel, [a.id, c3.id]);
    assertError(
      await update(c.name, rec.id, { 'rel+': 'missingmissing1' }),
      400,
      'rel',
      'validation_missing_rel_records',
    );
    assert.deepEqual(ok(await view(c.name, rec.id)).rel, [a.id, c3.id]);
  });
});

describe('sort', () => {
  let name: string;
  before(async () => {
    const c = await makeCollection([
      { name: 'title', type: 'text' },
      { name: 'n', type: 'number' },
      { name: 'secret', type: 'text', hidden: true },
    ]);
    name = c.name;
    for (const [title, n] of [
      ['b', 1],
      ['a', 2],
      ['c', 1],
      ['a', 1],
      ['d', 2],
    ] as const) {
      ok(await create(name, { title, n, secret: title }));
    }
  });

  test('-n,title sorts by n descending, then title ascending', async () => {
    const page = ok(await list(name, `?sort=${encodeURIComponent('-n,title')}`));
    assert.deepEqual(
      page.items.map((r: Json) => `${r.n}${r.title}`),
      ['2a', '2d', '1a', '1b', '1c'],
    );
    const sdk = await srv.admin.collection(name).getFullList({ sort: '+title,-n' });
    assert.deepEqual(
      sdk.map((r) => `${r.title}${r.n}`),
      ['a2', 'a1', 'b1', 'c1', 'd2'],
    );
  });

  test('@random and @rowid work', async () => {
    const random = ok(await list(name, '?sort=@random'));
    assert.equal(random.items.length, 5);
    const rowid = ok(await list(name, '?sort=@rowid'));
    assert.deepEqual(
      rowid.items.map((r: Json) => `${r.title}${r.n}`),
      ['b1', 'a2', 'c1', 'a1', 'd2'],
    );
    const desc = ok(await list(name, '?sort=-@rowid'));
    assert.deepEqual(
      desc.items.map((r: Json) => r.id),
      [...rowid.items].reverse().map((r: Json) => r.id),
    );
  });

  test('an unknown field, more than 8 keys, or a hidden field for a non-superuser is a 400', async () => {
    assertError(await list(name, '?sort=nope'), 400);
    assertError(await list(name, `?sort=${encodeURIComponent('title;DROP TABLE x')}`), 400);
    const nine = Array.from({ length: 9 }, () => 'title').join(',');
    assertError(await list(name, `?sort=${nine}`), 400);
    const eight = Array.from({ length: 8 }, () => 'title').join(',');
    ok(await list(name, `?sort=${eight}`));
    assertError(await list(name, '?sort=secret', GUEST), 400);
    assert.deepEqual(
      ok(await list(name, '?sort=-secret')).items.map((r: Json) => r.secret),
      ['d', 'c', 'b', 'a', 'a'],
    );
  });
});

describe('rules', () => {
  test('a collection with every rule "" is fully usable by guests', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }]);
    const guest = srv.client().collection(c.name);
    const rec = await guest.create({ title: 'g' });
    assert.equal((await guest.getOne(rec.id)).title, 'g');
    assert.equal((await guest.getList(1, 10)).totalItems, 1);
    assert.equal((await guest.update(rec.id, { title: 'h' })).title, 'h');
    assert.equal(await guest.delete(rec.id), true);
  });

  test('with every rule null a guest gets 403 everywhere while the superuser succeeds', async () => {
    const c = await makeCollection([{ name: 'title', type: 'text' }], {
      listRule: null,
      viewRule: null,
      createRule: null,
      updateRule: null,
      deleteRule: null,
    });
    const rec = ok(await create(c.name, { title: 'x' }));
    assertError(await list(c.name, '', GUEST), 403);
    assertError(await view(c.name, rec.id, GUEST), 403);
    assertError(await create(c.name, { title: 'y' }, GUEST), 403);
    assertError(await update(c.name, rec.id, { title: 'y' }, GUEST), 403);
    assertError(await remove(c.name, rec.id, GUEST), 403);
    const guest = srv.client().collection(c.name);
    await sdkRejects(guest.getFullList(), 403);
    await sdkRejects(guest.create({ title: 'y' }), 403);
    // a signed-in regular user is not a superuser either
    const userToken = await makeUserOf('users');
    assertError(await list(c.name, '', userToken), 403);
    assertError(await create(c.name, { title: 'y' }, userToken), 403);

    assert.equal(ok(await list(c.name)).totalItems, 1);
    assert.equal(ok(await view(c.name, rec.id)).title, 'x');
    assert.equal(ok(await update(c.name, rec.id, { title: 'z' })).title, 'z');
    assert.equal((await remove(c.name, rec.id)).status, 204);
  });
});

let userSeq = 0;
/** Creates a user in an auth collection (as the superuser) and returns its token. */
async function makeUserOf(collection: string): Promise<string> {
  const email = `user${++userSeq}_${Date.now()}@example.com`;
  ok(await create(collection, { email, password: 'password123', passwordConfirm: 'password123' }));
  return login(collection, email, 'password123');
}

describe('auth collections through the records API', () => {
  let users: string;
  before(async () => {
    const c = await makeCollection([{ name: 'name', type: 'text' }], {
      type: 'auth',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: null,
    });
    users = c.name;
  });

  test('a guest signs up with password and passwordConfirm; password and tokenKey never appear', async () => {
    const res = await create(
      users,
      { email: 'signup@example.com', password: 'password123', passwordConfirm: 'password123', name: 'S' },
      GUEST,
    );
    const rec = ok(res);
    assert.equal(rec.name, 'S');
    assert.equal(rec.verified, false);
    assert.equal(rec.emailVisibility, false);
    assert.equal('password' in rec, false);
    assert.equal('tokenKey' in rec, false);
    assert.equal('passwordConfirm' in rec, false);
    for (const r of [ok(await view(users, rec.id)), ...ok(await list(users)).items]) {
      assert.equal('password' in r, false);
      assert.equal('tokenKey' in r, false);
    }
    const auth = await srv.client().collection(users).authWithPassword('signup@example.com', 'password123');
    assert.equal(auth.record.id, rec.id);
    assert.equal('password' in auth.record, false);
    assert.equal('tokenKey' in auth.record, false);
  });

  test('sign-up rejects a mismatched confirmation, a short password and a missing password', async () => {
    assertError(
      await create(
        users,
        { email: 'mm@example.com', password: 'password123', passwordConfirm: 'password124' },
        GUEST,
      ),
      400,
      'passwordConfirm',
    );
    assertError(
      await create(users, { email: 'short@example.com', password: 'short', passwordConfirm: 'short' }, GUEST),
      400,
      'password',
    );
    assertError(
      await create(users, { email: 'nopass@example.com' }, GUEST),
      400,
      'password',
      'validation_required',
    );
    assertError(
      await create(
        users,
        { email: 'not-an-email', password: 'password123', passwordConfirm: 'password123' },
        GUEST,
      ),
      400,
      'email',
    );
    assert.equal(
      ok(await list(users)).items.some((r: Json) =>
        ['mm@example.com', 'short@example.com'].includes(r.email),
      ),
      false,
    );
  });

  test('an email is unique, case-insensitively', async () => {
    ok(
      await create(users, {
        email: 'Dup@Example.com',
        password: 'password123',
        passwordConfirm: 'password123',
      }),
    );
    assertError(
      await create(users, {
        email: 'dup@example.com',
        password: 'password123',
        passwordConfirm: 'password123',
      }),
      400,
      'email',
      'validation_not_unique',
    );
  });

  test('the email is hidden from guests and other users unless emailVisibility, but the owner sees it', async () => {
    const hidden = ok(
      await create(users, {
        email: 'hidden@example.com',
        password: 'password123',
        passwordConfirm: 'password123',
      }),
    );
    const shown = ok(
      await create(users, {
        email: 'shown@example.com',
        emailVisibility: true,
        password: 'password123',
        passwordConfirm: 'password123',
      }),
    );
    // the superuser sees both
    assert.equal(hidden.email, 'hidden@example.com');
    const otherToken = await makeUserOf(users);
    for (const token of [GUEST, otherToken]) {
      const h = ok(await view(users, hidden.id, token));
      assert.equal('email' in h, false);
      const s = ok(await view(users, shown.id, token));
      assert.equal(s.email, 'shown@example.com');
      const items = ok(await list(users, '?perPage=1000', token)).items;
      assert.equal('email' in items.find((r: Json) => r.id === hidden.id), false);
    }
    const ownToken = await login(users, 'hidden@example.com', 'password123');
    assert.equal(ok(await view(users, hidden.id, ownToken)).email, 'hidden@example.com');
  });

  test('changing one’s own password needs oldPassword and ends the other sessions, not this one', async () => {
    const email = 'changer@example.com';
    const rec = ok(
      await create(users, { email, password: 'password123', passwordConfirm: 'password123' }, GUEST),
    );
    const token = await login(users, email, 'password123');
    const change = { password: 'newpassword456', passwordConfirm: 'newpassword456' };
    assertError(await update(users, rec.id, change, token), 400, 'oldPassword');
    assertError(
      await update(users, rec.id, { ...change, oldPassword: 'wrong-password' }, token),
      400,
      'oldPassword',
    );
    // nothing changed yet: the old token still works
    assert.equal(
      (await srv.request('POST', `/api/collections/${users}/auth-refresh`, { token })).status,
      200,
    );
    const elsewhere = await login(users, email, 'password123');
    ok(await update(users, rec.id, { ...change, oldPassword: 'password123' }, token));
    const refresh = await srv.request('POST', `/api/collections/${users}/auth-refresh`, { token });
    assert.equal(refresh.status, 200);
    assertError(
      await srv.request('POST', `/api/collections/${users}/auth-refresh`, { token: elsewhere }),
      401,
    );
    const bad = await srv.request('POST', `/api/collections/${users}/auth-with-password`, {
      body: { identity: email, password: 'password123' },
    });
    assertError(bad, 400);
    const fresh = await login(users, email, 'newpassword456');
    const refreshed = await srv.request('POST', `/api/collections/${users}/auth-refresh`, { token: fresh });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body.record.id, rec.id);
  });

  test('a user cannot change their own email through an update, a superuser can', async () => {
    const email = 'mover@example.com';
    const rec = ok(
      await create(users, { email, password: 'password123', passwordConfirm: 'password123' }, GUEST),
    );
    const token = await login(users, email, 'password123');
    assertError(await update(users, rec.id, { email: 'moved@example.com' }, token), 400, 'email');
    // other fields of one's own record can change
    assert.equal(
      ok(await update(users, rec.id, { name: 'Mover', emailVisibility: true }, token)).name,
      'Mover',
    );
    assert.equal(ok(await update(users, rec.id, { email: 'moved@example.com' })).email, 'moved@example.com');
    await login(users, 'moved@example.com', 'password123');
  });

  test('a superuser changes a password without oldPassword', async () => {
    const email = 'managed@example.com';
    const rec = ok(await create(users, { email, password: 'password123', passwordConfirm: 'password123' }));
    ok(await update(users, rec.id, { password: 'otherpass789', passwordConfirm: 'otherpass789' }));
    await login(users, email, 'otherpass789');
  });

  test('a non-superuser cannot set or change verified; a superuser can', async () => {
    assertError(
      await create(
        users,
        { email: 'v1@example.com', password: 'password123', passwordConfirm: 'password123', verified: true },
        GUEST,
      ),
      400,
      'verified',
    );
    const rec = ok(
      await create(
        users,
        { email: 'v2@example.com', password: 'password123', passwordConfirm: 'password123' },
        GUEST,
      ),
    );
    const token = await login(users, 'v2@example.com', 'password123');
    assertError(await update(users, rec.id, { verified: true }, token), 400, 'verified');
    assertError(await update(users, rec.id, { verified: true }, GUEST), 400, 'verified');
    assert.equal(ok(await view(users, rec.id)).verified, false);
    assert.equal(ok(await update(users, rec.id, { verified: true })).verified, true);
    const made = ok(
      await create(users, {
        email: 'v3@example.com',
        password: 'password123',
        passwordConfirm: 'password123',
        verified: true,
      }),
    );
    assert.equal(made.verified, true);
  });

  test('a tokenKey in a body is ignored', async () => {
    const tokenKey = 'k'.repeat(50);
    const rec = ok(
      await create(
        users,
        { email: 'tk@example.com', password: 'password123', passwordConfirm: 'password123', tokenKey },
        GUEST,
      ),
    );
    assert.equal('tokenKey' in rec, false);
    const collection = srv.app.collections.get(users);
    const stored = await srv.app.records.find(collection, rec.id);
    assert.notEqual(stored?.tokenKey, tokenKey);
    const token = await login(users, 'tk@example.com', 'password123');
    ok(await update(users, rec.id, { tokenKey, name: 'renamed' }));
    assert.equal((await srv.app.records.find(collection, rec.id))?.tokenKey, stored?.tokenKey);
    // the existing session still authenticates
    assert.equal(
      (await srv.request('POST', `/api/collections/${users}/auth-refresh`, { token })).status,
      200,
    );
  });
});

describe('relations', () => {
  test('creating with a missing id is a 400 validation_missing_rel_records', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const t = ok(await create(target.name, { title: 't' }));
    const c = await makeCollection([
      { name: 'one', type: 'relation', collectionId: target.id },
      { name: 'many', type: 'relation', collectionId: target.id, maxSelect: 3 },
    ]);
    assertError(
      await create(c.name, { one: 'missingmissing1' }),
      400,
      'one',
      'validation_missing_rel_records',
    );
    assertError(
      await create(c.name, { many: [t.id, 'missingmissing1'] }),
      400,
      'many',
      'validation_missing_rel_records',
    );
    // duplicates collapse before maxSelect is checked
    assert.deepEqual(ok(await create(c.name, { many: [t.id, t.id, t.id, t.id] })).many, [t.id]);
    const more = await Promise.all(
      ['b', 'c', 'd'].map(async (x) => ok(await create(target.name, { title: x })).id),
    );
    assertError(await create(c.name, { many: [t.id, ...more] }), 400, 'many', 'validation_too_many_values');
    assertError(await create(c.name, { one: { id: t.id } }), 400, 'one');
    const rec = ok(await create(c.name, { one: t.id, many: [t.id] }));
    assert.equal(rec.one, t.id);
    assert.deepEqual(rec.many, [t.id]);
    assertError(
      await update(c.name, rec.id, { one: 'missingmissing2' }),
      400,
      'one',
      'validation_missing_rel_records',
    );
  });

  test('deleting a referenced record removes its id from a multi relation', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (t) => ok(await create(target.name, { title: t }))),
    );
    const c = await makeCollection([
      { name: 'many', type: 'relation', collectionId: target.id, maxSelect: 5 },
      { name: 'one', type: 'relation', collectionId: target.id },
    ]);
    const rec = ok(await create(c.name, { many: [a.id, b.id], one: a.id }));
    assert.equal((await remove(target.name, a.id)).status, 204);
    const after = ok(await view(c.name, rec.id));
    assert.deepEqual(after.many, [b.id]);
    assert.equal(after.one, '');
  });

  test('cascadeDelete deletes the referencing record when its relation empties', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (t) => ok(await create(target.name, { title: t }))),
    );
    const c = await makeCollection([
      { name: 'parent', type: 'relation', collectionId: target.id, cascadeDelete: true },
    ]);
    const multi = await makeCollection([
      { name: 'parents', type: 'relation', collectionId: target.id, cascadeDelete: true, maxSelect: 5 },
    ]);
    const child = ok(await create(c.name, { parent: a.id }));
    const other = ok(await create(c.name, { parent: b.id }));
    const both = ok(await create(multi.name, { parents: [a.id, b.id] }));
    const onlyA = ok(await create(multi.name, { parents: [a.id] }));
    assert.equal((await remove(target.name, a.id)).status, 204);
    assertError(await view(c.name, child.id), 404);
    assert.equal(ok(await view(c.name, other.id)).parent, b.id);
    assert.deepEqual(ok(await view(multi.name, both.id)).parents, [b.id]);
    assertError(await view(multi.name, onlyA.id), 404);
  });

  test('a required single relation blocks the delete and nothing is deleted', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const t = ok(await create(target.name, { title: 't' }));
    const cascade = await makeCollection([
      { name: 'parent', type: 'relation', collectionId: target.id, cascadeDelete: true },
    ]);
    const required = await makeCollection([
      { name: 'parent', type: 'relation', collectionId: target.id, required: true },
    ]);
    const optional = await makeCollection([
      { name: 'parents', type: 'relation', collectionId: target.id, maxSelect: 3 },
    ]);
    const c1 = ok(await create(cascade.name, { parent: t.id }));
    const r1 = ok(await create(required.name, { parent: t.id }));
    const o1 = ok(await create(optional.name, { parents: [t.id] }));
    assertError(await remove(target.name, t.id), 400);
    // all-or-nothing: the target, the cascade candidate and the other references are intact
    assert.equal(ok(await view(target.name, t.id)).title, 't');
    assert.equal(ok(await view(cascade.name, c1.id)).parent, t.id);
    assert.equal(ok(await view(required.name, r1.id)).parent, t.id);
    assert.deepEqual(ok(await view(optional.name, o1.id)).parents, [t.id]);
    // once the blocking record is gone, the delete goes through
    assert.equal((await remove(required.name, r1.id)).status, 204);
    assert.equal((await remove(target.name, t.id)).status, 204);
    assertError(await view(cascade.name, c1.id), 404);
    assert.deepEqual(ok(await view(optional.name, o1.id)).parents, []);
  });

  test('a required multi relation blocks the delete that would empty it, not one that leaves ids', async () => {
    const target = await makeCollection([{ name: 'title', type: 'text' }]);
    const [a, b] = await Promise.all(
      ['a', 'b'].map(async (t) => ok(await create(target.name, { title: t }))),
    );
    const c = await makeCollection([
      { name: 'rs', type: 'relation', collectionId: target.id, maxSelect: 3, required: true },
    ]);
    const both = ok(await create(c.name, { rs: [a.id, b.id] }));
    const onlyA = ok(await create(c.name, { rs: [a.id] }));
    assertError(await remove(target.name, a.id), 400);
    assert.deepEqual(ok(await view(c.name, both.id)).rs, [a.id, b.id]);
    assert.equal(ok(await view(target.name, a.id)).title, 'a');
    assert.equal((await remove(target.name, b.id)).status, 204);
    assert.deepEqual(ok(await view(c.name, both.id)).rs, [a.id]);
    assert.deepEqual(ok(await view(c.name, onlyA.id)).rs, [a.id]);
  });

  test('a relation to an auth collection cascades when the user is deleted', async () => {
    const c = await makeCollection([
      { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', cascadeDelete: true },
    ]);
    const user = ok(
      await create('users', {
        email: 'owner@example.com',
        password: 'password123',
        passwordConfirm: 'password123',
      }),
    );
    const owned = ok(await create(c.name, { owner: user.id }));
    assert.equal((await remove('users', user.id)).status, 204);
    assertError(await view(c.name, owned.id), 404);
  });

  test('a collection can relate to itself', async () => {
    const id = `pbc_self${++seq}`;
    const c = await makeCollection(
      [
        { name: 'title', type: 'text' },
        { name: 'parent', type: 'relation', collectionId: id, cascadeDelete: true },
        { name: 'links', type: 'relation', collectionId: id, maxSelect: 10 },
      ],
      { id },
    );
    assert.equal(c.id, id);
    const root = ok(await create(c.name, { title: 'root' }));
    const child = ok(await create(c.name, { title: 'child', parent: root.id, links: [root.id] }));
    const grandchild = ok(await create(c.name, { title: 'grandchild', parent: child.id }));
    const loner = ok(await create(c.name, { title: 'loner', links: [root.id, child.id] }));
    // a record may point at itself
    ok(await update(c.name, loner.id, { 'links+': loner.id }));
    assertError(await update(c.name, loner.id, { parent: 'missingmissing1' }), 400, 'parent');
    assert.equal((await remove(c.name, root.id)).status, 204);
    assertError(await view(c.name, child.id), 404);
    assertError(await view(c.name, grandchild.id), 404);
    assert.deepEqual(ok(await view(c.name, loner.id)).links, [loner.id]);
    assert.equal((await remove(c.name, loner.id)).status, 204);
    assert.equal(ok(await list(c.name)).totalItems, 0);
  });
});

describe('unique indexes', () => {
  test('a unique index violation is a 400 validation_not_unique on create and on update', async () => {
    const name = uniqueName('uniq');
    const c = await makeCollection(
      [
        { name: 'slug', type: 'text' },
        { name: 'a', type: 'text' },
        { name: 'b', type: 'number' },
      ],
      {
        name,
        indexes: [
          `CREATE UNIQUE INDEX idx_slug_${name} ON ${name} (slug)`,
          `CREATE UNIQUE INDEX idx_ab_${name} ON ${name} (a, b)`,
        ],
      },
    );
    const first = ok(await create(c.name, { slug: 'one', a: 'x', b: 1 }));
    const second = ok(await create(c.name, { slug: 'two', a: 'x', b: 2 }));
    assertError(await create(c.name, { slug: 'one' }), 400, 'slug', 'validation_not_unique');
    const pair = await create(c.name, { slug: 'three', a: 'x', b: 1 });
    assertError(pair, 400, 'a', 'validation_not_unique');
    assertError(pair, 400, 'b', 'validation_not_unique');
    assertError(await update(c.name, second.id, { slug: 'one' }), 400, 'slug', 'validation_not_unique');
    assertError(await update(c.name, second.id, { b: 1 }), 400, 'a', 'validation_not_unique');
    // a record may keep its own value
    assert.equal(ok(await update(c.name, first.id, { slug: 'one', b: 1 })).slug, 'one');
    assert.equal(ok(await view(c.name, second.id)).slug, 'two');
    assert.equal(ok(await list(c.name)).totalItems, 2);
    const err = await sdkRejects(srv.admin.collection(c.name).create({ slug: 'two' }), 400);
    assert.equal(err.response.data.slug.code, 'validation_not_unique');
  });
});

describe('file fields with a JSON body', () => {
  test('refuses file names a JSON body makes up, on create, update and through modifiers', async () => {
    const c = await makeCollection([
      { name: 'doc', type: 'file' },
      { name: 'docs', type: 'file', maxSelect: 3 },
    ]);
    assertError(await create(c.name, { doc: '../../etc/passwd' }), 400, 'doc', 'validation_invalid_file');
    assertError(await create(c.name, { docs: ['a.txt'] }), 400, 'docs', 'validation_invalid_file');
    const rec = ok(await create(c.name, {}));
    assert.equal(rec.doc, '');
    assert.deepEqual(rec.docs, []);
    assertError(await update(c.name, rec.id, { 'docs+': 'x.png' }), 400, 'docs', 'validation_invalid_file');
    // Clearing is always allowed.
    ok(await update(c.name, rec.id, { doc: '', docs: [] }));
  });
});
