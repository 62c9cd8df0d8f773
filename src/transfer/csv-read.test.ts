import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CsvReader, type CsvRecord } from './csv-read.ts';
import { csvLine } from './csv-write.ts';
import { decodeUtf8 } from './decode.ts';
import { TransferError } from './errors.ts';

function parse(chunks: string[], max = 1 << 20): CsvRecord[] {
  const reader = new CsvReader(max);
  const out: CsvRecord[] = [];
  for (const c of chunks) reader.push(c, out);
  reader.end(out);
  return out;
}

function splitAt(text: string, cuts: number[]): string[] {
  const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
  const parts: string[] = [];
  let from = 0;
  for (const p of points) {
    parts.push(text.slice(from, p));
    from = p;
  }
  parts.push(text.slice(from));
  return parts.filter(Boolean);
}

function errorOf(fn: () => unknown): TransferError {
  try {
    fn();
  } catch (err) {
    if (err instanceof TransferError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('the CSV reader', () => {
  it('reads back what the writer wrote, however the text is cut into chunks', () => {
    const cell = fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ', 'é', '😀') });
    fc.assert(
      fc.property(
        fc.array(fc.array(cell, { minLength: 2, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (rows, cuts) => {
          const text = rows.map(csvLine).join('');
          const got = parse(splitAt(text, cuts)).map((r) => r.cells);
          assert.deepEqual(got, rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('numbers each record by the line it starts on, across quoted line breaks', () => {
    const got = parse(['a,b\n"x\ny",1\n\nz,2']);
    assert.deepEqual(
      got.map((r) => r.line),
      [1, 2, 5],
    );
  });

  it('names the line of a quote inside an unquoted cell, text after a closing quote, and an unclosed quote', () => {
    assert.match(errorOf(() => parse(['a,b\nx,y"z\n'])).message, /^line 2: a quote inside unquoted cell 2/);
    assert.match(
      errorOf(() => parse(['a,b\n1,2\n"x"y,1\n'])).message,
      /^line 3: text after the closing quote/,
    );
    assert.match(
      errorOf(() => parse(['a,b\n1,2\n"never closed,1\n2,3\n'])).message,
      /^line 3: a quoted cell that is never closed/,
    );
  });

  it('refuses a record longer than its limit before holding more of it', () => {
    assert.match(
      errorOf(() => parse(['a\n', 'x'.repeat(50), 'y'.repeat(60)], 100)).message,
      /^line 2: a record longer than 100/,
    );
  });
});

describe('the decoder', () => {
  async function decode(bytes: Buffer[]): Promise<string> {
    let text = '';
    for await (const t of decodeUtf8(bytes)) text += t;
    return text;
  }

  it('drops a UTF-8 byte order mark and keeps a character split across chunks', async () => {
    const all = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('a\né')]);
    assert.equal(await decode([all.subarray(0, 5), all.subarray(5)]), 'a\né');
  });

  it('refuses UTF-16, invalid UTF-8 and NUL bytes, naming the line', async () => {
    await assert.rejects(decode([Buffer.from('\ufeffa,b', 'utf16le')]), /line 1: the file is UTF-16/);
    await assert.rejects(
      decode([Buffer.from('a\nb\n'), Buffer.from([0x63, 0x0a, 0x63, 0x61, 0x66, 0xe9, 0x0a])]),
      /line 4: invalid UTF-8/,
    );
    await assert.rejects(decode([Buffer.from('a\nb\0')]), /line 2: a NUL byte/);
    await assert.rejects(decode([Buffer.from([0x61, 0xc3])]), /ends in the middle of a UTF-8 character/);
  });
});
