import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionCap, readOpenFileLimit } from './open-files.ts';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max processes             63448                63448                processes
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

describe('the open-file limit', () => {
  it('reads soft and hard limits from /proc/self/limits', () => {
    assert.deepEqual(readOpenFileLimit(LIMITS), { soft: 1024, hard: 524288 });
    assert.deepEqual(readOpenFileLimit(LIMITS.replace('1024 ', 'unlimited')), {
      soft: Number.POSITIVE_INFINITY,
      hard: 524288,
    });
    assert.equal(readOpenFileLimit('nothing here'), undefined);
    if (process.platform === 'linux') assert.ok(readOpenFileLimit()!.soft > 0);
  });

  it('keeps at least 128 descriptors, or a tenth of the limit, and never more than half', () => {
    assert.equal(connectionCap(256), 128);
    assert.equal(connectionCap(1024), 896);
    assert.equal(connectionCap(65536), 65536 - 6554);
    assert.equal(connectionCap(200), 100);
  });
});
