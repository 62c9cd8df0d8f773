import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';

import { ArchiveError } from './zip-errors.ts';
import {
  MAX_16,
  MAX_32,
  MAX_ARCHIVE_ENTRIES,
  MAX_DIRECTORY_BYTES,
  readZip64End,
  zip64Values,
} from './zip64.ts';

export { ArchiveError };

/** One entry of an archive, as its central directory declares it (already checked for safety). */
export interface ZipEntry {
  name: string;
  method: 0 | 8;
  crc: number;
  compressedSize: number;
  size: number;
  headerOffset: number;
}

const EOCD_SIZE = 22;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;

/**
 * Reads and checks an archive's central directory (Zip64 records included). Refused, before a byte is
 * extracted: encrypted entries, methods other than store and deflate, names that are absolute, hold `..`,
 * `.`, empty segments, backslashes or NULs, directories, symlinks or any other non-regular file, duplicate
 * names, entries whose bytes overlap (the "overlapping files" zip bomb), and an entry count, directory
 * size or zip64 record that does not agree with the directory found.
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
    const eocdAt = size - tailLength + at;
    if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0)
      throw new ArchiveError('Multi-part zip archives are not supported.');
    if (tail.readUInt16LE(at + 8) !== tail.readUInt16LE(at + 10))
      throw new ArchiveError('Multi-part zip archives are not supported.');
    const { count, dirSize, dirStart, dirLimit } = await directoryBounds(file, tail, at, eocdAt);
    if (count > MAX_ARCHIVE_ENTRIES || dirSize > MAX_DIRECTORY_BYTES)
      throw new ArchiveError('The archive lists too many entries.');
    if (dirStart + dirSize > dirLimit)
      throw new ArchiveError('The archive is damaged (central directory out of bounds).');
    if (count * 46 > dirSize)
      throw new ArchiveError(
        'The archive is damaged (its entry count does not match its central directory).',
      );
    const dir = Buffer.alloc(dirSize);
    await file.read(dir, 0, dirSize, dirStart);
    const entries = parseDirectory(dir, count);
    checkLayout(entries, dirStart);
    return entries;
  } finally {
    await file.close();
  }
}

/**
 * The entry count and where the central directory lies, from the end record or, when there is one, the
 * zip64 end record (its locator sits just before the end record). The classic fields that do not hold
 * all ones must agree with the zip64 ones; all ones without a zip64 record is a damaged archive.
 */
async function directoryBounds(file: FileHandle, tail: Buffer, at: number, eocdAt: number) {
  const count = tail.readUInt16LE(at + 10);
  const dirSize = tail.readUInt32LE(at + 12);
  const dirStart = tail.readUInt32LE(at + 16);
  const z = await readZip64End(file, eocdAt);
  if (!z) {
    if (count === MAX_16 || dirSize === MAX_32 || dirStart === MAX_32)
      throw new ArchiveError('The archive is damaged (its zip64 end record is missing).');
    return { count, dirSize, dirStart, dirLimit: eocdAt };
  }
  if (
    (count !== MAX_16 && count !== z.count) ||
    (dirSize !== MAX_32 && dirSize !== z.dirSize) ||
    (dirStart !== MAX_32 && dirStart !== z.dirStart)
  )
    throw new ArchiveError('The archive is damaged (its zip64 end record disagrees with its end record).');
  return { count: z.count, dirSize: z.dirSize, dirStart: z.dirStart, dirLimit: z.end64At };
}

function parseDirectory(dir: Buffer, count: number): ZipEntry[] {
  const entries: ZipEntry[] = [];
  const names = new Set<string>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p === dir.length)
      throw new ArchiveError(
        'The archive is damaged (its entry count does not match its central directory).',
      );
    if (p + 46 > dir.length || dir.readUInt32LE(p) !== 0x02014b50)
      throw new ArchiveError('The archive is damaged (bad central directory entry).');
    const madeBy = dir.readUInt16LE(p + 4) >> 8;
    const flags = dir.readUInt16LE(p + 8);
    const method = dir.readUInt16LE(p + 10);
    const nameLength = dir.readUInt16LE(p + 28);
    const extraEnd = p + 46 + nameLength + dir.readUInt16LE(p + 30);
    const next = extraEnd + dir.readUInt16LE(p + 32);
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
    readZip64Fields(entry, dir.subarray(p + 46 + nameLength, extraEnd));
    if (flags & 1) throw new ArchiveError(`Encrypted entries are not supported (${JSON.stringify(name)}).`);
    if (method !== 0 && method !== 8)
      throw new ArchiveError(`Unsupported compression method in ${JSON.stringify(name)}.`);
    // No file type at all (Python's zipfile writes permissions alone) is a plain file; any other is refused.
    if (madeBy === 3 && (mode & S_IFMT) !== 0 && (mode & S_IFMT) !== S_IFREG)
      throw new ArchiveError(`The archive holds a link or special file (${JSON.stringify(name)}).`);
    if (names.has(name)) throw new ArchiveError(`The archive holds ${JSON.stringify(name)} twice.`);
    names.add(name);
    entries.push(entry);
    p = next;
  }
  if (p !== dir.length)
    throw new ArchiveError('The archive is damaged (its entry count does not match its central directory).');
  return entries;
}

/** Replaces the fields that hold all ones with their values from the entry's zip64 extra field. */
function readZip64Fields(entry: ZipEntry, extras: Buffer): void {
  const keys = (['size', 'compressedSize', 'headerOffset'] as const).filter((k) => entry[k] === MAX_32);
  if (!keys.length) return;
  const values = zip64Values(extras, keys.length, entry.name);
  keys.forEach((k, i) => {
    entry[k] = values[i]!;
  });
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
