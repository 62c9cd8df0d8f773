import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEntryPacker, type PackedBatch, unpackEntries } from './entry-pack.js';
import { FIELDS } from './entry-rows.js';

const unpacked = (batch: PackedBatch | undefined): unknown[][] => {
  const out: unknown[][] = [];
  if (batch) unpackEntries(batch.bytes, (slots) => out.push([...slots]));
  return out;
};

const request = (url: string, over: Record<number, unknown> = {}): unknown[] => {
  const slots: unknown[] = [
    1_700_000_000_123.5,
    200,
    0.123456789,
    'GET',
    url,
    undefined,
    'agent/1',
    'users',
    'abc',
  ];
  slots.push('10.0.0.1', '127.0.0.1', undefined);
  for (const [at, value] of Object.entries(over)) slots[Number(at)] = value;
  assert.equal(slots.length, FIELDS);
  return slots;
};

describe('request log entries packed as bytes', () => {
  it('gives back every value as pushed, in order: numbers, text in any script, undefined, repeats', () => {
    const packer = createEntryPacker();
    const pushed = [
      request('/a'),
      request('/b?q=é😀', { 5: 'https://app.example/', 6: 'agent/1', 9: undefined, 10: undefined }),
      request('/c', { 1: 404, 2: 0, 11: '"error":"Not found.","details":{}', 7: '', 8: '' }),
      // A repeat after a different value, and an empty text, which is not undefined.
      request('/d', { 5: '', 6: 'agent/2' }),
      request('/e', { 6: 'agent/1' }),
      // An entry that is not a request's: status -1, the level, the message and the data as JSON text.
      [5, -1, 4, 'a warning \u0000 \ud800', '{"a":"\\u0000"}', ...new Array(FIELDS - 5)],
    ];
    for (const slots of pushed) assert.equal(packer.push(slots), undefined);
    assert.equal(packer.entries, pushed.length);
    const batch = packer.take();
    assert.equal(batch?.entries, pushed.length);
    // A lone surrogate has no UTF-8: it comes back as U+FFFD (JSON text never holds one).
    const expected = pushed.map((s) =>
      s.map((v) => (typeof v === 'string' ? v.replace('\ud800', '\ufffd') : v)),
    );
    assert.deepEqual(unpacked(batch), expected);
    assert.equal(packer.take(), undefined, 'nothing left');
  });

  it('closes a batch when it is full, by entries or by bytes, and makes room for an entry bigger than a batch', () => {
    const packer = createEntryPacker({ entries: 3, bytes: 1024 });
    const closed: PackedBatch[] = [];
    const push = (slots: unknown[]) => {
      const batch = packer.push(slots);
      if (batch) closed.push(batch);
    };
    for (let i = 0; i < 7; i++) push(request(`/${i}`));
    assert.deepEqual(
      closed.map((b) => b.entries),
      [3, 3],
    );
    // Its worst case (3 bytes a UTF-16 unit: 944) does not fit what is left (931 of 1,024): the batch
    // closes first.
    push(request(`/${'x'.repeat(260)}`));
    const big = `/${'y'.repeat(5000)}`;
    push(request(big));
    push(request('/after'));
    const last = packer.take();
    assert.deepEqual(
      closed.map((b) => b.entries),
      [3, 3, 1, 1],
    );
    const urls = [...closed, last].flatMap((b) => unpacked(b).map((slots) => slots[4]));
    assert.deepEqual(urls, [
      ...[0, 1, 2, 3, 4, 5, 6].map((i) => `/${i}`),
      `/${'x'.repeat(260)}`,
      big,
      '/after',
    ]);
    // Each batch unpacks on its own: a repeated value is never taken from the batch before.
    for (const b of closed) assert.equal(unpacked(b)[0]?.[6], 'agent/1');
  });

  it('hands over batches whose buffer can be moved to another thread, and nothing else', () => {
    const packer = createEntryPacker();
    packer.push(request('/x'));
    const batch = packer.take() as PackedBatch;
    assert.equal(batch.bytes.byteOffset, 0);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(batch, [batch.bytes.buffer]);
    assert.equal(batch.bytes.byteLength, 0, 'moved: detached here');
    port1.close();
    port2.close();
    // The next batch has a buffer of its own; a moved one is not taken back.
    packer.recycle(batch);
    packer.push(request('/y'));
    const next = packer.take() as PackedBatch;
    assert.deepEqual(
      unpacked(next).map((s) => s[4]),
      ['/y'],
    );
    assert.ok(next.bytes.buffer !== batch.bytes.buffer);
  });

  it("fills a written batch's buffer again once it is given back", () => {
    const packer = createEntryPacker();
    packer.push(request('/a'));
    const first = packer.take() as PackedBatch;
    packer.push(request('/b'));
    const second = packer.take() as PackedBatch;
    // (ok, not equal: an assertion that fails would print 256 KiB.)
    assert.ok(second.bytes.buffer !== first.bytes.buffer);
    packer.recycle(first);
    // The batch being filled already has its buffer: the one given back is the next one's.
    packer.push(request('/c'));
    const third = packer.take() as PackedBatch;
    packer.push(request('/d'));
    const fourth = packer.take() as PackedBatch;
    assert.ok(third.bytes.buffer !== first.bytes.buffer);
    assert.ok(fourth.bytes.buffer === first.bytes.buffer, 'the buffer given back');
    assert.deepEqual(
      unpacked(fourth).map((s) => s[4]),
      ['/d'],
    );
    // A buffer made bigger for one large entry is not kept.
    const big = createEntryPacker({ bytes: 1024 });
    big.push(request(`/${'z'.repeat(2000)}`));
    const large = big.take() as PackedBatch;
    big.recycle(large);
    for (const url of ['/e', '/f']) {
      big.push(request(url));
      assert.ok((big.take() as PackedBatch).bytes.buffer !== large.bytes.buffer);
    }
  });
});
