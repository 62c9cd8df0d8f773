import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeProtectedHeader, exportPKCS8, generateKeyPair, jwtVerify } from 'jose';
import { startServer, type TestServer } from './helpers/server.ts';

describe('Sign in with Apple: the client secret and the authorization link', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const generate = (body: unknown, token = server.adminToken) =>
    server.request('POST', '/api/settings/apple/generate-client-secret', { token, body });

  test('a superuser turns the developer key into a client secret Apple would accept', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const res = await generate({
      clientId: 'com.example.app',
      teamId: 'TEAM123',
      keyId: 'KEY456',
      privateKey: pem,
      duration: 3600,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const { payload } = await jwtVerify(res.body.secret, publicKey, {
      issuer: 'TEAM123',
      subject: 'com.example.app',
      audience: 'https://appleid.apple.com',
      algorithms: ['ES256'],
    });
    assert.equal(decodeProtectedHeader(res.body.secret).kid, 'KEY456');
    assert.equal(payload.exp! - payload.iat!, 3600);
  });

  test('refuses bad keys, bad durations, missing fields and anyone but superusers', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pem = await exportPKCS8(privateKey);
    const base = { clientId: 'c', teamId: 't', keyId: 'k', privateKey: pem, duration: 60 };
    const rsa = await exportPKCS8((await generateKeyPair('RS256', { extractable: true })).privateKey);
    assert.equal(
      (await generate({ ...base, privateKey: 'not a key' })).body.data.privateKey.code,
      'validation_invalid_private_key',
    );
    assert.equal(
      (await generate({ ...base, privateKey: rsa })).body.data.privateKey.code,
      'validation_invalid_private_key',
    );
    for (const duration of [0, -1, 1.5, '60', 20_000_000])
      assert.equal(
        (await generate({ ...base, duration })).body.data.duration.code,
        'validation_invalid_duration',
      );
    const missing = await generate({ duration: 60 });
    assert.deepEqual(Object.keys(missing.body.data).sort(), ['clientId', 'keyId', 'privateKey', 'teamId']);
    assert.equal((await generate([])).status, 400);
    assert.equal((await generate(base, '')).status, 401);
    const user = server.client();
    await user
      .collection('users')
      .create({ email: 'apple@example.com', password: 'password-1', passwordConfirm: 'password-1' });
    await user.collection('users').authWithPassword('apple@example.com', 'password-1');
    assert.equal((await generate(base, user.authStore.token)).status, 403);
  });

  test("the sign-in link asks for Apple's form POST response", async () => {
    await server.admin.collections.update('users', {
      oauth2: {
        enabled: true,
        providers: [{ name: 'apple', clientId: 'com.example.app', clientSecret: 'jwt' }],
      },
    });
    const methods = await server.client().collection('users').listAuthMethods();
    const apple = methods.oauth2.providers.find((p) => p.name === 'apple')!;
    const url = new URL(apple.authURL);
    assert.equal(url.origin + url.pathname, 'https://appleid.apple.com/auth/authorize');
    assert.equal(url.searchParams.get('response_mode'), 'form_post');
    assert.equal(url.searchParams.get('client_id'), 'com.example.app');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(url.searchParams.get('nonce'));
  });
});
