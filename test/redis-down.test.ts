// Redis lost and found again, at the level of whole Plinth processes (src/bus/redis.test.ts covers the bus
// alone). Each node must keep serving on its own while Redis is down, say so in its log and in readiness,
// never hang a request on Redis, and go back to sharing changes by itself once Redis returns. On PostgreSQL
// and MariaDB two nodes share the database, so propagation before, during and after the outage is checked;
// on SQLite one node is checked alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { type PrivateRedis, startPrivateRedis } from './helpers/private-redis.ts';
import { freePort, runCli, spawnServe } from './helpers/process.ts';

(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

const ADMIN = { email: 'root@example.com', password: 'root-password-1' };
const NODES = TEST_ENGINE === 'sqlite' ? 1 : 2;
/** Any request that takes this long is hanging on Redis: the test fails instead of waiting. */
const HANG_MS = 5000;
// biome-ignore lint/suspicious/noExplicitAny: response JSON is arbitrary.
type Json = any;

interface Node {
  url: string;
  stop: () => void;
  log: () => string;
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray | null>;
}

async function until(check: () => boolean | Promise<boolean>, label: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const call = async (url: string, method = 'GET', body?: unknown, token = '') => {
  const res = await fetch(url, {
    method,
    headers: { ...(token ? { authorization: token } : {}), 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(HANG_MS),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
};

describe(`Redis down and back, ${NODES} node(s)`, () => {
  let db: TestDatabase;
  let redis: PrivateRedis;
  const nodes: Node[] = [];
  const dirs: string[] = [];
  let token = '';
  let env: Record<string, string> = {};
  /** SDK clients with streams, closed at the end (they would reconnect forever). */
  const streams: PocketBase[] = [];

  before(async () => {
    db = await createTestDatabase();
    redis = await startPrivateRedis(await freePort());
    env = {
      PLINTH_DB: db.url,
      PLINTH_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PLINTH_REDIS: redis.url,
      PLINTH_MAX_EVENT_LOOP_DELAY_MS: '0',
    };
    for (let i = 0; i < NODES; i++) dirs.push(mkdtempSync(join(tmpdir(), `plinth-rd${i}-`)));
    const upsert = await runCli(['superuser', 'upsert', ADMIN.email, ADMIN.password, '--dir', dirs[0]!], env);
    assert.equal(upsert.code, 0, upsert.stderr);
    for (const dir of dirs) {
      const port = await freePort();
      // One process a node: the subject is the node. The workers of one node while Redis is down:
      // test/workers.test.ts.
      const served = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', '1'], env);
      nodes.push({
        url: `http://127.0.0.1:${port}`,
        stop: () => served.kill('SIGKILL'),
        log: served.stdout,
        waitFor: served.waitFor,
      });
    }
    const url = nodes[0]!.url;
    const signIn = await call(`${url}/api/collections/_superusers/auth-with-password`, 'POST', {
      identity: ADMIN.email,
      password: ADMIN.password,
    });
    token = signIn.body.token;
    await call(`${url}/api/settings`, 'PATCH', { rateLimits: { enabled: false } }, token);
    const made = await call(
      `${url}/api/collections`,
      'POST',
      {
        name: 'rd_posts',
        type: 'base',
        listRule: '',
        viewRule: '',
        fields: [{ name: 'title', type: 'text' }],
      },
      token,
    );
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const user = await call(
      `${url}/api/collections/users/records`,
      'POST',
      { email: 'ann@example.com', password: 'password-123', passwordConfirm: 'password-123' },
      token,
    );
    assert.equal(user.status, 200, JSON.stringify(user.body));
    for (const n of nodes)
      await until(async () => (await call(`${n.url}/api/plinth/ready`)).status === 200, n.url);
  });

  after(async () => {
    for (const pb of streams) pb.realtime.unsubscribe().catch(() => {});
    for (const n of nodes) n.stop();
    await redis?.kill();
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A subscriber to rd_posts on `node`, collecting titles. */
  async function subscriber(node: Node): Promise<string[]> {
    const pb = new PocketBase(node.url);
    streams.push(pb);
    const got: string[] = [];
    await pb.collection('rd_posts').subscribe('*', (e) => got.push(e.record.title));
    return got;
  }

  const create = (node: Node, title: string) =>
    call(`${node.url}/api/collections/rd_posts/records`, 'POST', { title }, token);

  /** What a guest lists on `node`, sorted. */
  const titles = async (node: Node): Promise<string[]> => {
    const res = await call(`${node.url}/api/collections/rd_posts/records?perPage=100`);
    return res.body.items.map((r: Json) => r.title).sort();
  };

  it('while Redis is down each node serves alone, readiness says why, the log says so once', async () => {
    const first = nodes[0]!;
    const last = nodes[NODES - 1]!;
    const farAway = await subscriber(last);
    const nearBy = await subscriber(first);
    assert.equal((await create(first, 'before')).status, 200);
    await until(() => farAway.includes('before') && nearBy.includes('before'), 'the event before the outage');

    await redis.kill();
    for (const n of nodes) {
      await until(async () => (await call(`${n.url}/api/plinth/ready`)).status === 503, `${n.url} not ready`);
      const ready = await call(`${n.url}/api/plinth/ready`);
      assert.notEqual(ready.body.data.checks.redis, 'ok');
      assert.equal(ready.body.data.checks.database, 'ok');
      assert.match(ready.body.message, /redis/);
      assert.ok(await n.waitFor(/Redis unreachable/), n.log());
      assert.equal((await call(`${n.url}/api/health`)).status, 200, 'liveness does not depend on Redis');
    }

    // Everything a single node does still works, and no request waits on Redis.
    for (let i = 0; i < 3; i++) assert.equal((await create(first, `alone-${i}`)).status, 200);
    const list = await call(`${first.url}/api/collections/rd_posts/records?perPage=100`);
    assert.equal(list.status, 200);
    assert.equal(list.body.totalItems, 4);
    const signIn = (password: string) =>
      call(`${first.url}/api/collections/users/auth-with-password`, 'POST', {
        identity: 'ann@example.com',
        password,
      });
    assert.equal((await signIn('password-123')).status, 200, 'sign-in, with the throttle counting locally');
    assert.equal((await signIn('wrong-password')).status, 400);
    await until(() => nearBy.includes('alone-2'), 'local events while Redis is down');
    assert.deepEqual(nearBy, ['before', 'alone-0', 'alone-1', 'alone-2']);
    // The log is written asynchronously: wait for the line, then count.
    assert.ok(await first.waitFor(/do not reach the other nodes while Redis is down/), first.log());
    assert.equal(
      first.log().match(/do not reach the other nodes while Redis is down/g)?.length,
      1,
      'one line per outage, not one per write',
    );
    if (NODES > 1) assert.deepEqual(farAway, ['before'], 'nothing crossed to the other node');

    // A rule changed meanwhile is in force on the node that changed it; the others learn of it later.
    assert.equal((await create(first, 'secret')).status, 200);
    const rule = await call(
      `${first.url}/api/collections/rd_posts`,
      'PATCH',
      { listRule: 'title != "secret"' },
      token,
    );
    assert.equal(rule.status, 200);
    assert.deepEqual(await titles(first), ['alone-0', 'alone-1', 'alone-2', 'before']);
    if (NODES > 1)
      assert.ok((await titles(last)).includes('secret'), 'the other node still has the old rule');
  });

  it('once Redis is back, every node is ready and shares changes again by itself', async () => {
    await redis.restart();
    for (const n of nodes) {
      await until(async () => (await call(`${n.url}/api/plinth/ready`)).status === 200, `${n.url} ready`);
      assert.ok(await n.waitFor(/Redis reachable again/), n.log());
    }
    const first = nodes[0]!;
    const last = nodes[NODES - 1]!;
    // The change made while Redis was down reaches every node without another change to carry it.
    for (const n of nodes)
      await until(async () => !(await titles(n)).includes('secret'), `the missed rule change on ${n.url}`);
    const got = await subscriber(last);
    // The subscription may need a moment to reach the other node's stream through the bus.
    await until(async () => {
      await create(first, 'after');
      return got.includes('after');
    }, 'an event across nodes after the outage');
    // A rule changed on one node is in force on the other again.
    const changed = await call(`${first.url}/api/collections/rd_posts`, 'PATCH', { listRule: null }, token);
    assert.equal(changed.status, 200);
    for (const n of nodes)
      await until(
        async () => (await call(`${n.url}/api/collections/rd_posts/records`)).status === 403,
        `the locked rule on ${n.url}`,
      );
  });

  it('nodes that start while Redis is down read what changed meanwhile once it is up, with no change to carry it', {
    skip: NODES < 2 && 'two nodes share one database on PostgreSQL and MariaDB only',
  }, async () => {
    // The nodes above would tell these of the change when they see Redis come back: stopped first (their
    // streams closed before, or the SDK would try to reconnect them for ever).
    for (const pb of streams.splice(0)) await pb.realtime.unsubscribe().catch(() => {});
    for (const n of nodes.splice(0)) n.stop();
    await redis.kill();
    const late: Node[] = [];
    for (let i = 0; i < 2; i++) {
      const dir = mkdtempSync(join(tmpdir(), `plinth-rd-late${i}-`));
      dirs.push(dir);
      const port = await freePort();
      const served = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', '1'], env);
      const node = {
        url: `http://127.0.0.1:${port}`,
        stop: () => served.kill('SIGKILL'),
        log: served.stdout,
        waitFor: served.waitFor,
      };
      nodes.push(node);
      late.push(node);
    }
    const [writer, reader] = late as [Node, Node];
    // Read by both at start (locked); opened on one while the other cannot hear it.
    assert.equal((await call(`${reader.url}/api/collections/rd_posts/records`)).status, 403);
    const opened = await call(`${writer.url}/api/collections/rd_posts`, 'PATCH', { listRule: '' }, token);
    assert.equal(opened.status, 200);
    assert.equal((await call(`${reader.url}/api/collections/rd_posts/records`)).status, 403);
    // Neither node was ever connected, so neither counts this as Redis coming back: before the reader
    // read again once its subscriptions were in force, it kept the locked rule until the next change.
    await redis.restart();
    await until(
      async () => (await call(`${reader.url}/api/collections/rd_posts/records`)).status === 200,
      'the change made while Redis was down, on the node that could not hear it',
    );
  });
});
