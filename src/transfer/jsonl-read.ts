import { isPlainObject } from '../lib/index.ts';
import { TransferError } from './errors.ts';

/** One JSON Lines record: the object and its line. */
export interface JsonRecord {
  line: number;
  value: Record<string, unknown>;
}

/**
 * Reads JSON Lines from text chunks: one JSON object per line, blank lines skipped. A line that is not a
 * JSON object is an error naming it; a line longer than `maxChars` is refused before it is all held.
 */
export async function* readJsonl(
  chunks: AsyncIterable<string>,
  maxChars: number,
): AsyncGenerator<JsonRecord> {
  let carry = '';
  let line = 1;
  for await (const text of chunks) {
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const piece = carry ? carry + text.slice(start, nl) : text.slice(start, nl);
      carry = '';
      const record = parseLine(piece, line, maxChars);
      if (record) yield record;
      line++;
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    carry += text.slice(start);
    if (carry.length > maxChars) throw new TransferError(`a line longer than ${maxChars} characters`, line);
  }
  const record = parseLine(carry, line, maxChars);
  if (record) yield record;
}

function parseLine(text: string, line: number, maxChars: number): JsonRecord | undefined {
  if (text.length > maxChars) throw new TransferError(`a line longer than ${maxChars} characters`, line);
  const trimmed = text.trim();
  if (!trimmed) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw new TransferError(`invalid JSON (${(err as Error).message})`, line);
  }
  if (!isPlainObject(value))
    throw new TransferError('not a JSON object (each line must be one record)', line);
  return { line, value };
}
