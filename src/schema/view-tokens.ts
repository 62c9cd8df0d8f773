/**
 * The tokenizer of view queries. It is strict on purpose: whatever two engines could read differently
 * (backslashes in strings, comments, dollar quoting, `#`, `@` variables) is refused rather than guessed,
 * so that the checker in view-query.ts sees the same statement the database will run.
 */

export type TokenKind = 'word' | 'quoted' | 'string' | 'number' | 'op';

export interface Token {
  kind: TokenKind;
  /** Words lower-cased; quoted identifiers without their quotes; strings and numbers as written. */
  value: string;
  /** The text as written (for words: the original case). */
  text: string;
}

export class ViewQueryError extends Error {}

const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;
const NUMBER = /(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
const OPERATORS = [
  '::',
  '<=',
  '>=',
  '<>',
  '!=',
  '||',
  '==',
  '->>',
  '->',
  '(',
  ')',
  ',',
  '.',
  ';',
  '+',
  '-',
  '*',
  '/',
  '%',
  '<',
  '>',
  '=',
  '|',
  '&',
  '~',
  '^',
];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (text.startsWith('--', i) || text.startsWith('/*', i) || ch === '#')
      throw new ViewQueryError('comments are not supported in view queries');
    if (ch === "'" || ch === '"' || ch === '`') {
      const end = closingQuote(text, i, ch);
      const body = text.slice(i + 1, end).replaceAll(ch + ch, ch);
      if (body.includes('\\'))
        throw new ViewQueryError(
          'backslashes in quoted text are not supported (engines read them differently)',
        );
      tokens.push({ kind: ch === "'" ? 'string' : 'quoted', value: body, text: text.slice(i, end + 1) });
      i = end + 1;
      continue;
    }
    if (ch === '[') {
      // SQLite's [name]; only a plain name, so that nothing can hide in it on engines where [ means more.
      const m = /\[(\w+)\]/y;
      m.lastIndex = i;
      const found = m.exec(text);
      if (!found) throw new ViewQueryError('[...] may only quote a plain name');
      tokens.push({ kind: 'quoted', value: found[1]!, text: found[0] });
      i += found[0].length;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text);
    if (word) {
      // U&"..." and U&'...' carry escapes the checker would not decode.
      if (word[0].toLowerCase() === 'u' && text[i + 1] === '&')
        throw new ViewQueryError('U& escapes are not supported');
      tokens.push({ kind: 'word', value: word[0].toLowerCase(), text: word[0] });
      i += word[0].length;
      continue;
    }
    NUMBER.lastIndex = i;
    const num = NUMBER.exec(text);
    if (num) {
      tokens.push({ kind: 'number', value: num[0], text: num[0] });
      i += num[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (!op) throw new ViewQueryError(`unsupported character ${JSON.stringify(ch)} at ${i}`);
    tokens.push({ kind: 'op', value: op, text: op });
    i += op.length;
  }
  return tokens;
}

function closingQuote(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i;
    }
    i++;
  }
  throw new ViewQueryError('unterminated quoted text');
}

export const isName = (t: Token | undefined): t is Token => t?.kind === 'word' || t?.kind === 'quoted';
export const isOp = (t: Token | undefined, value: string): boolean => t?.kind === 'op' && t.value === value;
export const isWord = (t: Token | undefined, ...values: string[]): boolean =>
  t?.kind === 'word' && values.includes(t.value);
