import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import { SUPERUSER, startServer, type TestServer } from './helpers/server.ts';

describe('password auth and tokens', () => {
  let server: TestServer;
  let userToken = '';
  before(async () => {
    server = await startServer();
    const pb = server.client();
    await pb
      .collection('users')
      .create({ email: 'ann@example.com', password: 'ann-password', passwordConfirm: 'ann-password' });
    userToken = (await pb.collection('users').authWithPassword('ann@example.com', 'ann-password')).token;
  });
  after(() => server.close());

  it('stores passwords as argon2id with at least OWASP parameters (19 MiB, t=2, p=1)', async () => {
    const c = server.app.collections.get('users');
    const stored = await server.app.records.findBy(c, 'email', 'ann@example.com');
    const hash = String(stored?.password);
    const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(hash);
    assert.ok(m, hash.slice(0, 30));
    assert.ok(Number(m[1]) >= 19456 && Number(m[2]) >= 2 && Number(m[3]) === 1);
  });

  it('answers unknown accounts and wrong passwords the same way', async () => {
    const unknown = await server.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'nobody@example.com', password: 'whatever-password' },
    });
    const wrong = await server.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'ann@example.com', password: 'wrong-password' },
    });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body, wrong.body);
  });

  it('matches the email identity case-insensitively', async () => {
    const res = await server.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'ANN@example.com', password: 'ann-password' },
    });
    assert.equal(res.status, 200);
  });

  it('rejects non-string credentials with field errors', async () => {
    for (const body of [
      { identity: { $ne: '' }, password: 'x' },
      { identity: 'ann@example.com', password: ['x'] },
      {},
    ]) {
      const res = await server.request('POST', '/api/collections/users/auth-with-password', { body });
      assert.equal(res.status, 400);
      assert.equal(typeof res.body.data, 'object');
    }
  });

  it('issues EdDSA JWTs with a kid that another service can verify with the JWKS alone', async () => {
    const header = decodeProtectedHeader(userToken);
    assert.equal(header.alg, 'EdDSA');
    assert.ok(header.kid);
    const jwks = (await server.request('GET', '/.well-known/jwks.json')).body;
    const { payload } = await jwtVerify(userToken, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
    assert.equal(payload.type, 'auth');
    assert.equal(payload.collectionId, '_pb_users_auth_');
    assert.ok(Number(payload.exp) > Date.now() / 1000);
  });

  it('treats tampered, unsigned, foreign-key and expired tokens as no auth', async () => {
    const [h, p, s] = userToken.split('.') as [string, string, string];
    const claims = decodeJwt(userToken);
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const header = decodeProtectedHeader(userToken);
    const forged = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'EdDSA', kid: header.kid })
      .sign(other.privateKey);
    const expired = await new SignJWT({ ...claims, exp: 1 })
      .setProtectedHeader({ alg: 'EdDSA', kid: header.kid })
      .sign(other.privateKey);
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
    const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: header.kid })).toString('base64url')}.${p}.${s}`;
    const superClaims = Buffer.from(JSON.stringify({ ...claims, collectionId: 'pbc_3142635823' })).toString(
      'base64url',
    );
    const swapped = `${h}.${superClaims}.${s}`;
    for (const token of [
      forged,
      expired,
      none,
      hs,
      swapped,
      `${h}.${p}.${s.slice(0, -4)}AAAA`,
      'garbage',
      'a.b.c',
      'x'.repeat(10_000),
    ]) {
      const refresh = await server.request('POST', '/api/collections/users/auth-refresh', { token });
      assert.equal(refresh.status, 401, token.slice(0, 40));
      const admin = await server.request('GET', '/api/collections', { token });
      assert.equal(admin.status, 401);
    }
  });

  it('accepts the token with or without a Bearer prefix', async () => {
    for (const token of [userToken, `Bearer ${userToken}`, `bearer ${userToken}`]) {
      const res = await server.request('POST', '/api/collections/users/auth-refresh', { token });
      assert.equal(res.status, 200);
    }
  });

  it('refuses a token of one auth collection on another collection’s refresh', async () => {
    const res = await server.request('POST', '/api/collections/_superusers/auth-refresh', {
      token: userToken,
    });
    assert.equal(res.status, 403);
  });

  it('retires every token of a user when the password changes', async () => {
    const pb = server.client();
    const u = await pb
      .collection('users')
      .create({ email: 'bob@example.com', password: 'bob-password', passwordConfirm: 'bob-password' });
    const old = (await pb.collection('users').authWithPassword('bob@example.com', 'bob-password')).token;
    await server.admin
      .collection('users')
      .update(u.id, { password: 'bob-new-password', passwordConfirm: 'bob-new-password' });
    const refresh = await server.request('POST', '/api/collections/users/auth-refresh', { token: old });
    assert.equal(refresh.status, 401);
    const login = await server.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: 'bob@example.com', password: 'bob-new-password' },
    });
    assert.equal(login.status, 200);
  });

  it('gives superuser powers only to _superusers tokens', async () => {
    const asUser = await server.request('GET', '/api/collections', { token: userToken });
    assert.equal(asUser.status, 403);
    const asAdmin = await server.request('GET', '/api/collections', { token: server.adminToken });
    assert.equal(asAdmin.status, 200);
    const login = await server.request('POST', '/api/collections/_superusers/auth-with-password', {
      body: { identity: SUPERUSER.email, password: SUPERUSER.password },
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.record.collectionId, 'pbc_3142635823');
  });

  it('never returns password hashes or token keys, even to superusers', async () => {
    const list = await server.request('GET', '/api/collections/users/records', { token: server.adminToken });
    assert.equal(list.status, 200);
    for (const item of list.body.items) {
      assert.equal(item.password, undefined);
      assert.equal(item.tokenKey, undefined);
    }
  });
});
