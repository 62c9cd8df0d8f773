import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

/** A request over node:http: any method (fetch refuses TRACE) and the path sent exactly as given. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: IncomingHttpHeaders }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertErrorShape(body: unknown, status: number): void {
  const b = body as { status: unknown; message: unknown; data: unknown };
  assert.equal(b.status, status);
  assert.equal(typeof b.message, 'string');
  assert.ok(b.data && typeof b.data === 'object' && !Array.isArray(b.data), 'data is an object');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('HTTP basics', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  it('answers GET /api/health with PocketBase’s health JSON', async () => {
    const res = await server.request('GET', '/api/health');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.body.code, 200);
    assert.equal(typeof res.body.message, 'string');
    assert.deepEqual(res.body.data, {});
  });

  it('answers unknown routes with a 404 in PocketBase’s error shape', async () => {
    for (const [method, path] of [
      ['GET', '/api/nope'],
      ['POST', '/api/nope/deeper'],
      ['GET', '/nothing-here'],
      ['DELETE', '/api/health'],
    ] as const) {
      const res = await server.request(method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assertErrorShape(res.body, 404);
    }
  });

  it('sets the security headers on API responses, successful or not', async () => {
    const responses = [
      await server.request('GET', '/api/health'),
      await server.request('GET', '/api/nope'),
      await server.request('GET', '/api/collections'),
      await server.request('GET', '/api/collections', { token: server.adminToken }),
      await server.request('POST', '/api/collections/users/auth-with-password', { body: {} }),
    ];
    for (const res of responses) {
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(res.headers.get('x-frame-options') ?? '', /^(DENY|SAMEORIGIN)$/);
      assert.ok(res.headers.get('referrer-policy'));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-powered-by'), null);
      assert.equal(res.headers.get('server'), null);
    }
  });

  it('echoes a well-formed x-request-id and makes one otherwise', async () => {
    const given = await server.request('GET', '/api/health', {
      headers: { 'x-request-id': 'proxy-abc.123_X' },
    });
    assert.equal(given.headers.get('x-request-id'), 'proxy-abc.123_X');
    const onError = await server.request('GET', '/api/nope', { headers: { 'x-request-id': 'err-id-1' } });
    assert.equal(onError.headers.get('x-request-id'), 'err-id-1');

    const seen = new Set<string>();
    for (const bad of [undefined, 'a b<>', 'x'.repeat(200), '../../etc', 'id\twith\ttabs', '']) {
      const headers: Record<string, string> = bad === undefined ? {} : { 'x-request-id': bad };
      const res = await server.request('GET', '/api/health', { headers });
      const id = res.headers.get('x-request-id') ?? '';
      assert.match(id, UUID, `for ${JSON.stringify(bad)}`);
      seen.add(id);
    }
    assert.equal(seen.size, 6, 'generated ids are unique');
  });

  it('answers CORS preflights for any origin with `*` and never with credentials', async () => {
    for (const origin of ['https://app.example.com', 'http://localhost:5173', 'null']) {
      const res = await raw(server.url, 'OPTIONS', '/api/collections/users/records', {
        origin,
        'access-control-request-method': 'PATCH',
        'access-control-request-headers': 'content-type,authorization',
      });
      assert.ok(res.status === 204 || res.status === 200, `preflight status ${res.status}`);
      assert.equal(res.headers['access-control-allow-origin'], '*');
      assert.notEqual(res.headers['access-control-allow-credentials'], 'true');
      assert.match(String(res.headers['access-control-allow-methods']), /PATCH/);
      assert.match(String(res.headers['access-control-allow-methods']), /DELETE/);
    }
    const simple = await server.request('GET', '/api/health', {
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(simple.headers.get('access-control-allow-origin'), '*');
    assert.equal(simple.headers.get('access-control-allow-credentials'), null);
  });

  it('opens a realtime stream with CORS and the security headers (its head is written by hand)', async () => {
    const stop = new AbortController();
    const res = await fetch(`${server.url}/api/realtime`, {
      headers: { origin: 'http://localhost:5173' },
      signal: stop.signal,
    });
    try {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.ok(res.headers.get('x-request-id'));
      assert.equal(res.headers.get('cache-control'), 'no-store');
    } finally {
      stop.abort();
    }
  });

  it('answers an OPTIONS that is not a preflight with an empty 204, like PocketBase', async () => {
    const variants: Record<string, string>[] = [
      {},
      { origin: 'https://app.example.com' },
      { 'access-control-request-method': 'GET' },
    ];
    for (const headers of variants) {
      const res = await raw(server.url, 'OPTIONS', '/api/health', headers);
      assert.equal(res.status, 204, JSON.stringify(headers));
      assert.equal(res.text, '');
      assert.notEqual(res.headers['access-control-allow-credentials'], 'true');
    }
  });

  it('does not answer TRACE', async () => {
    for (const path of ['/api/health', '/api/collections', '/']) {
      const res = await raw(server.url, 'TRACE', path, { 'x-secret-header': 'do-not-echo' });
      assert.ok(res.status === 404 || res.status === 405, `TRACE ${path} → ${res.status}`);
      assert.ok(!res.text.includes('do-not-echo'));
      assertErrorShape(JSON.parse(res.text), res.status);
    }
  });

  it('publishes exactly one Ed25519 public key, without its private part, at /.well-known/jwks.json', async () => {
    const res = await server.request('GET', '/.well-known/jwks.json');
    assert.equal(res.status, 200);
    assert.equal(res.body.keys.length, 1);
    const [key] = res.body.keys;
    assert.equal(key.kty, 'OKP');
    assert.equal(key.crv, 'Ed25519');
    assert.equal(typeof key.kid, 'string');
    assert.ok(key.kid.length > 0);
    assert.equal(typeof key.x, 'string');
    assert.equal(key.d, undefined);
    assert.equal(Buffer.from(key.x, 'base64url').length, 32);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
  });
});
