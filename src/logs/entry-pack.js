// Request log entries as bytes between the request path and where they are written. Plain JavaScript
// because the SQLite writer thread (log-writer-worker.js) imports it too; its types are in entry-pack.d.ts.
//
// Why bytes: the request path used to keep each entry's values (the URL, the user agent: new strings every
// request) in an array until its batch was written. Kept that long, those strings outlived the young
// generation, so the garbage collector copied and promoted them, and the batch was structured-cloned to the
// writer thread and rebuilt there. On the get-by-id bench that cost the event loop about as much as the
// writer thread's whole work (docs/benchmarks.md, "Request logs"). Now the values are copied into a
// buffer at once (the strings die young) and the buffer is moved to the thread, not copied.
//
// An entry is its FIELDS slots (entry-rows.js) in order: slot 0 (the time) a float64, slot 1 (the status,
// -1 for an entry that is not a request's) an int32, slot 2 (execTime, or the level) a float64, then slots
// 3 to 11, each a uint32 tag and, for text, its UTF-8 bytes. A tag is the text's byte length, or one of
// the two below. Most entries repeat the last one's user agent, referer, caller and addresses: those are
// stored once a batch.
import { FIELDS } from './entry-rows.js';

const UNDEFINED = 0xffffffff;
/** The slot holds what the same slot of the previous entry of the batch held. */
const SAME = 0xfffffffe;
const FIXED = 8 + 4 + 8;
const TEXT_SLOTS = FIELDS - 3;

/** Entries per batch: a batch goes once it holds this many (or is out of room). */
export const BATCH_ENTRIES = 512;
/** A batch's buffer; a bigger one is made for an entry that would not fit in it. */
const BATCH_BYTES = 256 * 1024;
/** Written batches' buffers kept for the next ones, at most. */
const SPARE = 4;

/**
 * The bytes an entry may take at most: its fixed part, a tag a slot, and 3 bytes a UTF-16 unit (a
 * surrogate pair, 2 units, is 4 bytes in UTF-8).
 */
function worstCase(slots) {
  let n = FIXED + 4 * TEXT_SLOTS;
  for (let i = 3; i < FIELDS; i++) {
    const value = slots[i];
    if (typeof value === 'string') n += 3 * value.length;
  }
  return n;
}

/**
 * Fills batches on the event loop: `push(slots)` copies an entry's FIELDS values (numbers in slots 0 to 2,
 * text or undefined in the rest) into the batch being filled, and answers the batch it had to close to make
 * room, if any; `take()` closes the batch being filled. A closed batch is `{ bytes, entries }`: `bytes` owns
 * its ArrayBuffer, so it can be moved to another thread.
 */
export function createEntryPacker({ entries = BATCH_ENTRIES, bytes = BATCH_BYTES } = {}) {
  let buf;
  let view;
  let used = 0;
  let count = 0;
  const last = new Array(FIELDS);
  /** Buffers of written batches, for the next ones (`recycle`). */
  const spare = [];

  function fresh(size) {
    const reused = size === bytes ? spare.pop() : undefined;
    buf = reused ? Buffer.from(reused) : Buffer.allocUnsafeSlow(size);
    view = new DataView(buf.buffer, 0, size);
    used = 0;
    count = 0;
    last.fill(undefined);
  }
  fresh(bytes);

  function take() {
    if (count === 0) return undefined;
    const batch = { bytes: new Uint8Array(buf.buffer, 0, used), entries: count };
    fresh(bytes);
    return batch;
  }

  return {
    /** Entries in the batch being filled. */
    get entries() {
      return count;
    },
    push(slots) {
      const need = worstCase(slots);
      let closed;
      if (count === entries || used + need > buf.length) {
        closed = take();
        if (need > buf.length) fresh(need);
      }
      view.setFloat64(used, slots[0], true);
      view.setInt32(used + 8, slots[1], true);
      view.setFloat64(used + 12, slots[2], true);
      let at = used + FIXED;
      for (let i = 3; i < FIELDS; i++) {
        const value = slots[i];
        if (typeof value !== 'string') {
          view.setUint32(at, UNDEFINED, true);
          at += 4;
        } else if (value === last[i]) {
          view.setUint32(at, SAME, true);
          at += 4;
        } else {
          const length = buf.write(value, at + 4, 'utf8');
          view.setUint32(at, length, true);
          at += 4 + length;
          last[i] = value;
        }
      }
      used = at;
      count++;
      return closed;
    },
    take,
    /**
     * Gives a written batch's buffer back for a later batch: making a buffer per batch cost the event loop
     * more than filling it (docs/benchmarks.md, "Request logs"). One that was moved away is not taken.
     */
    recycle(batch) {
      const buffer = batch.bytes.buffer;
      if (buffer.byteLength === bytes && spare.length < SPARE) spare.push(buffer);
    },
  };
}

/**
 * Calls `each(slots)` for every entry of a batch in order, with its FIELDS values as they were pushed (one
 * array, reused from entry to entry: copy what must outlive the call). `bytes` may have come from another
 * thread (a Uint8Array over the moved ArrayBuffer).
 */
export function unpackEntries(bytes, each) {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const slots = new Array(FIELDS);
  const last = new Array(FIELDS);
  let at = 0;
  while (at < buf.length) {
    slots[0] = view.getFloat64(at, true);
    slots[1] = view.getInt32(at + 8, true);
    slots[2] = view.getFloat64(at + 12, true);
    at += FIXED;
    for (let i = 3; i < FIELDS; i++) {
      const tag = view.getUint32(at, true);
      at += 4;
      if (tag === UNDEFINED) slots[i] = undefined;
      else if (tag === SAME) slots[i] = last[i];
      else {
        slots[i] = buf.toString('utf8', at, at + tag);
        last[i] = slots[i];
        at += tag;
      }
    }
    each(slots);
  }
}
