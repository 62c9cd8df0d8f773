import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

describe('password sign-in by identity fields, and what a sign-in flood leaves for everyone else', () => {
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

  // Skipped: it passed by timing only. 40 sign-ins from one address fit in that address's admission share
  // (80), so a request from the same address queues behind them in the FIFO queue; on today's machines the
  // flood finishes first (it fails the same way at bd47836). To be rewritten with two client addresses.
  test('while a flood of sign-ins is being hashed, other requests are answered', {
    skip: 'timing-dependent: same-address requests queue behind the flood (see comment)',
  }, async () => {
    let finished = 0;
    const flood = Array.from({ length: 40 }, () =>
      server
        .request('POST', '/api/collections/members/auth-with-password', {
          body: { identity: 'ada@example.com', password: 'wrong-password' },
        })
        .then((r) => {
          finished++;
          return r.status;
        }),
    );
    // Give the flood a head start so its hashes hold every slot.
    await new Promise((r) => setTimeout(r, 20));
    const health = await server.request('GET', '/api/health');
    const list = await server.request('GET', '/api/collections/members/records', {
      token: server.adminToken,
    });
    const finishedWhenAnswered = finished;
    assert.equal(health.status, 200);
    assert.equal(list.status, 200);
    assert.ok(
      finishedWhenAnswered < 40,
      `other requests waited for the whole flood (${finishedWhenAnswered} of 40 sign-ins done)`,
    );
    assert.deepEqual(new Set(await Promise.all(flood)), new Set([400]));
  });
});
