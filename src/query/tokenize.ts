import { FilterError } from './errors.ts';

export type TokenKind = 'ident' | 'text' | 'number' | 'op' | 'and' | 'or' | 'lparen' | 'rparen' | 'comma';

export interface Token {
  kind: TokenKind;
  value: string;
  /** 1-based character position in the filter, for error messages. */
  pos: number;
}

/** Comparison operators, longest first so that `?!~` wins over `?!` and `!=` over `!`. */
const OPERATORS = [
  '?!=',
  '?!~',
  '?>=',
  '?<=',
  '?=',
  '?>',
  '?<',
  '?~',
  '!=',
  '!~',
  '>=',
  '<=',
  '=',
  '>',
  '<',
  '~',
];

const IDENT_START = /[A-Za-z_@#]/;
const IDENT_CHAR = /[A-Za-z0-9_@#.:]/;

/**
 * Splits a filter into tokens. Identifiers are paths with modifiers (`author.name:lower`); function calls
 * are an identifier followed by `(`. Text keeps everything between its quotes, with `\` before the quote
 * character meaning the quote itself.
 */
export function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const at = (n: number) => n + 1;
  while (i < input.length) {
    const ch = input[i] as string;
    if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      i++;
    } else if (ch === '/' && input[i + 1] === '/') {
      while (i < input.length && input[i] !== '\n') i++;
    } else if (ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: ch === '(' ? 'lparen' : ch === ')' ? 'rparen' : 'comma', value: ch, pos: at(i) });
      i++;
    } else if (ch === '&' || ch === '|') {
      if (input[i + 1] !== ch) throw new FilterError(`expected "${ch}${ch}"`, at(i));
      tokens.push({ kind: ch === '&' ? 'and' : 'or', value: ch + ch, pos: at(i) });
      i += 2;
    } else if (ch === "'" || ch === '"') {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= input.length) throw new FilterError('unterminated text', at(start));
        const c = input[i] as string;
        if (c === '\\' && input[i + 1] === ch) {
          value += ch;
          i += 2;
        } else if (c === ch) {
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      tokens.push({ kind: 'text', value, pos: at(start) });
    } else if (
      /[0-9]/.test(ch) ||
      (ch === '-' && /[0-9.]/.test(input[i + 1] ?? '')) ||
      (ch === '.' && /[0-9]/.test(input[i + 1] ?? ''))
    ) {
      const match = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?/.exec(input.slice(i));
      if (!match) throw new FilterError('invalid number', at(i));
      tokens.push({ kind: 'number', value: match[0], pos: at(i) });
      i += match[0].length;
      if (i < input.length && IDENT_CHAR.test(input[i] as string))
        throw new FilterError(`unexpected "${input[i]}"`, at(i));
    } else if (IDENT_START.test(ch)) {
      const start = i;
      while (i < input.length && IDENT_CHAR.test(input[i] as string)) i++;
      // A modifier may carry arguments: `body:excerpt(...)` is not filter syntax, but `:each` etc. are plain.
      tokens.push({ kind: 'ident', value: input.slice(start, i), pos: at(start) });
    } else {
      const op = OPERATORS.find((o) => input.startsWith(o, i));
      if (!op) throw new FilterError(`unexpected ${describe(ch)}`, at(i));
      tokens.push({ kind: 'op', value: op, pos: at(i) });
      i += op.length;
    }
  }
  return tokens;
}

function describe(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code < 0x20 || code === 0x7f
    ? `character U+${code.toString(16).padStart(4, '0').toUpperCase()}`
    : `"${ch}"`;
}
