import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';

/** A damaged, foreign or hostile archive: the message says what is wrong, for a 400 or the CLI. */
export class ArchiveError extends Error {}

/** One entry of an archive, as its central directory declares it (already checked for safety). */
export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

/** At most this many entries, and this many bytes of central directory, are read at all. */
const MAX_ENTRIES = 0xfffe;
const MAX_DIRECTORY_BYTES = 64 * 1024 * 1024;
const EOCD_SIZE = 22;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * Reads and checks an archive's central directory. Refused, before a byte is extracted: encrypted or
 * Zip64 entries, methods other than store and deflate, names that are absolute, hold `..`, `.`, empty
 * segments, backslashes or NULs, directories, symlinks or any other non-regular file, duplicate names, and
 * entries whose bytes overlap (the "overlapping files" zip bomb).
 */
export async function readZipEntries(path: string): Promise<ZipEntry[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size < EOCD_SIZE) throw new ArchiveError('The file is not a zip archive.');
    const tailLength = Math.min(size, EOCD_SIZE + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await file.read(tail, 0, tailLength, size - tailLength);
    let at = -1;
    for (let i = tailLength - EOCD_SIZE; i >= 0; i--)
      if (tail.readUInt32LE(i) === 0x06054b50 && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLength) {
        at = i;
        break;
      }
    if (at < 0) throw new ArchiveError('The file is not a zip archive (no end of central directory).');
    const count = tail.readUInt16LE(at + 10);
    const dirSize = tail.readUInt32LE(at + 12);
    const dirStart = tail.readUInt32LE(at + 16);
    if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 8) !== count)
      throw new ArchiveError('Multi-part zip archives are not supported.');
    if (count === 0xffff || dirStart === 0xffffffff)
      throw new ArchiveError('Zip64 archives are not supported.');
    if (count > MAX_ENTRIES || dirSize > MAX_DIRECTORY_BYTES)
      throw new ArchiveError('The archive lists too many entries.');
    if (dirStart + dirSize > size - tailLength + at)
      throw new ArchiveError('The archive is damaged (central directory out of bounds).');
    const dir = Buffer.alloc(dirSize);
    await file.read(dir, 0, dirSize, dirStart);
    const entries = parseDirectory(dir, count);
    checkLayout(entries, dirStart);
    return entries;
  } finally {
    await file.close();
  }
}

function parseDirectory(dir: Buffer, count: number): ZipEntry[] {
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50)
      throw new ArchiveError('The archive is damaged (bad central directory entry).');
    const madeBy = dir.readUInt16LE(p + 4) >> 8;
    const flags = dir.readUInt16LE(p + 8);
    const method = dir.readUInt16LE(p + 10);
    const nameLength = dir.readUInt16LE(p + 28);
    const next = p + 46 + nameLength + dir.readUInt16LE(p + 30) + dir.readUInt16LE(p + 32);
    if (next > dir.length) throw new ArchiveError('The archive is damaged (bad central directory entry).');
    const name = dir.subarray(p + 46, p + 46 + nameLength).toString('utf8');
    const mode = dir.readUInt32LE(p + 38) >>> 16;
    const entry: ZipEntry = {
      name,
      method: method as 0 | 8,
      crc: dir.readUInt32LE(p + 16),
      compressedSize: dir.readUInt32LE(p + 20),
      size: dir.readUInt32LE(p + 24),
      headerOffset: dir.readUInt32LE(p + 42),
    };
    checkName(name);
    if (flags & 1) throw new ArchiveError(`Encrypted entries are not supported (${JSON.stringify(name)}).`);
    if (method !== 0 && method !== 8)
      throw new ArchiveError(`Unsupported compression method in ${JSON.stringify(name)}.`);
    if (entry.size === 0xffffffff || entry.compressedSize === 0xffffffff || entry.headerOffset === 0xffffffff)
      throw new ArchiveError('Zip64 archives are not supported.');
    if (madeBy === 3 && mode !== 0 && (mode & S_IFMT) !== S_IFREG)
      throw new ArchiveError(`The archive holds a link or special file (${JSON.stringify(name)}).`);
    if (names.has(name)) throw new ArchiveError(`The archive holds ${JSON.stringify(name)} twice.`);
    names.add(name);
    entries.push(entry);
    p = next;
  }
  return entries;
}

/** Names are relative paths of plain segments; anything an extractor could be tricked by is refused. */
function checkName(name: string): void {
  const bad =
    name.length === 0 ||
    name.length > 1024 ||
    name.includes('\\') ||
    name.includes('\0') ||
    name.startsWith('/') ||
    /^[A-Za-z]:/.test(name) ||
    name.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new ArchiveError(`The archive holds an unsafe path: ${JSON.stringify(name.slice(0, 200))}.`);
}

/** Every entry's bytes lie before the central directory, one after another, none inside another's. */
function checkLayout(entries: ZipEntry[], dirStart: number): void {
  const sorted = [...entries].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    const end = e.headerOffset + 30 + Buffer.byteLength(e.name) + e.compressedSize;
    const limit = i + 1 < sorted.length ? sorted[i + 1]!.headerOffset : dirStart;
    if (end > limit) throw new ArchiveError('The archive is damaged (entries overlap or run past its end).');
  }
}

/**
 * The entry's bytes, inflated and checked as they stream: more bytes than declared stop the stream at once
 * (a zip bomb cannot fill the disk), and fewer bytes or a wrong CRC fail it at the end.
 */
export async function openZipEntry(path: string, entry: ZipEntry): Promise<Readable> {
  const file = await open(path, 'r');
  const header = Buffer.alloc(30);
  try {
    await file.read(header, 0, 30, entry.headerOffset);
  } finally {
    await file.close();
  }
  if (header.readUInt32LE(0) !== 0x04034b50)
    throw new ArchiveError(`The archive is damaged (bad local header for ${JSON.stringify(entry.name)}).`);
  const start = entry.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
  const raw =
    entry.compressedSize === 0
      ? Readable.from([])
      : createReadStream(path, { start, end: start + entry.compressedSize - 1 });
  let seen = 0;
  let crc = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > entry.size)
        return done(new ArchiveError(`${entry.name} holds more bytes than the archive declares.`));
      crc = crc32(chunk, crc);
      done(null, chunk);
    },
    flush(done) {
      if (seen !== entry.size || crc >>> 0 !== entry.crc)
        return done(new ArchiveError(`The archive is damaged (${entry.name} fails its checksum).`));
      done();
    },
  });
  const source = entry.method === 8 ? raw.pipe(createInflateRaw()) : raw;
  const fail = (err: Error) =>
    check.destroy(
      err instanceof ArchiveError ? err : new ArchiveError(`The archive is damaged (${err.message}).`),
    );
  raw.on('error', fail);
  source.on('error', fail);
  return source.pipe(check);
}
