// A client's IP behind a reverse proxy: `X-Forwarded-For` counts only from a proxy listed in `trustProxy`;
// from anyone else it is ignored, so a client cannot pick the IP its limits are counted under.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

/** A server whose list of `things` allows one request per minute per client IP. */
async function limited(flags: Record<string, unknown>): Promise<TestServer> {
  const srv = await startServer({ flags, rateLimits: true });
  servers.push(srv);
  await srv.admin.collections.create({ name: 'things', listRule: '', fields: [{ name: 't', type: 'text' }] });
  const res = await srv.request('PATCH', '/api/settings', {
    token: srv.adminToken,
    body: {
      rateLimits: {
        enabled: true,
        rules: [{ label: 'GET /api/collections/things/records', maxRequests: 1, duration: 60, audience: '' }],
      },
    },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return srv;
}

const from = (srv: TestServer, ip: string) =>
  srv.request('GET', '/api/collections/things/records', { headers: { 'x-forwarded-for': ip } });

describe('trustProxy', () => {
  test('off (the default): X-Forwarded-For is ignored, every request counts for the TCP peer', async () => {
    const srv = await limited({});
    assert.equal((await from(srv, '203.0.113.1')).status, 200);
    assert.equal((await from(srv, '203.0.113.2')).status, 429, 'a made-up address does not escape the limit');
  });

  test('listing the proxy: each client behind it has its own limits', async () => {
    const srv = await limited({ trustProxy: '127.0.0.1' });
    assert.equal((await from(srv, '203.0.113.1')).status, 200);
    assert.equal((await from(srv, '203.0.113.2')).status, 200);
    assert.equal((await from(srv, '203.0.113.1')).status, 429);
  });

  test('refuses a value that is not an address or a range', async () => {
    await assert.rejects(startServer({ flags: { trustProxy: 'proxy.example.com' } }), /trustProxy must list/);
  });
});
