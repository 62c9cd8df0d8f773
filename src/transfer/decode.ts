import { TransferError } from './errors.ts';

/** What decoding counted so far: bytes read (for a progress bar). */
export interface DecodeProgress {
  bytes: number;
}

/**
 * Turns a byte stream into UTF-8 text chunks, refusing what would otherwise be stored as mojibake: a UTF-16
 * byte order mark, invalid UTF-8 and NUL bytes (UTF-16 without a mark, or a binary file) are errors that
 * name the line. A UTF-8 byte order mark is dropped (spreadsheets write one).
 */
export async function* decodeUtf8(
  source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  progress: DecodeProgress = { bytes: 0 },
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
  let first = true;
  let lines = 0;
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
    progress.bytes += chunk.length;
    if (first && chunk.length > 0) {
      first = false;
      if ((chunk[0] === 0xff && chunk[1] === 0xfe) || (chunk[0] === 0xfe && chunk[1] === 0xff))
        throw new TransferError(
          'the file is UTF-16 (it starts with a UTF-16 byte order mark); convert it to UTF-8 first, e.g. `iconv -f UTF-16 -t UTF-8`',
          1,
        );
    }
    const nul = chunk.indexOf(0);
    if (nul !== -1)
      throw new TransferError(
        'a NUL byte: the file is not UTF-8 text (UTF-16 without a byte order mark, or binary?)',
        lines + countLines(chunk, nul) + 1,
      );
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      const at = firstInvalidUtf8(chunk);
      throw new TransferError(
        'invalid UTF-8; convert the file to UTF-8 first (e.g. `iconv -f LATIN1 -t UTF-8`)',
        lines + countLines(chunk, at) + 1,
      );
    }
    lines += countLines(chunk, chunk.length);
    if (text) yield text;
  }
  let rest: string;
  try {
    rest = decoder.decode();
  } catch {
    throw new TransferError('the file ends in the middle of a UTF-8 character', lines + 1);
  }
  if (rest) yield rest;
}

function countLines(chunk: Buffer, end: number): number {
  let n = 0;
  for (let i = chunk.indexOf(10); i !== -1 && i < end; i = chunk.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * The offset of the first byte that cannot be UTF-8 (only to name the line: the decoder already said the
 * chunk is bad). A sequence cut off by the chunk's end counts as valid; the next chunk's decode reports it.
 */
export function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const need =
      c < 0x80
        ? 0
        : c >= 0xc2 && c <= 0xdf
          ? 1
          : c >= 0xe0 && c <= 0xef
            ? 2
            : c >= 0xf0 && c <= 0xf4
              ? 3
              : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= b.length) return b.length;
      if ((b[i + k]! & 0xc0) !== 0x80) return i;
    }
    i += need + 1;
  }
  return b.length;
}
