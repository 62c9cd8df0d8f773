import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SUPERUSER, startServer, type TestServer } from './helpers/server.ts';

// PostgreSQL's TEXT and JSONB cannot hold U+0000; SQLite and MySQL can. So that every engine answers
// alike, client strings with it are refused before they reach any database.
const NUL = '\u0000';

describe('strings holding U+0000', () => {
  let server: TestServer;
  let T = '';
  const C = 'nul_items';
  let R = '';
  let original: unknown;

  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
  const req = (method: string, path: string, body?: unknown, token = T): Promise<any> =>
    server.request(method, path, { body, token });

  /** A 400 in PocketBase's shape, with an error on `field` (`validation_invalid_value` unless `code` says). */
  function assertRefused(
    // biome-ignore lint/suspicious/noExplicitAny: see req.
    res: any,
    field: string | undefined,
    context: string,
    code: string | null = 'validation_invalid_value',
  ): void {
    assert.equal(res.status, 400, `${context}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.equal(res.body.status, 400);
    assert.equal(typeof res.body.message, 'string');
    if (!field) return;
    assert.ok(res.body.data[field], `${context}: ${JSON.stringify(res.body)}`);
    if (code) assert.equal(res.body.data[field].code, code, `${context}: ${JSON.stringify(res.body)}`);
  }

  before(async () => {
    server = await startServer();
    T = server.adminToken;
    const created = await req('POST', '/api/collections', {
      name: C,
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      deleteRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'body', type: 'editor' },
        { name: 'mail', type: 'email' },
        { name: 'site', type: 'url' },
        { name: 'one', type: 'select', values: ['a', 'b'], maxSelect: 1 },
        { name: 'many', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
        { name: 'owners', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 5 },
        { name: 'meta', type: 'json' },
      ],
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const rec = await req('POST', `/api/collections/${C}/records`, { title: 'original', many: ['a'] });
    assert.equal(rec.status, 200, JSON.stringify(rec.body));
    R = rec.body.id;
    original = rec.body;
  });
  after(() => server.close());

  const values: [string, unknown][] = [
    ['title', `a${NUL}b`],
    ['title', NUL],
    ['body', `<p>${NUL}</p>`],
    ['mail', `a${NUL}@example.com`],
    ['site', `https://example.com/${NUL}`],
    ['one', `a${NUL}`],
    ['many', ['a', NUL]],
    ['owner', `x${NUL}`],
    ['owners', [`x${NUL}`]],
    ['meta', NUL],
    ['meta', { k: `v${NUL}` }],
    ['meta', { [`k${NUL}`]: 1 }],
    ['meta', ['ok', { deep: [[`${NUL}`]] }]],
  ];

  it('refuses them in field values with 400 on the field, on create and on update', async () => {
    for (const [field, value] of values) {
      const context = `${field} ${JSON.stringify(value)}`;
      assertRefused(
        await req('POST', `/api/collections/${C}/records`, { [field]: value }),
        field,
        `create ${context}`,
      );
      assertRefused(
        await req('PATCH', `/api/collections/${C}/records/${R}`, { [field]: value }),
        field,
        `update ${context}`,
      );
    }
    for (const [key, value] of [
      ['many+', NUL],
      ['+many', [NUL]],
      ['many-', NUL],
      ['owners+', `y${NUL}`],
    ] as const) {
      const field = key.replace(/[+-]/g, '');
      assertRefused(await req('PATCH', `/api/collections/${C}/records/${R}`, { [key]: value }), field, key);
    }
    const list = await req('GET', `/api/collections/${C}/records`);
    assert.equal(list.body.totalItems, 1, 'nothing was created');
    assert.deepEqual((await req('GET', `/api/collections/${C}/records/${R}`)).body, original);
  });

  it('refuses a client-chosen record id with one, and answers ids with one in paths with 404', async () => {
    assertRefused(
      await req('POST', `/api/collections/${C}/records`, { id: `abcdefg${NUL}ijklmno` }),
      'id',
      'create id',
      // PocketBase's order: the id field's pattern is checked before the characters no id may hold.
      'validation_invalid_format',
    );
    for (const id of ['%00', `${R}%00`, `a%00b`]) {
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const res = await req(
          method,
          `/api/collections/${C}/records/${id}`,
          method === 'PATCH' ? { title: 'x' } : undefined,
        );
        assert.equal(res.status, 404, `${method} ${id}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.status, 404);
      }
    }
    assert.deepEqual((await req('GET', `/api/collections/${C}/records/${R}`)).body, original);
  });

  it('refuses sort and filter parameters with one', async () => {
    for (const query of ['sort=title%00', 'sort=-%00', 'filter=title%3D%27%00%27', 'filter=%00']) {
      for (const path of [`/api/collections/${C}/records`, '/api/collections']) {
        const res = await req('GET', `${path}?${query}`);
        assertRefused(res, undefined, `${path}?${query}`);
      }
    }
  });

  it('answers sign-in identities with one as an unknown account', async () => {
    for (const identity of [`${SUPERUSER.email}${NUL}`, `${NUL}${SUPERUSER.email}`, NUL]) {
      const res = await req(
        'POST',
        '/api/collections/_superusers/auth-with-password',
        {
          identity,
          password: SUPERUSER.password,
        },
        '',
      );
      assertRefused(res, undefined, JSON.stringify(identity));
      assert.equal(res.body.token, undefined);
    }
    const field = await req(
      'POST',
      '/api/collections/users/auth-with-password',
      {
        identity: 'someone@example.com',
        identityField: `email${NUL}`,
        password: 'whatever-123',
      },
      '',
    );
    assertRefused(field, undefined, 'identityField');
  });

  it('keeps passwords, which are only ever hashed, free to hold one', async () => {
    const email = 'nul-password@example.com';
    const password = `pass${NUL}word-123`;
    const created = await req('POST', '/api/collections/users/records', {
      email,
      password,
      passwordConfirm: password,
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const signIn = await req(
      'POST',
      '/api/collections/users/auth-with-password',
      { identity: email, password },
      '',
    );
    assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
    const wrong = await req(
      'POST',
      '/api/collections/users/auth-with-password',
      { identity: email, password: 'password-123' },
      '',
    );
    assert.equal(wrong.status, 400);
  });

  it('refuses collection definitions with one, on create, update and import', async () => {
    const before = (await req('GET', '/api/collections?perPage=1')).body.totalItems;
    const bodies: [string, Record<string, unknown>][] = [
      ['listRule', { listRule: `title = "${NUL}"` }],
      ['fields', { fields: [{ name: 's', type: 'select', values: ['a', `b${NUL}`] }] }],
      ['fields', { fields: [{ name: `t${NUL}`, type: 'text' }] }],
      ['fields', { fields: [{ name: 't', type: 'text', pattern: `^a${NUL}` }] }],
      [
        'indexes',
        {
          fields: [{ name: 't', type: 'text' }],
          indexes: [`CREATE INDEX idx_nul ON x (t) WHERE t = '${NUL}'`],
        },
      ],
      ['name', { name: `nul${NUL}x` }],
    ];
    for (const [field, body] of bodies) {
      const context = JSON.stringify(body);
      // Another check on the same key (a field name's pattern, say) may speak first.
      const created = await req('POST', '/api/collections', { name: 'nul_new', ...body });
      assertRefused(created, field, `create ${context}`, null);
      if (field !== 'name' && field !== 'indexes')
        assertRefused(await req('PATCH', `/api/collections/${C}`, body), field, `update ${context}`, null);
    }
    const imported = await req('PUT', '/api/collections/import', {
      collections: [{ name: 'nul_import', listRule: NUL }],
    });
    assert.equal(imported.status, 400, JSON.stringify(imported.body));
    assert.equal((await req('GET', '/api/collections?perPage=1')).body.totalItems, before);
    assert.equal((await req('GET', '/api/collections/nul_new')).status, 404);
    const schema = (await req('GET', `/api/collections/${C}`)).body;
    assert.equal(schema.listRule, '');
    assert.equal(schema.fields.length, 10);
  });
});
