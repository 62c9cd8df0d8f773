import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../errors/index.ts';
import { createGate } from './gate.ts';

const options = { slots: 2, perCaller: 1, maxPerCaller: 1, maxWaiting: 4, maxWaitMs: 200 };
const tick = () => new Promise((r) => setImmediate(r));

describe('the query lane gate', () => {
  it('lets `slots` queries in at once and the next one in when one leaves', async () => {
    const gate = createGate({ ...options, perCaller: 2, maxPerCaller: 2 });
    const a = await gate.enter({ caller: 'x' });
    await gate.enter({ caller: 'y' });
    let third = false;
    const waiting = gate.enter({ caller: 'z' }).then((r) => {
      third = true;
      return r;
    });
    await tick();
    assert.equal(third, false);
    assert.deepEqual([gate.running, gate.waiting], [2, 1]);
    a();
    a(); // releasing twice frees one slot only
    (await waiting)();
    assert.equal(third, true);
    assert.deepEqual([gate.running, gate.waiting], [1, 0]);
  });

  it('keeps one caller to its share while another caller gets a free slot', async () => {
    const gate = createGate(options);
    await gate.enter({ caller: 'greedy' });
    let greedyAgain = false;
    void gate
      .enter({ caller: 'greedy' })
      .then(() => {
        greedyAgain = true;
      })
      .catch(() => {});
    // A slot is free, but not for the caller that already holds its share.
    await tick();
    assert.equal(greedyAgain, false);
    const other = await gate.enter({ caller: 'polite' });
    assert.equal(typeof other, 'function');
    assert.equal(gate.running, 2);
  });

  it('serves waiting callers in turn, not in arrival order', async () => {
    const gate = createGate({ ...options, slots: 1, perCaller: 1, maxPerCaller: 1, maxWaiting: 10 });
    const first = await gate.enter({ caller: 'a' });
    const order: string[] = [];
    const wait = (caller: string) =>
      gate.enter({ caller }).then((release) => {
        order.push(caller);
        release();
      });
    const all = [wait('a'), wait('a'), wait('a'), wait('b'), wait('c')];
    first();
    await Promise.all(all);
    assert.deepEqual(order, ['a', 'b', 'c', 'a', 'a']);
  });

  it('refuses at once with a 503 and Retry-After when too many are waiting', async () => {
    const gate = createGate({ ...options, slots: 1, maxWaiting: 1 });
    await gate.enter({ caller: 'a' });
    void gate.enter({ caller: 'b' }).catch(() => {});
    const err = await gate.enter({ caller: 'c' }).catch((e) => e);
    assert.ok(err instanceof ApiError);
    assert.equal(err.status, 503);
    assert.equal(err.headers['retry-after'], '1');
  });

  it('gives up on a wait after maxWaitMs with a 503', async () => {
    const gate = createGate({ ...options, slots: 1, maxWaitMs: 20 });
    await gate.enter({ caller: 'a' });
    const err = await gate.enter({ caller: 'b' }).catch((e) => e);
    assert.equal(err.status, 503);
    assert.equal(gate.waiting, 0);
  });

  it('drops a waiting query whose client has gone away, and never grants it', async () => {
    const gate = createGate({ ...options, slots: 1 });
    const held = await gate.enter({ caller: 'a' });
    const controller = new AbortController();
    const gone = gate.enter({ caller: 'b', signal: controller.signal });
    controller.abort(new Error('client gone'));
    await assert.rejects(gone, /client gone/);
    assert.equal(gate.waiting, 0);
    held();
    assert.equal(gate.running, 0);
  });

  it('lets a lone caller go past its share, but never take the last slot, and hands slots to others first', async () => {
    const gate = createGate({ ...options, slots: 4, perCaller: 2, maxPerCaller: 3 });
    const mine = [
      await gate.enter({ caller: 'a' }),
      await gate.enter({ caller: 'a' }),
      await gate.enter({ caller: 'a' }),
    ];
    // The fourth slot stays free for whoever comes next...
    let fourth = false;
    const late = gate.enter({ caller: 'a' }).then((r) => {
      fourth = true;
      return r;
    });
    await tick();
    assert.equal(fourth, false);
    const other = await gate.enter({ caller: 'b' });
    // ...and a slot that frees goes to a newcomer within its share before the waiting 'a' (over its share).
    const newcomer = gate.enter({ caller: 'c' });
    mine[0]!();
    const c = await newcomer;
    await tick();
    assert.equal(fourth, false);
    // With nobody else waiting, 'a' may go past its share again.
    c();
    (await late)();
    assert.equal(fourth, true);
    other();
    mine[1]!();
    mine[2]!();
    assert.equal(gate.running, 0);
  });
});
