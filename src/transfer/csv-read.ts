import { TransferError } from './errors.ts';

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** One CSV record: its cells and the line it starts on (a quoted cell may span lines). */
export interface CsvRecord {
  line: number;
  cells: string[];
}

/**
 * A streaming RFC 4180 reader that is strict where loose readers guess: a quote inside an unquoted cell,
 * text after a closing quote, or a quote never closed is an error naming the line, since a guess there
 * silently shifts every later cell. Memory is one record at a time, bounded by `maxChars`.
 */
export class CsvReader {
  #field = '';
  #cells: string[] = [];
  #quoted = false;
  #closed = false;
  #wasQuoted = false;
  #carry = '';
  #line = 1;
  #recordLine = 1;
  #recordChars = 0;
  readonly #maxChars: number;

  constructor(maxChars: number) {
    this.#maxChars = maxChars;
  }

  /** Parses one more chunk of text, adding the records it completes to `out`. */
  push(text: string, out: CsvRecord[]): void {
    const s = this.#carry ? this.#carry + text : text;
    this.#carry = '';
    const n = s.length;
    let i = 0;
    let start = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (this.#quoted) {
        if (c === QUOTE) {
          // A quote at the chunk's end: whether it closes the cell or escapes a quote is in the next chunk.
          if (i + 1 === n) {
            this.#field += s.slice(start, i);
            this.#carry = '"';
            start = n;
            break;
          }
          if (s.charCodeAt(i + 1) === QUOTE) {
            this.#field += s.slice(start, i + 1);
            i += 2;
            start = i;
            continue;
          }
          this.#field += s.slice(start, i);
          this.#quoted = false;
          this.#closed = true;
          start = ++i;
          continue;
        }
        if (c === LF) this.#line++;
        i++;
        continue;
      }
      if (c === COMMA) {
        this.#endField(s.slice(start, i));
        start = ++i;
        continue;
      }
      if (c === LF || c === CR) {
        if (c === CR && i + 1 === n) {
          this.#field += s.slice(start, i);
          this.#carry = '\r';
          start = n;
          break;
        }
        this.#endField(s.slice(start, i));
        this.#endRecord(out);
        i += c === CR && s.charCodeAt(i + 1) === LF ? 2 : 1;
        start = i;
        this.#line++;
        this.#recordLine = this.#line;
        continue;
      }
      if (this.#closed)
        throw new TransferError(
          `text after the closing quote of cell ${this.#cells.length + 1} (a quote inside a quoted cell is written "")`,
          this.#line,
        );
      if (c === QUOTE) {
        if (start === i && this.#field === '') {
          this.#quoted = true;
          this.#wasQuoted = true;
          start = ++i;
          continue;
        }
        throw new TransferError(
          `a quote inside unquoted cell ${this.#cells.length + 1} (quote the whole cell and write the quote as "")`,
          this.#line,
        );
      }
      i++;
    }
    if (start < n) this.#field += s.slice(start, n);
    if (this.#recordChars + this.#field.length > this.#maxChars)
      throw new TransferError(
        `a record longer than ${this.#maxChars} characters${this.#quoted ? ' (an unclosed quote?)' : ''}`,
        this.#recordLine,
      );
  }

  /** The input has ended: completes the last record, or says which quote was never closed. */
  end(out: CsvRecord[]): void {
    if (this.#carry === '"') {
      this.#quoted = false;
      this.#closed = true;
    }
    this.#carry = '';
    if (this.#quoted)
      throw new TransferError(
        'a quoted cell that is never closed (the file ends inside it)',
        this.#recordLine,
      );
    if (this.#cells.length > 0 || this.#field !== '' || this.#wasQuoted) {
      this.#endField('');
      this.#endRecord(out);
    }
  }

  #endField(tail: string): void {
    const value = this.#field + tail;
    this.#cells.push(value);
    this.#recordChars += value.length;
    this.#field = '';
    this.#closed = false;
  }

  #endRecord(out: CsvRecord[]): void {
    const cells = this.#cells;
    this.#cells = [];
    // A line with nothing on it (a trailing blank line) is no record; `""` on a line is one empty cell.
    if (!(cells.length === 1 && cells[0] === '' && !this.#wasQuoted))
      out.push({ line: this.#recordLine, cells });
    this.#wasQuoted = false;
    this.#recordChars = 0;
  }
}

/** Reads CSV records from text chunks. */
export async function* readCsv(chunks: AsyncIterable<string>, maxChars: number): AsyncGenerator<CsvRecord> {
  const reader = new CsvReader(maxChars);
  const out: CsvRecord[] = [];
  for await (const text of chunks) {
    reader.push(text, out);
    yield* out;
    out.length = 0;
  }
  reader.end(out);
  yield* out;
}
