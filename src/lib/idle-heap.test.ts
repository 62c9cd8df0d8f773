import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { compactHeapWhenIdle } from './idle-heap.ts';

/** Keeps the event loop busy (20 ms turns, timers still run between them) for `ms`. */
async function busy(ms: number): Promise<void> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const turn = performance.now() + 20;
    while (performance.now() < turn);
    await new Promise((r) => setImmediate(r));
  }
}

describe('compacting the heap when idle', () => {
  it('compacts after a short quiet spell at the start, then only after long ones, and never while busy', async () => {
    let compactions = 0;
    const stop = compactHeapWhenIdle({
      compact: () => compactions++,
      checkMs: 25,
      quietMs: 150,
      idleMs: 1000,
      slackBytes: 0,
    });
    try {
      await busy(300);
      assert.equal(compactions, 0, 'not while busy');
      await sleep(500);
      assert.equal(compactions, 1, 'once quiet');
      await sleep(400);
      assert.equal(compactions, 1, 'the next one needs a long quiet spell');
      await busy(300);
      await sleep(600);
      assert.equal(compactions, 1, 'which the load started again');
      // About 0.5 s more of quiet is due; on a machine busy with other tests the timers that measure it run
      // late, so allow up to 3 s.
      for (let waited = 0; compactions < 2 && waited < 3000; waited += 100) await sleep(100);
      assert.equal(compactions, 2, 'after a long quiet spell again');
    } finally {
      stop();
    }
    await sleep(1300);
    assert.equal(compactions, 2, 'not after stop');
  });

  it('leaves a heap with little free memory alone', async () => {
    let compactions = 0;
    const stop = compactHeapWhenIdle({
      compact: () => compactions++,
      checkMs: 25,
      quietMs: 50,
      slackBytes: 2 ** 40,
    });
    await sleep(300);
    stop();
    assert.equal(compactions, 0);
  });

  it("runs V8's memory-reducing collection by default: the young generation shrinks back", async () => {
    const youngMb = () =>
      (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20;
    // Objects that survive a few collections make V8 grow the young generation.
    let kept: object[] = [];
    for (let i = 0; i < 300_000; i++) {
      kept.push({ i, pair: [i, i] });
      if (kept.length > 100_000) kept = kept.slice(50_000);
    }
    kept = [];
    assert.ok(youngMb() > 4, `grown to ${youngMb()} MB`);
    const stop = compactHeapWhenIdle({ checkMs: 25, quietMs: 50, slackBytes: 0 });
    await sleep(400);
    stop();
    assert.ok(youngMb() <= 2, `back to ${youngMb()} MB`);
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'gc is not exposed to the app');
  });
});
