import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { healthRoutes } from '../src/http/routes/health.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

/** A Fastify app with only the health routes, given checks: the route's behaviour on its own. */
async function withChecks(checks: { name: string; run: () => Promise<unknown> }[]): Promise<FastifyInstance> {
  const app = Fastify();
  await app.register(healthRoutes, { checks, timeoutMs: 200 });
  return app;
}

describe(`readiness on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server?.close());

  it('answers 200 when the real database answers, and keeps /api/health in PocketBase shape', async () => {
    const ready = await server.request('GET', '/api/plinth/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { code: 200, message: 'Ready.', data: { checks: { database: 'ok' } } });
    const health = await server.request('GET', '/api/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { code: 200, message: 'API is healthy.', data: {} });
  });

  it('answers 503 with Retry-After naming the failed check, never its error', async () => {
    const app = await withChecks([
      { name: 'database', run: async () => {} },
      {
        name: 'redis',
        run: async () => {
          throw new Error('connect ECONNREFUSED 10.0.0.7:6379 password=hunter2');
        },
      },
    ]);
    const res = await app.inject({ method: 'GET', url: '/api/plinth/ready' });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '5');
    assert.deepEqual(res.json(), {
      status: 503,
      message: 'Not ready: the redis check failed.',
      data: { checks: { database: 'ok', redis: 'failed' } },
    });
    assert.doesNotMatch(res.body, /ECONNREFUSED|hunter2|10\.0\.0\.7/);
    await app.close();
  });

  it('answers 503 promptly when a check hangs, and does not start it again while it hangs', async () => {
    let started = 0;
    const app = await withChecks([
      {
        name: 'database',
        run: () => {
          started++;
          return new Promise(() => {});
        },
      },
    ]);
    const begin = Date.now();
    const [a, b] = await Promise.all([
      app.inject({ method: 'GET', url: '/api/plinth/ready' }),
      app.inject({ method: 'GET', url: '/api/plinth/ready' }),
    ]);
    for (const res of [a, b]) {
      assert.equal(res.statusCode, 503);
      assert.deepEqual(res.json().data, { checks: { database: 'timeout' } });
    }
    assert.ok(Date.now() - begin < 10_000);
    const again = await app.inject({ method: 'GET', url: '/api/plinth/ready' });
    assert.equal(again.statusCode, 503);
    assert.equal(started, 1);
    await app.close();
  });

  it('passes again once a failing check recovers', async () => {
    let up = false;
    const app = await withChecks([
      {
        name: 'database',
        run: async () => {
          if (!up) throw new Error('down');
        },
      },
    ]);
    assert.equal((await app.inject({ method: 'GET', url: '/api/plinth/ready' })).statusCode, 503);
    up = true;
    assert.equal((await app.inject({ method: 'GET', url: '/api/plinth/ready' })).statusCode, 200);
    await app.close();
  });
});
