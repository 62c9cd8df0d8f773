import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { watchEventLoop } from './loop-watch.ts';

/** Keeps the event loop in this turn for `ms`, as a synchronous handler does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('the event-loop watch', () => {
  it('is late only inside a turn that has run past the limit', async () => {
    const watch = watchEventLoop(100);
    try {
      await sleep(60);
      assert.equal(watch.late(), false, 'an idle loop is on time');
      busy(250);
      assert.equal(watch.late(), true, 'later in the same long turn');
      await sleep(80);
      assert.equal(watch.late(), false, 'the next turns are on time again');
    } finally {
      watch.close();
    }
  });

  it('is never late with a limit of 0', () => {
    const watch = watchEventLoop(0);
    busy(100);
    assert.equal(watch.late(), false);
    watch.close();
  });
});
