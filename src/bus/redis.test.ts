import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createRedisBus, type RedisBus } from './redis.ts';

const SHARED = 'redis://127.0.0.1:6379';

async function until(check: () => boolean, label: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A Redis of this test's own (never the shared service), to stop and start again. */
async function privateRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  await new Promise((r) => setTimeout(r, 300));
  return child;
}

/** `n` buses on the shared Redis, on channels of their own (tests run side by side on it). */
const nodesOnSharedRedis = (n: number): RedisBus[] => {
  const prefix = `test:${randomUUID()}:`;
  return Array.from({ length: n }, () => createRedisBus({ url: SHARED, prefix }));
};

describe('the Redis bus', () => {
  it('delivers each message once to every subscriber on every node, the publisher’s included', async () => {
    const [a, b] = nodesOnSharedRedis(2) as [RedisBus, RedisBus];
    try {
      const got: string[] = [];
      a.subscribe('t', (m) => got.push(`a:${JSON.stringify(m)}`));
      b.subscribe('t', (m) => got.push(`b:${JSON.stringify(m)}`));
      b.subscribe('other', (m) => got.push(`other:${JSON.stringify(m)}`));
      await until(() => a.connected && b.connected, 'both connected');
      await new Promise((r) => setTimeout(r, 100)); // the subscriptions reach Redis
      await a.publish('t', { n: 1 });
      await b.publish('t', [2]);
      await until(() => got.length >= 4, 'four deliveries');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(got.sort(), ['a:[2]', 'a:{"n":1}', 'b:[2]', 'b:{"n":1}']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('says how many subscribers a message reached: this node’s handlers, and one per other node', async () => {
    const nodes = nodesOnSharedRedis(3);
    try {
      await until(() => nodes.every((n) => n.connected), 'connected');
      const [a, b, c] = nodes as [RedisBus, RedisBus, RedisBus];
      a.subscribe('t', () => {});
      // Right after subscribing, this node may count twice (never less than once): Redis may count its
      // connection before the subscription's answer is back. Once it is, it counts once.
      const early = await a.publish('t', 1);
      assert.ok(early === 1 || early === 2, String(early));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(await a.publish('t', 1), 1);
      b.subscribe('t', () => {});
      c.subscribe('t', () => {});
      c.subscribe('t', () => {});
      await new Promise((r) => setTimeout(r, 200)); // the subscriptions reach Redis
      assert.equal(await a.publish('t', 1), 3);
      assert.equal(await c.publish('t', 1), 4);
      assert.equal(await c.publish('nobody', 1), 0);
    } finally {
      for (const n of nodes) await n.close();
    }
  });

  it('says when Redis has confirmed its subscriptions: what another node publishes from then on is heard', async () => {
    const [a, b] = nodesOnSharedRedis(2) as [RedisBus, RedisBus];
    try {
      const got: unknown[] = [];
      b.subscribe('t', (m) => got.push(m));
      let confirmed = false;
      const first = b.subscribed().then(() => {
        confirmed = true;
      });
      await new Promise((r) => setImmediate(r));
      assert.equal(confirmed, false, 'not before the connection is up');
      await first;
      await until(() => a.connected, 'the publisher connected');
      // No sleep: the subscription is in force once confirmed.
      await a.publish('t', 'first');
      await until(() => got.length === 1, 'the first message');
      // A topic subscribed later, on the connection already up.
      b.subscribe('u', (m) => got.push(m));
      await b.subscribed();
      await a.publish('u', 'second');
      await until(() => got.length === 2, 'the second message');
      assert.deepEqual(got, ['first', 'second']);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('keeps working alone while Redis is down, and reconnects by itself', async () => {
    const port = await freePort();
    let redis = await privateRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const events: string[] = [];
    const options = { url, prefix: 'p:', onStatus: (e: string) => events.push(e) };
    const a: RedisBus = createRedisBus(options);
    const b: RedisBus = createRedisBus({ url, prefix: 'p:' });
    try {
      const atA: unknown[] = [];
      const atB: unknown[] = [];
      a.subscribe('t', (m) => atA.push(m));
      b.subscribe('t', (m) => atB.push(m));
      await until(() => a.connected && b.connected, 'connected');
      redis.kill('SIGKILL');
      await until(() => !a.connected, 'the loss noticed');
      const started = Date.now();
      assert.equal(await a.publish('t', 'alone'), 1, 'only this node counts');
      assert.ok(Date.now() - started < 1000, 'publishing does not wait for Redis');
      await until(() => atA.length === 1, 'the local delivery');
      assert.deepEqual(atB, [], 'nothing reached the other node');
      assert.ok(events.includes('down') && events.includes('not-sent'), events.join());
      redis = await privateRedis(port);
      await until(() => a.connected && b.connected, 'reconnected', 10_000);
      await new Promise((r) => setTimeout(r, 200)); // subscribed again on 'ready'
      await a.publish('t', 'together');
      await until(() => atB.length === 1, 'the other node again');
      assert.deepEqual(atB, ['together']);
      assert.ok(events.includes('up'));
    } finally {
      await a.close();
      await b.close();
      redis.kill('SIGKILL');
    }
  });

  it('ordered: a node hears its own message after one another node published before it', async () => {
    // A Redis of its own: pausing the shared one would hold up every other test on it.
    const port = await freePort();
    const redis = await privateRedis(port);
    const url = `redis://127.0.0.1:${port}`;
    const [a, b] = [createRedisBus({ url, prefix: 'o:' }), createRedisBus({ url, prefix: 'o:' })];
    const admin = new Redis(url);
    try {
      const atA: unknown[] = [];
      const atB: unknown[] = [];
      a.subscribe('t', (m) => atA.push(m));
      b.subscribe('t', (m) => atB.push(m));
      await Promise.all([a.subscribed(), b.subscribed()]);
      // Redis holds every command for 300 ms: b's message is still on its way to a when a publishes its own.
      await admin.call('CLIENT', 'PAUSE', '300', 'ALL');
      const first = b.publish('t', 'first');
      await new Promise((r) => setTimeout(r, 50));
      const second = a.publish('t', 'second', { ordered: true });
      assert.deepEqual(await Promise.all([first, second]), [2, 2]);
      await until(() => atA.length === 2 && atB.length === 2, 'both messages on both nodes');
      assert.deepEqual(atA, ['first', 'second'], 'the publisher, in the order Redis took them');
      assert.deepEqual(atB, ['first', 'second']);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(atA.length, 2, 'heard once, not also at publish');
    } finally {
      await Promise.all([a.close(), b.close(), admin.quit()]);
      redis.kill('SIGKILL');
    }
  });
});
