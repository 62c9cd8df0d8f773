import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRateStore } from './rate-store.ts';

describe('the in-memory rate-limit store', () => {
  it('allows max per fixed window, then says how long until the window ends', () => {
    let now = 1_000_000;
    const store = createMemoryRateStore(() => now);
    try {
      assert.deepEqual(
        [1, 2, 3].map(() => store.hit('rule', 'k', 2, 10)),
        [0, 0, 10],
      );
      now += 4_500;
      assert.equal(store.hit('rule', 'k', 2, 10), 6, 'rounded up to whole seconds');
      assert.equal(store.hit('rule', 'other', 2, 10), 0, 'clients count apart');
      assert.equal(store.hit('another rule', 'k', 1, 10), 0, 'and limiters');
      now += 5_500;
      assert.equal(store.hit('rule', 'k', 2, 10), 0, 'a new window starts once the old one has ended');
      store.reset('[]');
      assert.equal(store.hit('rule', 'other', 1, 10), 0, 'new rules forget every counter');
    } finally {
      store.close();
    }
  });
});
