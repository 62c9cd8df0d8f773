import type { FileHandle } from 'node:fs/promises';
import { ArchiveError } from './zip-errors.ts';

/**
 * Zip64 (APPNOTE 4.3.14-4.3.15, 4.5.3): the records that lift the classic format's limits of 4 GiB per
 * size or offset and 65,535 entries. A field that does not fit holds all ones (0xFFFF or 0xFFFFFFFF) and
 * its real value is in a zip64 record: the extra field with id 1 for an entry's sizes and offset, the
 * zip64 end of central directory record (found through its locator, just before the classic end record)
 * for the entry count and the directory's size and offset.
 */
export const MAX_16 = 0xffff;
export const MAX_32 = 0xffff_ffff;
/**
 * The most entries, and central directory bytes, an archive may have: what the reader takes into memory
 * at once (the writer refuses to make more, so that it never writes an archive the reader refuses).
 */
export const MAX_ARCHIVE_ENTRIES = 2_000_000;
export const MAX_DIRECTORY_BYTES = 512 * 1024 * 1024;
/** "Version needed to extract" of an archive that uses Zip64. */
export const ZIP64_VERSION = 45;
const EXTRA_ID = 0x0001;
const END64_SIGNATURE = 0x06064b50;
const LOCATOR_SIGNATURE = 0x07064b50;
const END64_SIZE = 56;
export const LOCATOR_SIZE = 20;

/** The zip64 extra field holding `values` as 8-byte numbers, in the order the format fixes. */
export function zip64Extra(values: number[]): Buffer {
  const b = Buffer.alloc(4 + 8 * values.length);
  b.writeUInt16LE(EXTRA_ID, 0);
  b.writeUInt16LE(8 * values.length, 2);
  values.forEach((v, i) => {
    b.writeBigUInt64LE(BigInt(v), 4 + 8 * i);
  });
  return b;
}

/** The zip64 end of central directory record, at `at`, and the locator that points at it. */
export function zip64End(count: number, dirSize: number, dirStart: number, at: number): Buffer {
  const b = Buffer.alloc(END64_SIZE + LOCATOR_SIZE);
  b.writeUInt32LE(END64_SIGNATURE, 0);
  b.writeBigUInt64LE(BigInt(END64_SIZE - 12), 4); // the size of the rest of the record
  b.writeUInt16LE(0x0300 | ZIP64_VERSION, 12); // made by Unix
  b.writeUInt16LE(ZIP64_VERSION, 14);
  // Disk numbers (16, 20) stay 0: one file.
  b.writeBigUInt64LE(BigInt(count), 24);
  b.writeBigUInt64LE(BigInt(count), 32);
  b.writeBigUInt64LE(BigInt(dirSize), 40);
  b.writeBigUInt64LE(BigInt(dirStart), 48);
  b.writeUInt32LE(LOCATOR_SIGNATURE, END64_SIZE);
  b.writeBigUInt64LE(BigInt(at), END64_SIZE + 8);
  b.writeUInt32LE(1, END64_SIZE + 16); // one disk in all
  return b;
}

/** The directory as the zip64 end record declares it, and where that record starts. */
export interface Zip64Directory {
  count: number;
  dirSize: number;
  dirStart: number;
  end64At: number;
}

/**
 * Reads the zip64 end record through the locator that ends at `locatorEnd`, or answers undefined when
 * there is no locator. The record must lie inside the file before the locator, describe one disk, and
 * hold numbers a file of this size can have.
 */
export async function readZip64End(
  file: FileHandle,
  locatorEnd: number,
): Promise<Zip64Directory | undefined> {
  if (locatorEnd < LOCATOR_SIZE + END64_SIZE) return undefined;
  const locator = Buffer.alloc(LOCATOR_SIZE);
  await file.read(locator, 0, LOCATOR_SIZE, locatorEnd - LOCATOR_SIZE);
  if (locator.readUInt32LE(0) !== LOCATOR_SIGNATURE) return undefined;
  if (locator.readUInt32LE(4) !== 0 || locator.readUInt32LE(16) !== 1)
    throw new ArchiveError('Multi-part zip archives are not supported.');
  const end64At = safe(locator.readBigUInt64LE(8));
  if (end64At + END64_SIZE > locatorEnd - LOCATOR_SIZE)
    throw new ArchiveError('The archive is damaged (zip64 end record out of bounds).');
  const end = Buffer.alloc(END64_SIZE);
  await file.read(end, 0, END64_SIZE, end64At);
  if (end.readUInt32LE(0) !== END64_SIGNATURE || end.readBigUInt64LE(4) < BigInt(END64_SIZE - 12))
    throw new ArchiveError('The archive is damaged (bad zip64 end record).');
  if (
    end.readUInt32LE(16) !== 0 ||
    end.readUInt32LE(20) !== 0 ||
    end.readBigUInt64LE(24) !== end.readBigUInt64LE(32)
  )
    throw new ArchiveError('Multi-part zip archives are not supported.');
  return {
    count: safe(end.readBigUInt64LE(32)),
    dirSize: safe(end.readBigUInt64LE(40)),
    dirStart: safe(end.readBigUInt64LE(48)),
    end64At,
  };
}

/**
 * The real values of an entry's fields that hold all ones, from its zip64 extra field (in the format's
 * order: size, compressed size, header offset; only those that overflowed are there).
 */
export function zip64Values(extras: Buffer, wanted: number, name: string): number[] {
  let p = 0;
  while (p + 4 <= extras.length) {
    const id = extras.readUInt16LE(p);
    const length = extras.readUInt16LE(p + 2);
    if (p + 4 + length > extras.length) break;
    if (id === EXTRA_ID) {
      if (length < 8 * wanted) break;
      return Array.from({ length: wanted }, (_, i) => safe(extras.readBigUInt64LE(p + 4 + 8 * i)));
    }
    p += 4 + length;
  }
  throw new ArchiveError(`The archive is damaged (${JSON.stringify(name)} lacks its zip64 sizes).`);
}

/** A 64-bit number as a JavaScript one; past 2^53 no file on any disk is that large. */
function safe(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ArchiveError('The archive is damaged (a zip64 value is out of range).');
  return Number(n);
}
