// Scale-out: three Plinth processes on one database and one Redis, behind HAProxy as the one address
// clients use (docs/scale-out.md). Writes, subscriptions and the subscription requests that go with them
// land on whichever node HAProxy picks; every subscriber must still get every event it may see exactly
// once, a schema change or a revoked session must be in force on every node within a second (measured
// by polling each node directly), and a node killed mid-test must not stop the others.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { createTestDatabase, TEST_ENGINE, type TestDatabase } from './helpers/databases.ts';
import { type Haproxy, noHaproxy, startHaproxy } from './helpers/haproxy.ts';
import { freePort, killGroup, runCli, spawnServe } from './helpers/process.ts';

(globalThis as { EventSource?: unknown }).EventSource ??= EventSource;

const skip =
  TEST_ENGINE === 'sqlite' ? 'nodes share a database server: runs on PostgreSQL and MariaDB' : noHaproxy;
const ADMIN = { email: 'root@example.com', password: 'root-password-1' };
// biome-ignore lint/suspicious/noExplicitAny: record JSON is arbitrary.
type Json = any;

interface Node {
  url: string;
  port: number;
  child: ChildProcess;
  /** Resolves with the first match of `pattern` in what the node has printed, or null after `ms`. */
  waitFor: (pattern: RegExp, ms?: number) => Promise<RegExpExecArray | null>;
}

async function until(check: () => boolean | Promise<boolean>, label: string, ms = 10_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - started;
}

