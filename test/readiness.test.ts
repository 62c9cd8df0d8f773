import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { healthRoutes } from '../src/http/routes/health.ts';
import { startS3 } from './helpers/s3.ts';
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
    assert.deepEqual(ready.body, {
      code: 200,
      message: 'Ready.',
      data: { checks: { database: 'ok', storage: 'ok' } },
    });
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

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function readyUntil(server: TestServer, check: (body: { data: { checks: object } }) => boolean) {
  const end = Date.now() + 5000;
  for (;;) {
    const res = await server.request('GET', '/api/plinth/ready');
    if (check(res.body) || Date.now() > end) return res;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe(`readiness of Redis and storage on ${TEST_ENGINE}`, () => {
  it('checks Redis with a round trip: ok when it answers, failed when its port is closed', async () => {
    const prefix = `ready-${randomBytes(4).toString('hex')}:`;
    const up = await startServer({ flags: { redis: 'redis://127.0.0.1:6379', redisPrefix: prefix } });
    const down = await startServer({ flags: { redis: `redis://127.0.0.1:${await closedPort()}` } });
    try {
      const ok = await readyUntil(up, (b) => (b.data.checks as { redis?: string }).redis === 'ok');
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.body.data.checks, { database: 'ok', redis: 'ok', storage: 'ok' });
      const res = await down.request('GET', '/api/plinth/ready');
      assert.equal(res.status, 503);
      assert.deepEqual(res.body, {
        status: 503,
        message: 'Not ready: the redis check failed.',
        data: { checks: { database: 'ok', redis: 'failed', storage: 'ok' } },
      });
    } finally {
      await Promise.all([up.close(), down.close()]);
    }
  });

  it('fails the storage check when the storage directory is gone, and passes once it is back', async () => {
    const server = await startServer();
    try {
      const dir = join(server.dataDir, 'storage');
      rmSync(dir, { recursive: true, force: true });
      // A file where the directory was: nothing can be stored, whoever the user (root passes permission checks).
      writeFileSync(dir, 'not a directory');
      const res = await server.request('GET', '/api/plinth/ready');
      assert.equal(res.status, 503);
      assert.equal(res.body.message, 'Not ready: the storage check failed.');
      assert.deepEqual(res.body.data.checks, { database: 'ok', storage: 'failed' });
      rmSync(dir, { force: true });
      mkdirSync(join(dir, '.tmp'), { recursive: true });
      assert.equal((await server.request('GET', '/api/plinth/ready')).status, 200);
    } finally {
      await server.close();
    }
  });

  it('checks the S3 bucket of the settings: ok while it answers, failed once its server is stopped', async () => {
    const server = await startServer();
    const s3 = await startS3();
    const gone = await startS3();
    await gone.stop();
    try {
      const use = async (options: object) => {
        const res = await server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { s3: { enabled: true, ...options } },
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      };
      await use(s3.options);
      assert.equal((await server.request('GET', '/api/plinth/ready')).status, 200);
      // A success is remembered for a few seconds, but not across a change of the s3 settings.
      await use(gone.options);
      const res = await server.request('GET', '/api/plinth/ready');
      assert.equal(res.status, 503);
      assert.deepEqual(res.body.data.checks, { database: 'ok', storage: 'failed' });
    } finally {
      await server.close();
      await s3.stop();
    }
  });
});
