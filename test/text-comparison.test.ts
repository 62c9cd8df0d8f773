// Text compares the same on every engine: exactly (accents and trailing spaces count), and where a
// comparison ignores case (COLLATE NOCASE, emails) it folds A-Z only, like SQLite's NOCASE.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let counter = 0;
const uniq = (prefix: string) => `${prefix}_${Date.now().toString(36)}${++counter}`;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked key by key.
type Body = Record<string, any>;

const call = (method: string, path: string, body?: unknown, token = server.adminToken) =>
  server.request(method, path, { body, token });

async function ok(method: string, path: string, body?: unknown): Promise<Body> {
  const res = await call(method, path, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Creates a record per value in order; answers which were refused as duplicates of an earlier one. */
async function duplicatesAmong(collection: string, field: string, values: string[]): Promise<string[]> {
  const refused: string[] = [];
  for (const value of values) {
    const res = await call('POST', `/api/collections/${collection}/records`, { [field]: value });
    if (res.status === 400 && res.body.data?.[field]?.code === 'validation_not_unique') refused.push(value);
    else assert.equal(res.status, 200, JSON.stringify(res.body));
  }
  return refused;
}

describe('text comparison', () => {
  test('a unique index tells apart accents, case and trailing spaces', async () => {
    const name = uniq('exact');
    await ok('POST', '/api/collections', {
      name,
      fields: [{ name: 'v', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_v ON ${name} (v)`],
    });
    const values = ['e', 'é', 'E', 'e ', ' e', 'e\u0301', 'ß', 'ss'];
    assert.deepEqual(await duplicatesAmong(name, 'v', [...values, 'é', 'e ']), ['é', 'e ']);
  });

  test('COLLATE NOCASE folds A-Z only: accented and other Unicode letters keep their case', async () => {
    const name = uniq('nocase');
    await ok('POST', '/api/collections', {
      name,
      fields: [{ name: 'v', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_v ON ${name} (v COLLATE NOCASE) WHERE v != ''`],
    });
    assert.deepEqual(
      await duplicatesAmong(name, 'v', [
        '',
        '',
        ' ',
        ' ',
        'abc',
        'ABC',
        'Abc ',
        'é',
        'É',
        'e',
        'k',
        '\u212a',
        'ǆ',
        'ǅ',
      ]),
      [' ', 'ABC'],
    );
  });

  test('email sign-in ignores A-Z case, never accents', async () => {
    const name = uniq('people');
    await ok('POST', '/api/collections', { name, type: 'auth', createRule: '' });
    const password = 'password123';
    await ok('POST', `/api/collections/${name}/records`, {
      email: 'rene@example.com',
      password,
      passwordConfirm: password,
    });
    const signIn = (identity: string) =>
      server.request('POST', `/api/collections/${name}/auth-with-password`, { body: { identity, password } });
    assert.equal((await signIn('rene@example.com')).status, 200);
    assert.equal((await signIn('RENE@Example.COM')).status, 200);
    assert.equal((await signIn('rené@example.com')).status, 400);
    assert.equal((await signIn('RENÉ@example.com')).status, 400);
    const dup = await call('POST', `/api/collections/${name}/records`, {
      email: 'René@example.com'.replace('é', 'e'),
      password,
      passwordConfirm: password,
    });
    assert.equal(dup.body.data?.email?.code, 'validation_not_unique', JSON.stringify(dup.body));
  });

  test('records show their fields only, never what an engine keeps for its indexes', async () => {
    const name = uniq('plain');
    await ok('POST', '/api/collections', {
      name,
      fields: [
        { name: 'a', type: 'text' },
        { name: 'b', type: 'number' },
        { name: 'tags', type: 'select', values: ['x', 'y'], maxSelect: 2 },
      ],
      indexes: [
        `CREATE UNIQUE INDEX idx_${name}_a ON ${name} (a COLLATE NOCASE, b) WHERE a != ''`,
        `CREATE INDEX idx_${name}_tags ON ${name} (tags, a DESC)`,
      ],
    });
    const created = await ok('POST', `/api/collections/${name}/records`, { a: 'x', b: 1, tags: ['y'] });
    const expected = ['collectionId', 'collectionName', 'id', 'a', 'b', 'tags'];
    assert.deepEqual(Object.keys(created), expected);
    assert.deepEqual(
      Object.keys(await ok('GET', `/api/collections/${name}/records/${created.id}`)),
      expected,
    );
    const list = await ok('GET', `/api/collections/${name}/records?sort=@rowid`);
    assert.deepEqual(Object.keys(list.items[0]), expected);
  });
});