describe('three nodes behind HAProxy on one database and one Redis', { skip }, () => {
  let db: TestDatabase;
  let proxy: Haproxy;
  const nodes: Node[] = [];
  const dirs: string[] = [];
  let admin: PocketBase;
  /** Every SDK client with a realtime stream, closed at the end (it would reconnect forever). */
  /**
   * Every node ready again, and HAProxy routing to all of them: a restore reopens every node at once, and
   * HAProxy's readiness check takes each out of the pool meanwhile, so a request through it may find none.
   */
  const servingAgain = () =>
    until(async () => {
      for (const n of nodes)
        if ((await fetch(`${n.url}/api/plinth/ready`).catch(() => undefined))?.status !== 200) return false;
      for (let i = 0; i < nodes.length; i++)
        if ((await fetch(`${proxy.url}/api/health`).catch(() => undefined))?.status !== 200) return false;
      return true;
    }, 'every node ready and routed to again');
  const clients: PocketBase[] = [];
  const client = () => {
    const pb = new PocketBase(proxy.url);
    clients.push(pb);
    return pb;
  };
  const users: Record<string, { id: string; token: string }> = {};
  let env: Record<string, string> = {};

  before(async () => {
    db = await createTestDatabase();
    env = {
      PLINTH_DB: db.url,
      PLINTH_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      PLINTH_REDIS: 'redis://127.0.0.1:6379',
      // Tests run side by side on one Redis: each cluster talks on channels of its own.
      PLINTH_REDIS_PREFIX: `test-${randomUUID()}:`,
      PLINTH_MAX_EVENT_LOOP_DELAY_MS: '0',
    };
    for (let i = 0; i < 3; i++) dirs.push(mkdtempSync(join(tmpdir(), `plinth-node${i + 1}-`)));
    const upsert = await runCli(
      ['superuser', 'upsert', ADMIN.email, ADMIN.password, '--dir', dirs[0] as string],
      env,
    );
    assert.equal(upsert.code, 0, upsert.stderr);
    for (const dir of dirs) {
      const port = await freePort();
      // Two workers a node, whatever the machine: each worker is a node of its own to Redis.
      const served = await spawnServe(['--http', `127.0.0.1:${port}`, '--dir', dir, '--workers', '2'], env);
      nodes.push({ url: `http://127.0.0.1:${port}`, port, child: served.child, waitFor: served.waitFor });
    }
    proxy = await startHaproxy(nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
    admin = new PocketBase(proxy.url);
    await admin.collection('_superusers').authWithPassword(ADMIN.email, ADMIN.password);
    // Set through one node, in force on all (the tests send everything from one address).
    await admin.settings.update({ rateLimits: { enabled: false } });
    await admin.collections.update('users', { listRule: '', viewRule: '' });
    for (const name of ['ann', 'bob']) {
      const email = `${name}@example.com`;
      const record = await admin
        .collection('users')
        .create({ email, password: 'password-123', passwordConfirm: 'password-123' });
      const auth = await new PocketBase(proxy.url)
        .collection('users')
        .authWithPassword(email, 'password-123');
      users[name] = { id: record.id, token: auth.token };
    }
  });

  after(async () => {
    for (const pb of clients) await pb.realtime.unsubscribe().catch(() => {});
    for (const n of nodes) killGroup(n.child, 'SIGKILL');
    await proxy?.stop();
    await db?.drop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const guestGet = (url: string, path: string, token = '') =>
    fetch(url + path, { headers: token ? { authorization: token } : {} });

  it('a collection created or changed on one node is in force on every node within a second', async () => {
    await admin.collections.create({
      name: 'cl_posts',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      fields: [
        { name: 'title', type: 'text' },
        {
          name: 'owner',
          type: 'relation',
          collectionId: (await admin.collections.getOne('users')).id,
          maxSelect: 1,
        },
      ],
    });
    const created = Date.now();
    for (const n of nodes)
      await until(
        async () => (await guestGet(n.url, '/api/collections/cl_posts/records')).status === 200,
        n.url,
      );
    const seen = Date.now() - created;
    await admin.collection('cl_posts').create({ title: 'mine', owner: users.ann?.id });
    // The rule changes on one node; a guest sees ann's record on every node once the change is there.
    await admin.collections.update('cl_posts', { listRule: '' });
    const changed = Date.now();
    for (const n of nodes)
      await until(async () => {
        const res = await guestGet(n.url, '/api/collections/cl_posts/records');
        return res.status === 200 && ((await res.json()) as Json).totalItems === 1;
      }, `the new rule on ${n.url}`);
    const ruleSeen = Date.now() - changed;
    assert.ok(seen < 1000, `new collection on every node after ${seen} ms`);
    assert.ok(ruleSeen < 1000, `changed rule on every node after ${ruleSeen} ms`);
    await admin.collections.update('cl_posts', { listRule: 'owner = @request.auth.id' });
    for (const n of nodes)
      await until(async () => {
        const res = await guestGet(n.url, '/api/collections/cl_posts/records');
        return ((await res.json()) as Json).totalItems === 0;
      }, 'the owner rule back');
  });

  it('every subscriber gets every event it may see, exactly once, whichever node it and the writer use', async () => {
    const subscribers = ['ann', 'bob', 'guest', 'ann', 'bob', 'guest', 'ann', 'bob', 'guest'].map((who) => {
      const pb = client();
      if (who !== 'guest') pb.authStore.save(users[who]?.token as string, null);
      return { who, pb, got: [] as string[] };
    });
    const offs = [];
    for (const s of subscribers)
      offs.push(
        await s.pb.collection('cl_posts').subscribe('*', (e) => s.got.push(`${e.action}:${e.record.id}`)),
      );
    // Each subscription request may have reached another node than its stream: all streams are bound.
    const expected: Record<string, string[]> = { ann: [], bob: [], guest: [] };
    for (let i = 0; i < 24; i++) {
      const owner = ['ann', 'bob', 'guest'][i % 3] as string;
      const record = await admin
        .collection('cl_posts')
        .create({ title: `t${i}`, owner: users[owner]?.id ?? '' });
      expected[owner]?.push(`create:${record.id}`);
    }
    for (const s of subscribers)
      await until(() => s.got.length >= (expected[s.who]?.length ?? 0), `${s.who}'s events`);
    await new Promise((r) => setTimeout(r, 300));
    for (const s of subscribers) assert.deepEqual(s.got, expected[s.who], `${s.who} got exactly its events`);
    for (const off of offs) await off();
  });

  it('a delete is checked on every node before it commits: a rule through a parent the cascade removes still holds', async () => {
    const parents = await admin.collections.create({
      name: 'cl_parents',
      type: 'base',
      listRule: 'owner = @request.auth.id',
      viewRule: 'owner = @request.auth.id',
      fields: [
        {
          name: 'owner',
          type: 'relation',
          collectionId: (await admin.collections.getOne('users')).id,
          maxSelect: 1,
        },
      ],
    });
    await admin.collections.create({
      name: 'cl_children',
      type: 'base',
      listRule: 'parent.owner = @request.auth.id',
      viewRule: 'parent.owner = @request.auth.id',
      fields: [
        { name: 'parent', type: 'relation', collectionId: parents.id, cascadeDelete: true, maxSelect: 1 },
      ],
    });
    const parent = await admin.collection('cl_parents').create({ owner: users.ann?.id });
    const child = await admin.collection('cl_children').create({ parent: parent.id });
    // Six streams through HAProxy land on every node.
    const subscribers = [0, 1, 2, 3, 4, 5].map(() => {
      const pb = client();
      pb.authStore.save(users.ann?.token as string, null);
      return { pb, got: [] as string[] };
    });
    const offs = [];
    for (const s of subscribers)
      offs.push(
        await s.pb.collection('cl_children').subscribe('*', (e) => s.got.push(`${e.action}:${e.record.id}`)),
      );
    await admin.collection('cl_parents').delete(parent.id);
    for (const s of subscribers) await until(() => s.got.length >= 1, 'the delete of the child');
    await new Promise((r) => setTimeout(r, 200));
    for (const s of subscribers) assert.deepEqual(s.got, [`delete:${child.id}`]);
    for (const off of offs) await off();
  });

  it('a signed-out session is refused on every node within a second', async () => {
    const pb = new PocketBase(proxy.url);
    const { token } = await pb.collection('users').authWithPassword('ann@example.com', 'password-123');
    const refresh = (url: string) =>
      fetch(`${url}/api/collections/users/auth-refresh`, {
        method: 'POST',
        headers: { authorization: token },
      });
    for (const n of nodes) assert.equal((await refresh(n.url)).status, 200, `valid on ${n.url}`);
    const out = await fetch(`${nodes[0]?.url}/api/collections/users/auth-logout`, {
      method: 'POST',
      headers: { authorization: token, 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(out.status, 204);
    const ended = Date.now();
    for (const n of nodes.slice(1)) await until(async () => (await refresh(n.url)).status === 401, n.url);
    const elapsed = Date.now() - ended;
    assert.ok(elapsed < 1000, `refused on every node after ${elapsed} ms`);
  });

  it('failed sign-ins count against one budget whichever node they reach', async () => {
    // 10 failures per identity by default: per-node counters would allow 30 over three nodes.
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${nodes[i % 3]?.url}/api/collections/users/auth-with-password`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ identity: 'nobody@example.com', password: `guess-${i}` }),
      });
      statuses.push(res.status);
    }
    assert.deepEqual(statuses, [...Array(10).fill(400), 429, 429]);
  });

  it('rate limits count across nodes, and new rules start every node afresh', async () => {
    const set = async (rateLimits: Json) => {
      await admin.settings.update({ rateLimits });
      // In force on a node once it lists the new settings (superusers are never rate limited).
      for (const n of nodes)
        await until(async () => {
          const res = await guestGet(n.url, '/api/settings', admin.authStore.token);
          const seen = ((await res.json()) as Json).rateLimits;
          return seen.enabled && seen.rules[0]?.maxRequests === rateLimits.rules[0].maxRequests;
        }, `rate limits on ${n.url}`);
    };
    const rule = (maxRequests: number) => ({
      enabled: true,
      excludedIPs: [],
      rules: [{ label: 'cl_posts:list', audience: '@guest', duration: 60, maxRequests }],
    });
    const burst = async (n: number) => {
      const statuses: number[] = [];
      for (let i = 0; i < n; i++)
        statuses.push(
          (await guestGet(nodes[i % 3]?.url as string, '/api/collections/cl_posts/records')).status,
        );
      return statuses;
    };
    try {
      await set(rule(4));
      assert.deepEqual(await burst(7), [200, 200, 200, 200, 429, 429, 429]);
      await set(rule(5));
      assert.deepEqual(await burst(7), [200, 200, 200, 200, 200, 429, 429]);
    } finally {
      await admin.settings.update({ rateLimits: { enabled: false } });
    }
  });

  it('a restore through one node is in force on every node: its data, collections and settings', async () => {
    const target = nodes[1] as Node;
    const asAdmin = (n: Node, method: string, path: string, body?: unknown) =>
      fetch(n.url + path, {
        method,
        headers: { authorization: admin.authStore.token, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    assert.equal((await asAdmin(target, 'POST', '/api/backups', { name: 'cluster.zip' })).status, 204);
    // After the backup: a collection and a setting that the restore must take away on every node.
    await admin.collections.create({
      name: 'cl_after_backup',
      type: 'base',
      listRule: '',
      fields: [{ name: 'x', type: 'text' }],
    });
    const { meta } = await admin.settings.getAll();
    await admin.settings.update({ meta: { ...meta, appName: 'after the backup' } });
    const path = '/api/collections/cl_after_backup/records';
    // The other nodes learn of the new collection over the bus (the test above): wait until all have.
    for (const n of nodes)
      await until(async () => (await guestGet(n.url, path)).status === 200, `the new collection on ${n.url}`);

    assert.equal((await asAdmin(target, 'POST', '/api/backups/cluster.zip/restore')).status, 204);
    // A 404 (not a failed query) means the node's collections cache is the backup's, not only its tables.
    const took = await until(
      async () => {
        for (const n of nodes) {
          if ((await guestGet(n.url, path).catch(() => undefined))?.status !== 404) return false;
          const settings = await asAdmin(n, 'GET', '/api/settings').catch(() => undefined);
          if (
            settings?.status !== 200 ||
            ((await settings.json()) as Json).meta.appName === 'after the backup'
          )
            return false;
        }
        return true;
      },
      'every node on the restored data',
      30_000,
    );
    console.log(`restore through one node: in force on all three after ${took} ms`);
    for (const n of nodes) assert.equal((await guestGet(n.url, '/api/health')).status, 200, n.url);
    // Every node restarted its workers: the first alone, then the other. Until the other is up, the node
    // answers through one worker, and the next test counts the workers a restore reaches.
    for (const n of nodes)
      assert.ok(await n.waitFor(/every worker restarted on the restored data/, 30_000), n.url);
    await servingAgain();
  });

  it('plinth restore while the nodes run: each reconnects to the restored data and reopens', async () => {
    await admin.collections.create({ name: 'cl_after_restore', type: 'base', listRule: '', fields: [] });
    const path = '/api/collections/cl_after_restore/records';
    const everyNode = (status: number) => async () => {
      for (const n of nodes)
        if ((await guestGet(n.url, path).catch(() => undefined))?.status !== status) return false;
      return true;
    };
    await until(everyNode(200), 'the collection on every node');
    const cliDir = mkdtempSync(join(tmpdir(), 'plinth-cli-restore-'));
    dirs.push(cliDir);
    const restore = await runCli(
      ['restore', join(dirs[1] as string, 'backups', 'cluster.zip'), '--dir', cliDir],
      env,
    );
    assert.equal(restore.code, 0, restore.stderr);
    // Three nodes of two workers: six processes heard it.
    assert.match(restore.stdout, /Running processes told to reopen on the restored data \(6\)/);
    await until(everyNode(404), 'every node on the data plinth restore swapped in', 30_000);
    await servingAgain();
  });

  it('a node killed mid-test: the others keep serving, and its streams reconnect through HAProxy', async () => {
    const subscribers = [0, 1, 2, 3, 4, 5].map(() => {
      const pb = client();
      pb.authStore.save(users.ann?.token as string, null);
      return { pb, got: [] as string[] };
    });
    const offs = [];
    for (const s of subscribers)
      offs.push(await s.pb.collection('cl_posts').subscribe('*', (e) => s.got.push(e.record.title)));
    if (nodes[0]) killGroup(nodes[0].child, 'SIGKILL');
    // Requests in flight on the killed node fail with it; HAProxy's check takes it out of the pool within a
    // few hundred milliseconds, after which every request reaches a live node.
    await until(async () => {
      for (let i = 0; i < 6; i++)
        if ((await fetch(`${proxy.url}/api/health`).catch(() => undefined))?.status !== 200) return false;
      return true;
    }, 'HAProxy routing around the dead node');
    const titles: string[] = [];
    for (let i = 0; i < 10; i++) {
      const title = `after-kill-${i}`;
      await admin.collection('cl_posts').create({ title, owner: users.ann?.id });
      titles.push(title);
    }
    // Streams that were on the dead node reconnect and subscribe again; from then on they get the events.
    const last = 'after-reconnect';
    const deadline = Date.now() + 20_000;
    while (subscribers.some((s) => !s.got.includes(last)) && Date.now() < deadline) {
      await admin.collection('cl_posts').create({ title: last, owner: users.ann?.id });
      await new Promise((r) => setTimeout(r, 500));
    }
    for (const [i, s] of subscribers.entries())
      assert.ok(s.got.includes(last), `subscriber ${i} reconnected`);
    for (const off of offs) await off().catch(() => {});
    // The nodes left still serve every request.
    for (const n of nodes.slice(1)) assert.equal((await guestGet(n.url, '/api/health')).status, 200);
  });
});
