import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryBus } from './bus.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('the in-memory bus', () => {
  it('delivers to every subscriber of the topic, after publish returns, as a copy', async () => {
    const bus = createMemoryBus();
    const got: unknown[] = [];
    bus.subscribe('a', (m) => got.push(['first', m]));
    bus.subscribe('a', (m) => got.push(['second', m]));
    bus.subscribe('b', (m) => got.push(['other', m]));
    const message = { n: 1 };
    await bus.publish('a', message);
    assert.deepEqual(got, []);
    await tick();
    assert.deepEqual(got, [
      ['first', { n: 1 }],
      ['second', { n: 1 }],
    ]);
    assert.notEqual((got[0] as unknown as [string, unknown])[1], message);
  });

  it('unsubscribes, isolates a throwing handler, and refuses to publish once closed', async () => {
    const errors: string[] = [];
    const bus = createMemoryBus((_err, topic) => errors.push(topic));
    const got: unknown[] = [];
    bus.subscribe('t', () => {
      throw new Error('boom');
    });
    const off = bus.subscribe('t', (m) => got.push(m));
    await bus.publish('t', 1);
    await tick();
    assert.deepEqual(got, [1]);
    assert.deepEqual(errors, ['t']);
    off();
    await bus.publish('t', 2);
    await tick();
    assert.deepEqual(got, [1]);
    await bus.close();
    await assert.rejects(bus.publish('t', 3), /closed/);
  });

  it('says how many subscribers a message reached', async () => {
    const bus = createMemoryBus();
    bus.subscribe('a', () => {});
    assert.equal(await bus.publish('a', 1), 1);
    bus.subscribe('a', () => {});
    assert.equal(await bus.publish('a', 1), 2);
    assert.equal(await bus.publish('nobody', 1), 0);
  });

  it('refuses messages a networked bus could not carry', async () => {
    const bus = createMemoryBus();
    await assert.rejects(bus.publish('t', { n: 1n }), TypeError);
  });
});
