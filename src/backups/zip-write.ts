import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { crc32, createDeflateRaw, deflateRawSync } from 'node:zlib';
import {
  MAX_16,
  MAX_32,
  MAX_ARCHIVE_ENTRIES,
  MAX_DIRECTORY_BYTES,
  ZIP64_VERSION,
  zip64End,
  zip64Extra,
} from './zip64.ts';

interface Written {
  name: Buffer;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
  method: 0 | 8;
}

/** How an archive is written. */
export interface ZipWriterOptions {
  /**
   * Every Zip64 record even where the classic fields would do: only for tests, since sizes and offsets
   * past 4 GiB cost minutes of disk writes to reach for real.
   */
  forceZip64?: boolean;
}

/** Bodies up to this size are deflated in one synchronous call (a few milliseconds at most). */
const SMALL = 1024 * 1024;
/** Bodies up to this size are stored, not deflated. */
const TINY = 64;

/** Does a value need a Zip64 record? (All ones in a classic field means "see the Zip64 record".) */
const over = (n: number) => n >= MAX_32;

/** Writes a zip file entry by entry (deflated, with sizes in a data descriptor), then its central directory. */
export interface ZipWriter {
  /** Adds an entry from a byte stream; `onChunk` sees each input chunk (hashing, progress). */
  add(
    name: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    onChunk?: (chunk: Buffer) => void,
  ): Promise<void>;
  addBuffer(name: string, body: Buffer): Promise<void>;
  /** Writes the central directory and closes the file. */
  finish(): Promise<void>;
  /** Closes the file without finishing it (the caller removes it). */
  abort(): void;
}

/**
 * Opens `path` for a new archive. Written by hand on Node's zlib rather than with a dependency: the
 * reader (zip-read.ts) must be strict anyway, so both halves stay small and agree on exactly one layout.
 * Zip64 records are written only where a size, an offset or the entry count passes the classic limits
 * (or with `forceZip64`): an entry whose bytes pass 4 GiB, found out only once it is written, gets a data
 * descriptor with 8-byte sizes, as streaming writers do; the central directory then holds its real sizes.
 */
