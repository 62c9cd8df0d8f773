import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { createMemoryCounters, type WindowCounters } from './counters.ts';
import { createRedisCounters } from './redis-counters.ts';

const SHARED = 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const connections: Redis[] = [];
after(() => {
  for (const c of connections) c.disconnect();
});

async function connect(url = SHARED): Promise<Redis> {
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 1000 });
  redis.on('error', () => {});
  connections.push(redis);
  if (url === SHARED) await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}

/** Two handles on the same counters: two nodes of a cluster, or the one node twice. */
type Pair = () => Promise<[WindowCounters, WindowCounters]>;

const implementations: [string, Pair][] = [
  [
    'in memory',
    async () => {
      const one = createMemoryCounters();
      return [one, one];
    },
  ],
  [
    'in Redis, seen from two nodes',
    async () => {
      const prefix = `test:${randomUUID()}:`;
      return [
        createRedisCounters(await connect(), prefix, createMemoryCounters()),
        createRedisCounters(await connect(), prefix, createMemoryCounters()),
      ];
    },
  ],
];

for (const [name, pair] of implementations) {
  describe(`window counters ${name}`, () => {
    it('counts up to max per window, then answers the seconds left', async () => {
      const [a, b] = await pair();
      const limit = { key: 'k', max: 3, windowSeconds: 60 };
      assert.deepEqual([await a.take([limit]), await b.take([limit]), await a.take([limit])], [0, 0, 0]);
      const wait = await b.take([limit]);
      assert.ok(wait >= 59 && wait <= 60, String(wait));
      assert.equal(await a.take([{ ...limit, key: 'other' }]), 0, 'keys count apart');
    });

    it('takes all or nothing: one full key counts none of the others', async () => {
      const [a, b] = await pair();
      const full = { key: 'full', max: 1, windowSeconds: 60 };
      const free = { key: 'free', max: 2, windowSeconds: 60 };
      assert.equal(await a.take([full]), 0);
      assert.ok((await b.take([free, full])) > 0);
      assert.ok((await a.take([free, full])) > 0);
      assert.equal(await b.take([free]), 0, 'the refused takes counted nothing on `free`');
      assert.equal(await a.take([free]), 0);
      assert.ok((await b.take([free])) > 0);
    });

    it('starts a new window once the old one has ended', async () => {
      const [a, b] = await pair();
      const limit = { key: 'short', max: 1, windowSeconds: 0.3 };
      assert.equal(await a.take([limit]), 0);
      assert.equal(await b.take([limit]), 1, 'under a second left is still a second to wait');
      await sleep(350);
      assert.equal(await b.take([limit]), 0);
    });

    it('forgets keys and gives counts back, never below zero', async () => {
      const [a, b] = await pair();
      const x = { key: 'x', max: 2, windowSeconds: 60 };
      const y = { key: 'y', max: 2, windowSeconds: 60 };
      await a.take([x, y]);
      await a.take([x, y]);
      assert.ok((await b.take([x])) > 0 && (await b.take([y])) > 0);
      await b.forget(['x']);
      await b.giveBack(['y', 'never-counted']);
      await b.giveBack(['never-counted']);
      assert.equal(await a.take([x]), 0);
      assert.equal(await a.take([x]), 0, 'x started over');
      assert.equal(await a.take([y]), 0, 'y got one back');
      assert.ok((await a.take([y])) > 0);
      assert.equal(await a.take([{ key: 'never-counted', max: 1, windowSeconds: 60 }]), 0);
    });

    it('lets exactly max of many parallel takes through', async () => {
      const [a, b] = await pair();
      const limit = { key: 'race', max: 5, windowSeconds: 60 };
      const waits = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).take([limit])));
      assert.equal(waits.filter((w) => w === 0).length, 5);
    });
  });
}

describe('window counters in Redis while Redis cannot be reached', () => {
  it('count on the node alone, without waiting', async () => {
    // Nothing listens on port 1: the connection never becomes ready.
    const counters = createRedisCounters(await connect('redis://127.0.0.1:1'), 'p:', createMemoryCounters());
    const limit = { key: 'k', max: 1, windowSeconds: 60 };
    const started = Date.now();
    assert.equal(await counters.take([limit]), 0);
    assert.ok((await counters.take([limit])) > 0, 'still limited, by this node');
    await counters.forget(['k']);
    assert.equal(await counters.take([limit]), 0);
    assert.ok(Date.now() - started < 500, 'no call waited for Redis');
  });
});
