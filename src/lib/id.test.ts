import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newRecordId, randomString } from './id.ts';

describe('randomString', () => {
  it('gives the length asked for, over the alphabet asked for', () => {
    assert.match(newRecordId(), /^[a-z0-9]{15}$/);
    assert.match(randomString(40, '01'), /^[01]{40}$/);
    assert.equal(randomString(0), '');
    assert.equal(randomString(300, 'ab').length, 300);
  });

  it('draws every character about as often (no modulo bias)', () => {
    // 36 does not divide 256: without rejection, a–d would come ~14% more often than the rest.
    const counts = new Map<string, number>();
    for (const ch of randomString(360_000)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    assert.equal(counts.size, 36);
    for (const [ch, n] of counts) assert.ok(n > 9400 && n < 10600, `${ch} came ${n} times out of ~10,000`);
  });
});
