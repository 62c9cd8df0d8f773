import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createSemaphore } from './semaphore.ts';

const tick = () => new Promise((r) => setImmediate(r));

describe('createSemaphore', () => {
  it('never runs more than max tasks at once, even when a newcomer arrives as a slot frees', async () => {
    // The newcomer is queued some microtasks after the first task ends: with a slot freed first and taken
    // by the waiter later, it would slip in between and run beside the waiter.
    for (let depth = 0; depth < 8; depth++) {
      const run = createSemaphore(1);
      let active = 0;
      let most = 0;
      const task = async () => {
        active++;
        most = Math.max(most, active);
        await tick();
        active--;
      };
      const later = (n: number, fn: () => void): void => {
        if (n === 0) fn();
        else queueMicrotask(() => later(n - 1, fn));
      };
      let third: Promise<void> | undefined;
      const first = run(async () => {
        await task();
        later(depth, () => {
          third = run(task);
        });
      });
      const second = run(task);
      await Promise.all([first, second]);
      await third;
      assert.equal(most, 1, `newcomer after ${depth} microtasks`);
    }
  });

  it('starts waiting tasks in call order, and a failing task frees its slot', async () => {
    const run = createSemaphore(2);
    const order: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        run(async () => {
          order.push(i);
          await tick();
          if (i === 1) throw new Error('boom');
          return i;
        }),
      ),
    );
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
  });
});
