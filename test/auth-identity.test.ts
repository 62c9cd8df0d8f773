import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

describe('password sign-in by identity fields', () => {
  let server: TestServer;
  const password = 'password-123';
  before(async () => {
    server = await startServer();
    await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      body: { authThrottle: { enabled: false } },
    });
    await server.admin.collections.create({
      name: 'members',
      type: 'auth',
      createRule: '',
      fields: [
        { name: 'username', type: 'text', max: 50 },
        { name: 'code', type: 'text', max: 50 },
        { name: 'nickname', type: 'text', max: 50 },
      ],
      indexes: [
        'CREATE UNIQUE INDEX idx_members_username ON members (username COLLATE NOCASE)',
        'CREATE UNIQUE INDEX idx_members_code ON members (code)',
      ],
      passwordAuth: { enabled: true, identityFields: ['email', 'username', 'code'] },
    });
    await server.client().collection('members').create({
      email: 'ada@example.com',
      username: 'Ada',
      code: 'AbC',
      password,
      passwordConfirm: password,
    });
  });
  after(() => server.close());

  const signIn = (identity: string, identityField?: string) =>
    server.request('POST', '/api/collections/members/auth-with-password', {
      body: { identity, password, ...(identityField ? { identityField } : {}) },
    });

  test('any identity field signs in; a NOCASE index makes it case-insensitive, a plain one does not', async () => {
    for (const identity of ['ada@example.com', 'ADA@example.com', 'ada', 'ADA', 'AbC']) {
      const res = await signIn(identity);
      assert.equal(res.status, 200, identity);
      assert.equal(res.body.record.username, 'Ada');
    }
    assert.equal((await signIn('abc')).status, 400);
  });

  test('identityField limits the lookup to that field, and only to an identity field', async () => {
    assert.equal((await signIn('ada', 'username')).status, 200);
    assert.equal((await signIn('ada', 'email')).status, 400);
    assert.equal((await signIn('ada@example.com', 'nickname')).status, 400);
    // A field that is not an identity field is named, as PocketBase does (auth-methods lists them anyway).
    const notIdentity = await signIn('ada', 'nickname');
    assert.equal(notIdentity.body.data.identityField?.code, 'validation_in_invalid');
  });

  test('a field without a unique index of its own cannot be an identity field', async () => {
    const res = await server.request('PATCH', '/api/collections/members', {
      token: server.adminToken,
      body: { passwordAuth: { identityFields: ['email', 'nickname'] } },
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.passwordAuth.identityFields.code, 'validation_missing_unique_constraint');
    const after = await server.admin.collections.getOne('members');
    assert.deepEqual(after.passwordAuth.identityFields, ['email', 'username', 'code']);
  });
});

// The flood comes from 127.0.0.1, the other client from 127.0.0.2 (loopback answers the whole 127/8 on
// Linux). Two slots make the order of admission plain: in one first-come queue the other client would wait
// until the whole backlog had been admitted, so at least that many sign-ins would finish before its answer.
describe('a flood of sign-ins from one address', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ flags: { maxInFlight: 2, maxQueue: 200, maxInFlightPerIp: 0 } });
    await server.request('PATCH', '/api/settings', {
      token: server.adminToken,
      body: { authThrottle: { enabled: false } },
    });
  });
  after(() => server.close());

  test('leaves the next free slot to another address, and health answered at once', async () => {
    let finished = 0;
    const flood = Array.from({ length: 60 }, () =>
      server
        .request('POST', '/api/collections/_superusers/auth-with-password', {
          body: { identity: 'root@example.com', password: 'wrong-password' },
        })
        .then((r) => {
          finished++;
          return r.status;
        }),
    );
    while (server.app.server.admission.queued < 40) await new Promise((r) => setImmediate(r));
    const backlog = server.app.server.admission.queued;
    const finishedBefore = finished;
    const [health, list] = await Promise.all([
      getFrom(server.url, '127.0.0.2', '/api/health'),
      getFrom(server.url, '127.0.0.2', '/api/collections/_superusers/records', server.adminToken).then(
        (status) => {
          const meanwhile = finished - finishedBefore;
          assert.ok(
            meanwhile < backlog / 2,
            `it waited for the flood's backlog of ${backlog} (${meanwhile} done meanwhile)`,
          );
          return status;
        },
      ),
    ]);
    assert.equal(health, 200);
    assert.equal(list, 200);
    assert.deepEqual(new Set(await Promise.all(flood)), new Set([400]));
  });
});

/** A GET sent from the given local address; resolves with the status. */
function getFrom(url: string, localAddress: string, path: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url + path,
      { localAddress, headers: token ? { authorization: token } : {} },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
