import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Database } from '../db/index.ts';
import type { Logger } from '../log/index.ts';
import { entryRows, FIELDS } from './entry-rows.js';
import { createLogWriter } from './writer.ts';

/** A writer whose batches are kept as handed over (maxDays 0: its sweep never reads the database). */
function writerWithBatches() {
  const batches: unknown[][] = [];
  const writer = createLogWriter({
    db: { dialect: { quote: (name: string) => `"${name}"` } } as unknown as Database,
    sink: {
      write: async (batch) => {
        batches.push(batch);
        return 0;
      },
      close: async () => {},
    },
    log: { warn() {} } as unknown as Logger,
    maxDays: () => 0,
  });
  return { writer, batches };
}

/** The data of every entry of the batches, read in order by one maker of rows, as a writer thread does. */
function dataOf(batches: unknown[][]): Record<string, unknown>[] {
  const rowOf = entryRows();
  const out: Record<string, unknown>[] = [];
  for (const batch of batches)
    for (let at = 0; at < batch.length; at += FIELDS) out.push(JSON.parse(rowOf(batch, at)[3]));
  return out;
}

describe('log writer batches', () => {
  const caller = (n: number) =>
    [
      `https://ref/${n % 2}`,
      `agent-${n % 3}`,
      n % 4 ? 'users' : '',
      '',
      `10.0.0.${n % 5}`,
      '127.0.0.1',
    ] as const;

  it('passes a repeated caller value once, and every entry still reads as its own', async () => {
    const { writer, batches } = writerWithBatches();
    // 1,100 entries: two full batches of 512 and a part, with a non-request entry first in the last one.
    for (let n = 0; n < 1100; n++) {
      if (n === 1024) writer.add({ time: 1, level: 4, message: 'other', data: { a: 1 } });
      const [referer, agent, auth, authId, userIP, remoteIP] = caller(Math.floor(n / 7));
      writer.addRequest(
        n,
        200,
        1,
        'GET',
        `/x/${n}`,
        referer,
        agent,
        auth,
        authId,
        userIP,
        remoteIP,
        undefined,
      );
    }
    await writer.close();
    assert.equal(batches.length, 3);
    // Repeats are passed as null, and never in the first request entry of a batch.
    const nulls = batches.flat().filter((v) => v === null).length;
    assert.ok(nulls > 1100 * 6 * 0.8, `${nulls} repeats`);
    for (const batch of batches) {
      const first = batch[1] === -1 ? FIELDS : 0;
      assert.ok(batch.slice(first + 5, first + 11).every((v) => v !== null));
    }
    const data = dataOf(batches).filter((d) => d.type === 'request');
    assert.equal(data.length, 1100);
    for (const [n, d] of data.entries()) {
      const [referer, agent, auth, , userIP, remoteIP] = caller(Math.floor(n / 7));
      assert.deepEqual(
        [d.url, d.referer, d.userAgent, d.auth, d.userIP, d.remoteIP],
        [`/x/${n}`, referer, agent, auth, userIP, remoteIP],
        `entry ${n}`,
      );
    }
  });

  it('tells a repeat from a value not logged (undefined addresses, empty auth id)', async () => {
    const { writer, batches } = writerWithBatches();
    writer.addRequest(1, 200, 1, 'GET', '/a', undefined, 'u', '', '', undefined, undefined, undefined);
    writer.addRequest(2, 200, 1, 'GET', '/b', undefined, 'u', '', 'rec1', '10.0.0.1', '10.0.0.2', undefined);
    writer.addRequest(3, 200, 1, 'GET', '/c', undefined, 'u', '', '', undefined, undefined, undefined);
    writer.addRequest(4, 200, 1, 'GET', '/d', undefined, 'u', '', '', undefined, undefined, undefined);
    await writer.close();
    const data = dataOf(batches);
    assert.deepEqual(
      data.map((d) => [d.authId, d.userIP, d.remoteIP]),
      [
        [undefined, undefined, undefined],
        ['rec1', '10.0.0.1', '10.0.0.2'],
        [undefined, undefined, undefined],
        [undefined, undefined, undefined],
      ],
    );
  });
});
