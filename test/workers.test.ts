// `plinth serve --workers 2`: two processes answer on one port, on every engine (on SQLite two writers
// share one file). Each request here goes on a connection of its own, which the kernel gives to one of the
// workers' sockets (SO_REUSEPORT, spread by the connection's address and port), and names itself in `x-request-id`, so that the worker's log line says which worker
// served it: a test that meant to cross workers can check that it did. Correctness, not speed
// (bench/workers.ts measures the scaling).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTestDatabase, type TestDatabase } from './helpers/databases.ts';
import { type PrivateRedis, startPrivateRedis } from './helpers/private-redis.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';

const ADMIN = { email: 'root@example.com', password: 'root-password-1' };
// biome-ignore lint/suspicious/noExplicitAny: response JSON is arbitrary.
type Json = any;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// Twice: without Redis (the workers share state through the primary), and with a Redis that goes down
// after they start (each worker is a node of its own to Redis; while it is down they reach each other
// through the primary, src/bus/siblings.ts). The second run repeats only what goes through the bus.
const NOT_BUS = 'not about the bus: run once, without Redis';
for (const redisDown of [false, true])
  describe(redisDown ? 'plinth serve --workers 2, its Redis down' : 'plinth serve --workers 2', () => {
    let database: TestDatabase;
    let redis: PrivateRedis | undefined;
    let dir = '';
    let port = 0;
    let server: Awaited<ReturnType<typeof spawnServe>>;
    let token = '';
    let sequence = 0;

    /** One request on a new connection; `id` is its `x-request-id`. */
    const call = (method: string, path: string, body?: unknown, auth = token) => {
      const id = `probe-${process.pid}-${++sequence}`;
      return new Promise<{ id: string; status: number; body: Json }>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            method,
            path,
            agent: false,
            headers: {
              'x-request-id': id,
              'content-type': 'application/json',
              ...(auth ? { authorization: auth } : {}),
            },
          },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () =>
              resolve({ id, status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }),
            );
          },
        );
        req.on('error', reject);
        req.setTimeout(10_000, () =>
          req.destroy(new Error(`${method} ${path} (${id}) got no answer in 10 s`)),
        );
        req.end(body === undefined ? undefined : JSON.stringify(body));
      });
    };

    /** The worker whose log line carries request `id`. */
    const servedBy = async (id: string) => {
      const line = await server.waitFor(new RegExp(`"worker":(\\d+),[^\\n]*"reqId":"${id}"`));
      assert.ok(line, `no log line for request ${id}`);
      return Number(line[1]);
    };

    /** Sends `make()` until a worker other than `worker` serves it (about every other new connection does). */
    const elsewhere = async (worker: number, make: () => ReturnType<typeof call>) => {
      for (let i = 0; i < 20; i++) {
        const res = await make();
        if ((await servedBy(res.id)) !== worker) return res;
      }
      throw new Error(`every request went to worker ${worker}`);
    };

    /**
     * After a settings change served by request `changedBy`: waits up to 3 s until the worker that did not
     * serve it answers a guest's list with `status` (it applies the change when the bus tells it).
     */
    const untilOtherWorker = async (changedBy: string, status: number, message: string) => {
      const changedOn = await servedBy(changedBy);
      const started = Date.now();
      for (;;) {
        const probe = await elsewhere(changedOn, () =>
          call('GET', '/api/collections/notes/records?perPage=1', undefined, ''),
        );
        if (probe.status === status) return;
        assert.ok(Date.now() - started < 3000, message);
      }
    };

    /** The workers that answer health checks on new connections (until two have, or 20 tries). */
    const healthAnsweredBy = async () => {
      const workers = new Set<number>();
      for (let i = 0; i < 20 && workers.size < 2; i++) {
        const res = await call('GET', '/api/health');
        assert.equal(res.status, 200);
        workers.add(await servedBy(res.id));
      }
      return [...workers].sort();
    };

    before(async () => {
      database = await createTestDatabase();
      dir = mkdtempSync(join(tmpdir(), 'plinth-workers-'));
      if (redisDown) redis = await startPrivateRedis(await freePort());
      const env = {
        PLINTH_DB: database.url,
        PLINTH_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
        PLINTH_METRICS: 'true',
        ...(redis ? { PLINTH_REDIS: redis.url } : {}),
      };
      const made = await runCli(['superuser', 'upsert', ADMIN.email, ADMIN.password, '--dir', dir], env);
      assert.equal(made.code, 0, made.stderr);
      port = await freePort();
      server = await spawnServe(
        ['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', '2', '--log-level', 'info'],
        env,
      );
      assert.ok(await server.waitFor(/Workers: +2 processes/, 20_000), server.stdout());
      if (redis) {
        await redis.kill();
        const both = /Redis unreachable[\s\S]*Redis unreachable/;
        assert.ok(await server.waitFor(both, 10_000), server.stdout());
      }
      const auth = await call('POST', '/api/collections/_superusers/auth-with-password', {
        identity: ADMIN.email,
        password: ADMIN.password,
      });
      assert.equal(auth.status, 200, JSON.stringify(auth.body));
      token = auth.body.token;
      // PocketBase's default limits (20 creates in 5 s) would refuse the writes below; one test sets its own.
      const off = await call('PATCH', '/api/settings', { rateLimits: { enabled: false } });
      assert.equal(off.status, 200, JSON.stringify(off.body));
    });

    after(async () => {
      if (server?.child.exitCode === null) {
        server.kill('SIGKILL');
        await server.exited;
      }
      await redis?.kill();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('both workers answer on the one port', async () => {
      assert.deepEqual(await healthAnsweredBy(), [1, 2]);
    });

    it('/metrics answers for every worker, whichever takes the scrape', {
      skip: redisDown && NOT_BUS,
    }, async () => {
      const healthCount = (text: string) =>
        [...text.matchAll(/^plinth_http_requests_total\{[^}]*route="\/api\/health"[^}]*\} (\d+)/gm)].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
      const scrape = async () => {
        const res = await new Promise<{ id: string; text: string }>((resolve, reject) => {
          const id = `probe-${process.pid}-${++sequence}`;
          request(
            { host: '127.0.0.1', port, path: '/metrics', agent: false, headers: { 'x-request-id': id } },
            (r) => {
              let text = '';
              r.on('data', (d) => (text += d));
              r.on('end', () => resolve({ id, text }));
            },
          )
            .on('error', reject)
            .end();
        });
        return { worker: await servedBy(res.id), health: healthCount(res.text), text: res.text };
      };
      for (let i = 0; i < 10; i++) assert.equal((await call('GET', '/api/health')).status, 200);
      const seen = new Map<number, number>();
      for (let i = 0; i < 20 && seen.size < 2; i++) {
        const s = await scrape();
        // Each worker served some of the 10: one worker's own count would be short of them.
        assert.ok(s.health >= 10, `worker ${s.worker} counted ${s.health} health checks`);
        assert.match(s.text, /^plinth_build_info\{[^}]*\} 1$/m, 'one build, not one a worker');
        seen.set(s.worker, s.health);
      }
      assert.equal(seen.size, 2, 'both workers answered a scrape');
    });

    it('a collection created through one worker is in force on the other', async () => {
      const created = await call('POST', '/api/collections', {
        name: 'notes',
        type: 'base',
        fields: [{ name: 'title', type: 'text' }],
        listRule: '',
        viewRule: '',
        createRule: '',
      });
      assert.equal(created.status, 200, JSON.stringify(created.body));
      const on = await servedBy(created.id);
      const started = Date.now();
      for (;;) {
        const res = await elsewhere(on, () =>
          call('POST', '/api/collections/notes/records', { title: 'first' }, ''),
        );
        if (res.status === 200) break;
        assert.equal(res.status, 404, JSON.stringify(res.body));
        assert.ok(Date.now() - started < 2000, 'the new collection never reached the other worker');
      }
    });

    it('writes through both workers at once all land, and each worker lists all of them', {
      skip: redisDown && NOT_BUS,
    }, async () => {
      const before = (await call('GET', '/api/collections/notes/records?perPage=1')).body.totalItems;
      const statuses: number[] = [];
      const writers = Array.from({ length: 10 }, async (_, w) => {
        for (let i = 0; i < 20; i++)
          statuses.push(
            (await call('POST', '/api/collections/notes/records', { title: `w${w}-${i}` }, '')).status,
          );
      });
      await Promise.all(writers);
      assert.deepEqual(
        statuses.filter((s) => s !== 200),
        [],
        'every concurrent write answered 200',
      );
      const workers = new Set<number>();
      for (let i = 0; i < 20 && workers.size < 2; i++) {
        const list = await call('GET', '/api/collections/notes/records?perPage=1', undefined, '');
        assert.equal(list.body.totalItems, before + 200);
        workers.add(await servedBy(list.id));
      }
      assert.equal(workers.size, 2);
    });

    it('a record read by id right after its create is found, by either worker', {
      skip: redisDown && NOT_BUS,
    }, async () => {
      // Reads by key share a read transaction per event-loop turn (docs/decisions/0014): one opened
      // before the read's request arrived must never answer it.
      const misses: string[] = [];
      let across = 0;
      for (let i = 0; i < 40; i++) {
        const created = await call('POST', '/api/collections/notes/records', { title: `rw-${i}` }, '');
        assert.equal(created.status, 200, JSON.stringify(created.body));
        const read = await call('GET', `/api/collections/notes/records/${created.body.id}`, undefined, '');
        if (read.status !== 200) misses.push(`${created.body.id}: ${read.status}`);
        // Which worker served each: looked up (in the log, which is written with a delay) until one differs.
        if (across === 0 && (await servedBy(created.id)) !== (await servedBy(read.id))) across++;
      }
      assert.deepEqual(misses, [], 'every record was found by the read that followed its create');
      assert.ok(across > 0, 'some reads went to the worker that did not write');
    });

    it('rate limits count the requests of every worker together (the settings change reaches both; superusers are not limited, guests are)', async () => {
      const settings = await call('PATCH', '/api/settings', {
        rateLimits: {
          enabled: true,
          excludedIPs: [],
          rules: [{ label: '/api/collections/notes/records', audience: '', duration: 60, maxRequests: 4 }],
        },
      });
      assert.equal(settings.status, 200, JSON.stringify(settings.body));
      // The other worker reads the settings again when the bus tells it: wait until it limits too.
      await untilOtherWorker(settings.id, 429, 'the other worker never applied the new rate limits');
      // Fresh windows: replacing the rules starts every counter afresh.
      const again = await call('PATCH', '/api/settings', {
        rateLimits: {
          enabled: true,
          excludedIPs: [],
          rules: [{ label: '/api/collections/notes/records', audience: '', duration: 60, maxRequests: 5 }],
        },
      });
      assert.equal(again.status, 200);
      await new Promise((r) => setTimeout(r, 300));
      // One budget of 5 for the client, not 5 on each worker: past the fifth, both workers refuse (with a
      // budget each, the worker that had served fewer than five would still answer 200).
      const statuses: number[] = [];
      const refusing = new Set<number>();
      while (refusing.size < 2 && statuses.length < 40) {
        const res = await call('GET', '/api/collections/notes/records?perPage=1', undefined, '');
        statuses.push(res.status);
        if (res.status === 429) refusing.add(await servedBy(res.id));
      }
      assert.equal(refusing.size, 2, 'both workers refused');
      assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200]);
      assert.deepEqual(new Set(statuses.slice(5)), new Set([429]));
      const off = await call('PATCH', '/api/settings', { rateLimits: { enabled: false } });
      assert.equal(off.status, 200);
      // The tests after this one write as a guest: wait until the other worker has the limits off too.
      await untilOtherWorker(off.id, 200, 'the other worker never switched the rate limits off');
    });

    it('a realtime subscriber gets each event once, whichever worker holds its stream', async () => {
      const events: Json[] = [];
      let clientId = '';
      const stream = await new Promise<import('node:http').ClientRequest>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/api/realtime', agent: false }, (res) => {
          let buffer = '';
          res.on('data', (chunk) => {
            buffer += chunk;
            let end = buffer.indexOf('\n\n');
            while (end >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = /^data:(.*)$/m.exec(block)?.[1];
              if (data && /^event:PB_CONNECT$/m.test(block)) clientId = JSON.parse(data).clientId;
              else if (data) events.push(JSON.parse(data));
              end = buffer.indexOf('\n\n');
            }
          });
          resolve(req);
        });
        req.on('error', reject);
        req.end();
      });
      try {
        const started = Date.now();
        while (!clientId && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
        assert.ok(clientId, 'PB_CONNECT');
        // Twice, so that one of the two subscription requests lands on the worker without the stream.
        for (let i = 0; i < 2; i++) {
          const sub = await call('POST', '/api/realtime', { clientId, subscriptions: ['notes'] }, '');
          assert.equal(sub.status, 204, JSON.stringify(sub.body));
        }
        const ids: string[] = [];
        const workers = new Set<number>();
        for (let i = 0; i < 40 && (i < 10 || workers.size < 2); i++) {
          const res = await call('POST', '/api/collections/notes/records', { title: `live-${i}` }, '');
          assert.equal(res.status, 200);
          ids.push(res.body.id);
          workers.add(await servedBy(res.id));
        }
        assert.equal(workers.size, 2, 'the writes went to both workers');
        const until = Date.now() + 5000;
        while (events.length < ids.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 300));
        assert.deepEqual(events.map((e) => e.record.id).sort(), [...ids].sort(), 'each event once');
        assert.ok(events.every((e) => e.action === 'create'));
      } finally {
        stream.destroy();
      }
    });

    it('a session signed out through one worker is refused by the other', async () => {
      const signedIn = await call('POST', '/api/collections/_superusers/auth-with-password', {
        identity: ADMIN.email,
        password: ADMIN.password,
      });
      assert.equal(signedIn.status, 200);
      const session = signedIn.body.token as string;
      const out = await call('POST', '/api/collections/_superusers/auth-logout', {}, session);
      assert.equal(out.status, 204, JSON.stringify(out.body));
      const on = await servedBy(out.id);
      const refused = await elsewhere(on, () =>
        call('GET', '/api/collections?perPage=1', undefined, session),
      );
      assert.equal(refused.status, 401, JSON.stringify(refused.body));
    });

    it('a worker that dies is replaced, and the others keep answering meanwhile', {
      skip: redisDown && NOT_BUS,
    }, async () => {
      const line = await server.waitFor(/"pid":(\d+),"hostname":"[^"]*","worker":2,/);
      assert.ok(line);
      const pid = Number(line[1]);
      process.kill(pid, 'SIGKILL');
      // A connection the kernel queued on the dying worker's socket is reset (not left hanging); once the
      // process is gone every new connection goes to the worker that remains.
      while (alive(pid)) await new Promise((r) => setTimeout(r, 5));
      for (let i = 0; i < 6; i++) assert.equal((await call('GET', '/api/health')).status, 200);
      assert.ok(await server.waitFor(/a worker ended; starting another/, 5000), server.stdout());
      assert.ok(await server.waitFor(/"worker":3,[^\n]*Server listening/, 20_000), server.stdout());
      assert.deepEqual(await healthAnsweredBy(), [1, 3]);
    });

    it('SIGTERM to the primary drains every worker and exits 0', { skip: redisDown && NOT_BUS }, async () => {
      const pids = [...server.stdout().matchAll(/"pid":(\d+),"hostname":"[^"]*","worker":\d+,/g)].map((m) =>
        Number(m[1]),
      );
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.stdout());
      for (const pid of new Set(pids)) assert.ok(!alive(pid), `worker ${pid} still runs`);
    });
  });
