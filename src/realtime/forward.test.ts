import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { createMemoryBus, createRedisBus, type RedisBus } from '../bus/index.ts';
import { createForwarder, type Forwarded } from './forward.ts';

const SHARED = 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, label: string): Promise<void> {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`);
    await sleep(10);
  }
}

/** Three nodes on one Redis; `holder` holds the stream `held-1` and answers after `delayMs`. */
async function cluster(delayMs: number) {
  const prefix = `test:${randomUUID()}:`;
  const buses: RedisBus[] = [0, 1, 2].map(() => createRedisBus({ url: SHARED, prefix }));
  await until(() => buses.every((b) => b.connected), 'connected');
  const forwarders = buses.map((bus, i) =>
    createForwarder({
      bus,
      onError: (err) => assert.fail(err as Error),
      async handle(request: Forwarded) {
        if (i !== 1) return undefined;
        await sleep(delayMs);
        return request.clientId === 'held-1' ? `done by node 1: ${request.payload}` : undefined;
      },
    }),
  );
  return {
    ask: (clientId: string) =>
      forwarders[0]!.ask({ kind: 'subscribe', clientId, payload: 'p' }, 'missing' as string),
    async close() {
      for (const f of forwarders) f.close();
      for (const b of buses) await b.close();
    },
  };
}

describe('forwarding to the node that holds a stream', () => {
  it('waits for the holder when the others answer first', async () => {
    const nodes = await cluster(300);
    try {
      await sleep(100); // the subscriptions reach Redis
      assert.equal(await nodes.ask('held-1'), 'done by node 1: p');
    } finally {
      await nodes.close();
    }
  });

  it('answers "not held" as soon as every node reached has said so, without the 2 s timeout', async () => {
    const nodes = await cluster(0);
    try {
      await sleep(200); // the subscriptions reach Redis
      const started = Date.now();
      assert.equal(await nodes.ask('nobody'), 'missing');
      assert.ok(Date.now() - started < 1500, `${Date.now() - started} ms`);
    } finally {
      await nodes.close();
    }
  });

  it('a node alone answers at once', async () => {
    const bus = createMemoryBus();
    const forwarder = createForwarder({ bus, onError: () => {}, handle: async () => 'never' });
    try {
      const started = Date.now();
      assert.equal(
        await forwarder.ask({ kind: 'subscribe', clientId: 'x', payload: null }, 'missing'),
        'missing',
      );
      assert.ok(Date.now() - started < 100);
    } finally {
      forwarder.close();
    }
  });

  it('askAll waits for every other node, and no longer than its timeout', async () => {
    const prefix = `test:${randomUUID()}:`;
    const buses: RedisBus[] = [0, 1, 2].map(() => createRedisBus({ url: SHARED, prefix }));
    await until(() => buses.every((b) => b.connected), 'connected');
    const handled: number[] = [];
    const delays = [0, 150, 300];
    let closed = false;
    const forwarders = buses.map((bus, i) =>
      createForwarder({
        bus,
        // The node that never answered in time answers after the test has closed its bus.
        onError: (err) => {
          if (!closed) assert.fail(err as Error);
        },
        async handle() {
          await sleep(delays[i] as number);
          handled.push(i);
          return true;
        },
      }),
    );
    try {
      await sleep(200); // the subscriptions reach Redis
      await forwarders[0]!.askAll({ kind: 'prepare', clientId: '', payload: null }, 2000);
      assert.deepEqual(handled.sort(), [1, 2], 'both other nodes had answered');
      delays[2] = 5000;
      const started = Date.now();
      await forwarders[0]!.askAll({ kind: 'prepare', clientId: '', payload: null }, 500);
      const waited = Date.now() - started;
      assert.ok(waited >= 450 && waited < 1500, `waited ${waited} ms for a node that does not answer`);
    } finally {
      closed = true;
      for (const f of forwarders) f.close();
      for (const b of buses) await b.close();
    }
  });
});
