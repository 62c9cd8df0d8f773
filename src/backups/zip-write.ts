import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { crc32, createDeflateRaw } from 'node:zlib';

/**
 * The largest archive, entry or entry count this writer makes: the classic zip format's 32-bit limits
 * (no Zip64). A bigger backup fails with a clear error instead of writing an archive nothing can read.
 */
const MAX_32 = 0xffff_fffe;
const MAX_ENTRIES = 0xfffe;

interface Written {
  name: Buffer;
  crc: number;
  compressed: number;
  size: number;
  offset: number;
}

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
 * Opens `path` for a new archive. Written by hand on Node's zlib (about a hundred lines) rather than with a
 * dependency: the archive holds a handful of our own entries, and the reader (zip-read.ts) must be strict
 * anyway, so both halves stay small and agree on exactly one layout.
 */
export function createZipWriter(path: string): ZipWriter {
  const out: WriteStream = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  const entries: Written[] = [];
  let offset = 0;
  // A disk that fills up or a file that exists: the next write (or finish) throws it.
  let failure: Error | undefined;
  out.on('error', (err) => {
    failure = err;
  });
  const write = async (chunk: Buffer) => {
    if (failure) throw failure;
    offset += chunk.length;
    if (!out.write(chunk)) await once(out, 'drain');
  };
  async function add(
    name: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer>,
    onChunk?: (chunk: Buffer) => void,
  ) {
    if (entries.length >= MAX_ENTRIES) throw new Error('too many files for one backup archive');
    const nameBytes = Buffer.from(name, 'utf8');
    const start = offset;
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4);
    header.writeUInt16LE(0x0808, 6); // data descriptor follows; names are UTF-8
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(nameBytes.length, 26);
    await write(Buffer.concat([header, nameBytes]));
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
    if (size > MAX_32 || compressed > MAX_32 || offset > MAX_32)
      throw new Error('the backup is larger than 4 GB, which this archive format cannot hold');
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(crc >>> 0, 4);
    descriptor.writeUInt32LE(compressed, 8);
    descriptor.writeUInt32LE(size, 12);
    await write(descriptor);
    entries.push({ name: nameBytes, crc: crc >>> 0, compressed, size, offset: start });
  }
  return {
    add,
    addBuffer: (name, body) => add(name, [body]),
    async finish() {
      const dirStart = offset;
      for (const e of entries) {
        const h = Buffer.alloc(46);
        h.writeUInt32LE(0x02014b50, 0);
        h.writeUInt16LE(0x0314, 4); // made by Unix, so the mode below is read as one
        h.writeUInt16LE(20, 6);
        h.writeUInt16LE(0x0808, 8);
        h.writeUInt16LE(8, 10);
        h.writeUInt32LE(e.crc, 16);
        h.writeUInt32LE(e.compressed, 20);
        h.writeUInt32LE(e.size, 24);
        h.writeUInt16LE(e.name.length, 28);
        h.writeUInt32LE((0o100600 << 16) >>> 0, 38); // a regular file, owner read/write
        h.writeUInt32LE(e.offset, 42);
        await write(Buffer.concat([h, e.name]));
      }
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(entries.length, 8);
      end.writeUInt16LE(entries.length, 10);
      end.writeUInt32LE(offset - dirStart, 12);
      end.writeUInt32LE(dirStart, 16);
      await write(end);
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
