import { readCsv } from './csv-read.ts';
import { type DecodeProgress, decodeUtf8 } from './decode.ts';
import { TransferError } from './errors.ts';
import { readJsonl } from './jsonl-read.ts';

/** The formats a file can be in. */
export type Format = 'jsonl' | 'csv';

/** One input record as an object keyed by column, with its line. */
export interface InputRecord {
  line: number;
  source: Record<string, unknown>;
}

/**
 * Every record of an input stream, one at a time: CSV rows keyed by the header row's names, or JSON Lines
 * objects. Hostile input (bad encodings, broken quoting, ragged rows, huge records) ends the stream with a
 * `TransferError` naming the line.
 */
export async function* readRecords(
  bytes: AsyncIterable<Buffer | string>,
  format: Format,
  maxChars: number,
  progress?: DecodeProgress,
  onHeader?: (columns: readonly string[], line: number) => void,
): AsyncGenerator<InputRecord> {
  const text = decodeUtf8(bytes, progress);
  if (format === 'jsonl') {
    for await (const r of readJsonl(text, maxChars)) yield { line: r.line, source: r.value };
    return;
  }
  let header: string[] | undefined;
  for await (const r of readCsv(text, maxChars)) {
    if (!header) {
      header = checkHeader(r.cells, r.line);
      onHeader?.(header, r.line);
      continue;
    }
    if (r.cells.length !== header.length)
      throw new TransferError(`${r.cells.length} cells, but the header row has ${header.length}`, r.line);
    const source: Record<string, unknown> = {};
    for (let i = 0; i < header.length; i++) source[header[i]!] = r.cells[i];
    yield { line: r.line, source };
  }
  if (!header) throw new TransferError('the file is empty: a CSV file starts with a header row');
}

function checkHeader(cells: string[], line: number): string[] {
  const seen = new Set<string>();
  for (const [i, raw] of cells.entries()) {
    const name = raw.trim();
    if (!name) throw new TransferError(`header cell ${i + 1} is empty`, line);
    if (seen.has(name)) throw new TransferError(`the header names "${name}" twice`, line);
    seen.add(name);
    cells[i] = name;
  }
  return cells;
}

/** The format a file name suggests (`.csv` or else JSON Lines), unless `--format` says. */
export function formatOf(explicit: string | undefined, file: string): Format {
  if (explicit === undefined) return /\.csv$/i.test(file) ? 'csv' : 'jsonl';
  if (explicit !== 'csv' && explicit !== 'jsonl')
    throw new TransferError(`--format must be jsonl or csv, not "${explicit}"`);
  return explicit;
}