export function createZipWriter(path: string, options: ZipWriterOptions = {}): ZipWriter {
  const force = options.forceZip64 === true;
  const out: WriteStream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const entries: Written[] = [];
  let offset = 0;
  // The central directory's size at most (each entry's zip64 extra counted at its largest).
  let dirBytes = 0;
  // A disk that fills up or a file that exists: the next write (or finish) throws it.
  let failure: Error | undefined;
  out.on('error', (err) => {
    failure = err;
  });
  // Small pieces (headers, descriptors, tiny entries) are gathered into one write of up to 64 KiB: a
  // write per piece made an archive of many small files several times slower.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (!pending.length) return;
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const write = async (chunk: Buffer) => {
    if (failure) throw failure;
    offset += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= 64 * 1024) await flush();
  };
  /** Writes an entry's local header; answers where it starts, for the central directory. */
  async function begin(nameBytes: Buffer, method: 0 | 8): Promise<number> {
    dirBytes += 46 + nameBytes.length + 28;
    if (entries.length >= MAX_ARCHIVE_ENTRIES || dirBytes > MAX_DIRECTORY_BYTES)
      throw new Error(`too many files for one backup archive (at most ${MAX_ARCHIVE_ENTRIES})`);
    const start = offset;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(force ? ZIP64_VERSION : 20, 4);
    header.writeUInt16LE(0x0808, 6); // data descriptor follows; names are UTF-8
    header.writeUInt16LE(method, 8);
    // The sizes come in the data descriptor; a zip64 local header says so with all ones and an extra field.
    const extra = force ? zip64Extra([0, 0]) : Buffer.alloc(0);
    if (force) header.writeBigUInt64LE(0xffff_ffff_ffff_ffffn, 18);
    header.writeUInt16LE(nameBytes.length, 26);
    header.writeUInt16LE(extra.length, 28);
    await write(Buffer.concat([header, nameBytes, extra]));
    return start;
  }
  /** Writes the data descriptor after an entry's bytes and keeps the entry for the central directory. */
  async function end(e: Written): Promise<void> {
    // 8-byte sizes when they overflow, or when the local header announced Zip64 (forced).
    const zip64 = force || over(e.size) || over(e.compressed);
    const descriptor = Buffer.alloc(zip64 ? 24 : 16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(e.crc, 4);
    if (zip64) {
      descriptor.writeBigUInt64LE(BigInt(e.compressed), 8);
      descriptor.writeBigUInt64LE(BigInt(e.size), 16);
    } else {
      descriptor.writeUInt32LE(e.compressed, 8);
      descriptor.writeUInt32LE(e.size, 12);
    }
    await write(descriptor);
    entries.push(e);
  }
  async function add(
    name: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    onChunk?: (chunk: Buffer) => void,
  ) {
    const nameBytes = Buffer.from(name, 'utf8');
    const start = await begin(nameBytes, 8);
    let crc = 0;
    let size = 0;
    const deflate = createDeflateRaw({ level: 6 });
    const pump = (async () => {
      for await (const chunk of source) {
        crc = crc32(chunk, crc);
        size += chunk.length;
        onChunk?.(chunk);
        if (!deflate.write(chunk)) await once(deflate, 'drain');
      }
      deflate.end();
    })();
    const dataStart = offset;
    for await (const chunk of deflate) await write(chunk as Buffer);
    await pump;
    const compressed = offset - dataStart;
    await end({ name: nameBytes, crc: crc >>> 0, compressed, size, offset: start, method: 8 });
  }
  /**
   * A small body is deflated in one call (a stream per entry costs more than the work for small files),
   * and a tiny one is stored as it is: deflate cannot shrink it, and setting it up costs more than the rest.
   */
  async function addBuffer(name: string, body: Buffer) {
    if (body.length > SMALL) return add(name, [body]);
    const nameBytes = Buffer.from(name, 'utf8');
    const method = body.length <= TINY ? 0 : 8;
    const start = await begin(nameBytes, method);
    const data = method === 0 ? body : deflateRawSync(body, { level: 6 });
    await write(data);
    const size = body.length;
    await end({ name: nameBytes, crc: crc32(body), compressed: data.length, size, offset: start, method });
  }
  return {
    add,
    addBuffer,
    async finish() {
      const dirStart = offset;
      for (const e of entries) await write(centralEntry(e, force));
      const dirSize = offset - dirStart;
      const count = entries.length;
      const zip64 = force || count >= MAX_16 || over(dirSize) || over(dirStart);
      if (zip64) await write(zip64End(count, dirSize, dirStart, offset));
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(zip64 ? MAX_16 : count, 8);
      end.writeUInt16LE(zip64 ? MAX_16 : count, 10);
      end.writeUInt32LE(zip64 ? MAX_32 : dirSize, 12);
      end.writeUInt32LE(zip64 ? MAX_32 : dirStart, 16);
      await write(end);
      await flush();
      if (failure) throw failure;
      out.end();
      await once(out, 'close');
      if (failure) throw failure;
    },
    abort() {
      out.destroy();
    },
  };
}

/** One entry's central directory header; sizes and an offset that do not fit go to a zip64 extra field. */
function centralEntry(e: Written, force: boolean): Buffer {
  // The format's order: size, compressed size, local header offset (only those that overflow, unless forced).
  const big = [e.size, e.compressed, e.offset].map((n) => force || over(n));
  const extra = big.some(Boolean)
    ? zip64Extra([e.size, e.compressed, e.offset].filter((_, i) => big[i]))
    : undefined;
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(0x0300 | (extra ? ZIP64_VERSION : 20), 4); // made by Unix, so the mode below is read as one
  h.writeUInt16LE(extra ? ZIP64_VERSION : 20, 6);
  h.writeUInt16LE(0x0808, 8);
  h.writeUInt16LE(e.method, 10);
  h.writeUInt32LE(e.crc, 16);
  h.writeUInt32LE(big[1] ? MAX_32 : e.compressed, 20);
  h.writeUInt32LE(big[0] ? MAX_32 : e.size, 24);
  h.writeUInt16LE(e.name.length, 28);
  h.writeUInt16LE(extra?.length ?? 0, 30);
  h.writeUInt32LE((0o100600 << 16) >>> 0, 38); // a regular file, owner read/write
  h.writeUInt32LE(big[2] ? MAX_32 : e.offset, 42);
  return Buffer.concat(extra ? [h, e.name, extra] : [h, e.name]);
}
