import assert from 'node:assert/strict';
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { TEST_ENGINE } from './helpers/databases.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// A small identity provider that misbehaves on purpose: the cases a real provider never produces.
// Plinth's generic `oidc` provider points at it; every misbehaviour must end in the same 400 and no account.

const REDIRECT = 'http://127.0.0.1:9/cb';
const FAILED = 'Failed to authenticate with the OAuth2 provider.';
const CLIENT_ID = 'plinth';
const CLIENT_SECRET = 'sekret';
const KID = 'hostile-key-1';

const nonceFor = (verifier: string) =>
  createHash('sha256').update(`plinth-oidc-nonce:${verifier}`).digest('base64url');
const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const emailOf = (scenario: string) => `${scenario}@hostile.test`;
const subOf = (scenario: string) => `sub-${scenario}`;

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

interface HostileProvider {
  url: string;
  issuer: string;
  /** How often each path was requested. */
  hits: Map<string, number>;
  /** The provider's own failures (a bug in this test, which must not pass for a refusal). */
  errors: string[];
  close(): Promise<void>;
}

/**
 * The scenario is the authorization code itself (and travels on in the access token), so each test picks its
 * misbehaviour by the code it sends, and tests cannot disturb each other.
 */
async function startHostileProvider(keys: Keys, rogue: Keys): Promise<HostileProvider> {
  const publicJwk = { ...(await exportJWK(keys.publicKey)), kid: KID, alg: 'RS256', use: 'sig' };
  const publicPem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({
    format: 'pem',
    type: 'spki',
  });
  const hits = new Map<string, number>();
  const errors: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let issuer = '';

  const sign = (
    claims: JWTPayload,
    key: Parameters<SignJWT['sign']>[0] = keys.privateKey,
    kid = KID,
    alg = 'RS256',
  ) => new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);

  /** The ID token and token response a correct provider would send, before a scenario bends them. */
  function baseClaims(scenario: string, verifier: string): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: issuer,
      aud: CLIENT_ID,
      sub: subOf(scenario),
      nonce: nonceFor(verifier),
      iat: now,
      exp: now + 600,
      email: emailOf(scenario),
      email_verified: true,
      name: `Hostile ${scenario}`,
    };
  }

  async function idTokenFor(scenario: string, verifier: string): Promise<string | undefined> {
    const claims = baseClaims(scenario, verifier);
    const now = Math.floor(Date.now() / 1000);
    switch (scenario) {
      case 'wrong-iss':
        return sign({ ...claims, iss: 'https://evil.example' });
      case 'wrong-aud':
        return sign({ ...claims, aud: 'another-client' });
      case 'aud-list-without-us':
        return sign({ ...claims, aud: ['another-client', 'third-client'] });
      case 'wrong-nonce':
        return sign({ ...claims, nonce: nonceFor('some-other-verifier-of-another-flow') });
      case 'missing-nonce': {
        const { nonce: _nonce, ...rest } = claims;
        return sign(rest);
      }
      case 'missing-sub': {
        const { sub: _sub, ...rest } = claims;
        return sign(rest);
      }
      case 'missing-iat': {
        const { iat: _iat, ...rest } = claims;
        return sign(rest);
      }
      case 'rogue-key-same-kid':
        return sign(claims, rogue.privateKey);
      case 'rogue-key-own-kid':
        return sign(claims, rogue.privateKey, 'rogue-key');
      case 'alg-none':
        return `${b64json({ alg: 'none', typ: 'JWT' })}.${b64json(claims)}.`;
      case 'hs256-public-pem':
        return sign(claims, new TextEncoder().encode(String(publicPem)), KID, 'HS256');
      case 'hs256-public-jwk':
        return sign(claims, new TextEncoder().encode(JSON.stringify(publicJwk)), KID, 'HS256');
      case 'expired':
        return sign({ ...claims, iat: now - 7200, exp: now - 3600 });
      case 'missing-id-token':
        return undefined;
      default:
        return sign(claims);
    }
  }

  async function tokenResponse(scenario: string, verifier: string) {
    const idToken = await idTokenFor(scenario, verifier);
    return {
      access_token: `at.${scenario}`,
      token_type: 'Bearer',
      expires_in: 3600,
      ...(idToken ? { id_token: idToken } : {}),
    };
  }

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

  async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async function token(req: IncomingMessage, res: ServerResponse) {
    const form = await readForm(req);
    if (
      req.method !== 'POST' ||
      form.get('client_id') !== CLIENT_ID ||
      form.get('client_secret') !== CLIENT_SECRET ||
      form.get('grant_type') !== 'authorization_code' ||
      form.get('redirect_uri') !== REDIRECT
    )
      return json(res, 400, { error: 'invalid_request' });
    const scenario = form.get('code') ?? '';
    const verifier = form.get('code_verifier') ?? '';
    const good = await tokenResponse(scenario, verifier);
    switch (scenario) {
      case 'token-500':
        // A body that would otherwise sign the user in: the status alone must make it fail.
        return json(res, 500, good);
      case 'token-malformed-json':
        return json(res, 200, '{"access_token": "at.token-malformed-json", "id_token": ');
      case 'token-array':
        return json(res, 200, [good]);
      case 'token-html':
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html><body>Sign in</body></html>');
        return;
      case 'token-3mb':
        return json(res, 200, { ...good, padding: 'x'.repeat(3 * 1024 * 1024) });
      case 'token-redirect':
        res.writeHead(302, { location: `${issuer}/elsewhere/token?code=${scenario}` });
        res.end();
        return;
      case 'token-hang': {
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (!res.destroyed) json(res, 200, good);
        }, 12_000);
        timers.add(timer);
        return;
      }
      default:
        return json(res, 200, good);
    }
  }

  function userinfo(req: IncomingMessage, res: ServerResponse) {
    const auth = req.headers.authorization ?? '';
    const scenario = auth.startsWith('Bearer at.') ? auth.slice('Bearer at.'.length) : '';
    if (!scenario) return json(res, 401, { error: 'invalid_token' });
    const user = {
      sub: subOf(scenario),
      email: emailOf(scenario),
      email_verified: true,
      name: `Hostile ${scenario}`,
    };
    switch (scenario) {
      case 'userinfo-other-sub':
        return json(res, 200, { ...user, sub: 'somebody-else' });
      case 'userinfo-array':
        return json(res, 200, [user]);
      default:
        return json(res, 200, user);
    }
  }

  const server = createServer((req, res) => {
    res.on('error', () => {});
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const done = (p: Promise<void> | void) =>
      Promise.resolve(p).catch((error: Error) => {
        errors.push(`${path}: ${error.message}`);
        if (!res.headersSent) json(res, 500, { error: error.message });
        else res.destroy();
      });
    if (path === '/jwks') return json(res, 200, { keys: [publicJwk] });
    if (path === '/token') return done(token(req, res));
    if (path === '/userinfo') return userinfo(req, res);
    if (path === '/elsewhere/token') {
      // Where the redirect points: would hand out a good token if Plinth ever followed it there.
      return done(tokenResponse('token-redirect', '').then((body) => json(res, 200, body)));
    }
    return json(res, 404, { error: 'not_found' });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = url;
  return {
    url,
    issuer,
    hits,
    errors,
    close() {
      for (const timer of timers) clearTimeout(timer);
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

// What a hostile provider sends is checked before any record is touched: once, on SQLite. The account
// work after a good sign-in runs on every engine in oauth2.test.ts.
describe('OAuth2 sign-in against a hostile OpenID Connect provider', {
  skip: TEST_ENGINE !== 'sqlite' && 'the provider checks do not touch the database; run once, on SQLite',
}, () => {
  let server: TestServer;
  let provider: HostileProvider;

  /** auth-with-oauth2 with a fresh flow from auth-methods, the scenario as the code. */
  async function signIn(scenario: string) {
    const methods = await server.client().collection('users').listAuthMethods();
    const p = methods.oauth2.providers.find((x) => x.name === 'oidc');
    assert.ok(p);
    return server.request('POST', '/api/collections/users/auth-with-oauth2', {
      body: { provider: 'oidc', code: scenario, codeVerifier: p.codeVerifier, redirectURL: REDIRECT },
    });
  }

  async function counts() {
    const users = await server.admin.collection('users').getList(1, 1);
    const links = await server.admin.collection('_externalAuths').getList(1, 1);
    const sessions = await server.admin.collection('_sessions').getList(1, 1);
    return { users: users.totalItems, links: links.totalItems, sessions: sessions.totalItems };
  }

  /** The scenario must fail with the one generic message and leave no account, link or session behind. */
  async function assertRefused(scenario: string) {
    const before = await counts();
    const tokenCalls = provider.hits.get('/token') ?? 0;
    const res = await signIn(scenario);
    assert.equal(provider.hits.get('/token'), tokenCalls + 1, `${scenario}: the provider was asked`);
    assert.deepEqual(provider.errors, [], scenario);
    assert.equal(res.status, 400, `${scenario}: ${JSON.stringify(res.body).slice(0, 300)}`);
    assert.deepEqual(res.body, { status: 400, message: FAILED, data: {} }, scenario);
    assert.deepEqual(await counts(), before, scenario);
    const byEmail = await server.admin
      .collection('users')
      .getFullList({ filter: server.admin.filter('email = {:e}', { e: emailOf(scenario) }) });
    assert.equal(byEmail.length, 0, scenario);
  }

  before(async () => {
    const keys = await generateKeyPair('RS256', { extractable: true });
    const rogue = await generateKeyPair('RS256', { extractable: true });
    provider = await startHostileProvider(keys, rogue);
    server = await startServer();
    await server.admin.collections.update('users', {
      oauth2: {
        enabled: true,
        mappedFields: { name: 'name' },
        providers: [
          {
            name: 'oidc',
            clientId: CLIENT_ID,
            clientSecret: CLIENT_SECRET,
            authURL: `${provider.url}/authorize`,
            tokenURL: `${provider.url}/token`,
            userInfoURL: `${provider.url}/userinfo`,
            extra: { jwksURL: `${provider.url}/jwks`, issuers: [provider.issuer] },
          },
        ],
      },
    });
  });
  after(async () => {
    await server?.close();
    await provider?.close();
  });

  it('signs in with a correct ID token (the control that makes the refusals meaningful)', async () => {
    const res = await signIn('good');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.record.email, emailOf('good'));
    assert.equal(res.body.record.verified, true);
    assert.equal(res.body.record.name, 'Hostile good');
    assert.equal(res.body.meta.isNew, true);
    assert.equal(res.body.meta.id, subOf('good'));
    assert.equal(res.body.meta.accessToken, 'at.good');
    assert.equal(provider.hits.get('/jwks'), 1);
    const again = await signIn('good');
    assert.equal(again.status, 200);
    assert.equal(again.body.record.id, res.body.record.id);
    assert.equal(again.body.meta.isNew, false);
  });

  describe('refuses ID tokens that fail a check', () => {
    for (const scenario of [
      'wrong-iss',
      'wrong-aud',
      'aud-list-without-us',
      'wrong-nonce',
      'missing-nonce',
      'missing-sub',
      'missing-iat',
      'rogue-key-same-kid',
      'rogue-key-own-kid',
      'alg-none',
      'hs256-public-pem',
      'hs256-public-jwk',
      'expired',
      'missing-id-token',
    ]) {
      it(scenario, () => assertRefused(scenario));
    }
  });

  it('refuses user info about a different user than the ID token', () => assertRefused('userinfo-other-sub'));
  it('refuses user info that is an array', () => assertRefused('userinfo-array'));

  describe('refuses misbehaving token endpoints', () => {
    for (const scenario of ['token-500', 'token-malformed-json', 'token-array', 'token-html', 'token-3mb']) {
      it(scenario, () => assertRefused(scenario));
    }

    it('token-redirect (not followed)', async () => {
      await assertRefused('token-redirect');
      assert.equal(provider.hits.get('/elsewhere/token') ?? 0, 0);
    });

    it('token-hang (gives up after about 10 s)', async () => {
      const started = Date.now();
      await assertRefused('token-hang');
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 9_500 && elapsed < 11_900, `gave up after ${elapsed} ms`);
    });
  });

  it('still signs in with a correct ID token after all that', async () => {
    const res = await signIn('good-after');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.record.email, emailOf('good-after'));
    assert.equal(res.body.meta.isNew, true);
  });
});
