import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { splitTransferArgs } from './transfer-args.ts';

describe('splitting export and import arguments', () => {
  it("gives main its options wherever they are, and the command's own flags to the command", () => {
    assert.deepEqual(
      splitTransferArgs(['--dir', 'd', 'import', 'posts', 'a.csv', '--map', 'a:b', '--db=x', '-h']),
      {
        common: ['--dir', 'd', 'import', '--db=x', '-h'],
        own: ['posts', 'a.csv', '--map', 'a:b'],
      },
    );
  });

  it('leaves other commands whole', () => {
    const argv = ['superuser', 'upsert', 'a@b.c', 'pw', '--dir', 'd', '--bogus'];
    assert.deepEqual(splitTransferArgs(argv), { common: argv, own: [] });
  });
});
