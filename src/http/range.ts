import type { ByteRange } from '../storage/index.ts';

/**
 * The one byte range a `Range` header asks of a `size`-byte body: `undefined` to send all of it (no header,
 * a header that is not `bytes=`, several ranges, a stale `If-Range`), `unsatisfiable` for a range wholly
 * past the end (a 416). `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last n bytes) are understood.
 */
export function parseRange(
  header: string | undefined,
  size: number,
  ifRange?: string,
  etag?: string,
): ByteRange | 'unsatisfiable' | undefined {
  if (!header?.startsWith('bytes=')) return undefined;
  // A range against another version of the file would splice two versions: send the whole of this one.
  if (ifRange !== undefined && ifRange !== etag) return undefined;
  const spec = header.slice(6).trim();
  if (spec.includes(',')) return undefined;
  const match = /^(\d*)-(\d*)$/.exec(spec);
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [from, to] = [match[1] as string, match[2] as string];
  if (from === '') {
    const last = Number(to);
    if (last === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - last), end: size - 1 };
  }
  const start = Number(from);
  if (start >= size) return 'unsatisfiable';
  const end = to === '' ? size - 1 : Math.min(Number(to), size - 1);
  if (end < start) return undefined;
  return { start, end };
}
