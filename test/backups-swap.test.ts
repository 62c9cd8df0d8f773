import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { applyPendingRestore } from '../src/backups/index.ts';

// The SQLite swap of a staged restore, from every state a crash (kill -9) can leave it in: each step of the
// swap done or not, the finish at the next start gives the new data whole; a staging without its `ready`
// marker gives the old data whole. Files only (the swap happens before any database opens).

/** A data dir with old data (a WAL beside the database) and a restore staged, `ready` or not. */
function prepare(ready: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'plinth-swap-'));
  writeFileSync(join(dir, 'data.db'), 'old db');
  writeFileSync(join(dir, 'data.db-wal'), 'old wal');
  mkdirSync(join(dir, 'storage'));
  writeFileSync(join(dir, 'storage', 'old.txt'), 'old file');
  mkdirSync(join(dir, '.restore', 'new', 'storage'), { recursive: true });
  mkdirSync(join(dir, '.restore', 'old'));
  writeFileSync(join(dir, '.restore', 'new', 'data.db'), 'new db');
  writeFileSync(join(dir, '.restore', 'new', 'storage', 'new.txt'), 'new file');
  if (ready) writeFileSync(join(dir, '.restore', 'ready'), '{}');
  return dir;
}

/** The swap's renames in order, as a crash may have left any prefix of them done. */
const STEPS: Array<(dir: string) => void> = [
  (d) => renameSync(join(d, 'data.db-wal'), join(d, '.restore', 'old', 'data.db-wal')),
  (d) => renameSync(join(d, 'data.db'), join(d, '.restore', 'old', 'data.db')),
  (d) => renameSync(join(d, '.restore', 'new', 'data.db'), join(d, 'data.db')),
  (d) => renameSync(join(d, 'storage'), join(d, '.restore', 'old', 'storage')),
  (d) => renameSync(join(d, '.restore', 'new', 'storage'), join(d, 'storage')),
  (d) => rmSync(join(d, '.restore', 'ready')),
];

describe('the swap of a staged SQLite restore', () => {
  it('finishes from every point a crash can stop it at', () => {
    for (let done = 0; done <= STEPS.length; done++) {
      const dir = prepare(true);
      for (const step of STEPS.slice(0, done)) step(dir);
      const outcome = applyPendingRestore(dir, join(dir, 'data.db'));
      // With the marker gone the swap was complete: what is left is cleanup.
      assert.equal(outcome, done === STEPS.length ? 'discarded' : 'applied', `after ${done} steps`);
      assert.equal(readFileSync(join(dir, 'data.db'), 'utf8'), 'new db', `after ${done} steps`);
      assert.equal(existsSync(join(dir, 'data.db-wal')), false, `after ${done} steps: the old WAL is back`);
      assert.deepEqual(readdirSync(join(dir, 'storage')), ['new.txt'], `after ${done} steps`);
      assert.equal(existsSync(join(dir, '.restore')), false);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('throws away a staging that was never marked ready, leaving the old data', () => {
    const dir = prepare(false);
    assert.equal(applyPendingRestore(dir, join(dir, 'data.db')), 'discarded');
    assert.equal(readFileSync(join(dir, 'data.db'), 'utf8'), 'old db');
    assert.equal(readFileSync(join(dir, 'data.db-wal'), 'utf8'), 'old wal');
    assert.deepEqual(readdirSync(join(dir, 'storage')), ['old.txt']);
    assert.equal(existsSync(join(dir, '.restore')), false);
    rmSync(dir, { recursive: true, force: true });
  });
});
