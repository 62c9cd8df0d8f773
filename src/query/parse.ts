import type { CmpOp, Expr, Operand } from './ast.ts';
import { FilterError } from './errors.ts';
import { type Token, tokenize } from './tokenize.ts';

export const MAX_FILTER_LENGTH = 3500;
export const MAX_COMPARISONS = 200;
export const MAX_DEPTH = 32;
const MAX_CALL_ARGS = 8;

const SEGMENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MODIFIER = /^[A-Za-z]+$/;

/** Parses a filter into its syntax tree, or throws a FilterError naming the position of the problem. */
export function parseFilter(input: string): Expr {
  if (input.length > MAX_FILTER_LENGTH)
    throw new FilterError(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const tokens = tokenize(input);
  if (tokens.length === 0) throw new FilterError('the filter is empty');
  const parser = new Parser(tokens, input.length + 1);
  const expr = parser.expression(0);
  const rest = parser.peek();
  if (rest) throw new FilterError(`unexpected ${show(rest)}`, rest.pos);
  return expr;
}

class Parser {
  private i = 0;
  private comparisons = 0;
  private readonly tokens: Token[];
  private readonly end: number;

  constructor(tokens: Token[], end: number) {
    this.tokens = tokens;
    this.end = end;
  }

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private next(expected: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new FilterError(`unexpected end of filter, expected ${expected}`, this.end);
    return t;
  }

  /** expression := conjunction ('||' conjunction)* */
  expression(depth: number): Expr {
    let left = this.conjunction(depth);
    while (this.peek()?.kind === 'or') {
      this.i++;
      left = { kind: 'or', left, right: this.conjunction(depth) };
    }
    return left;
  }

  /** conjunction := primary ('&&' primary)* */
  private conjunction(depth: number): Expr {
    let left = this.primary(depth);
    while (this.peek()?.kind === 'and') {
      this.i++;
      left = { kind: 'and', left, right: this.primary(depth) };
    }
    return left;
  }

  /** primary := '(' expression ')' | operand OPERATOR operand */
  private primary(depth: number): Expr {
    const t = this.peek();
    if (t?.kind === 'lparen') {
      if (depth >= MAX_DEPTH) throw new FilterError(`more than ${MAX_DEPTH} nested parentheses`, t.pos);
      this.i++;
      const inner = this.expression(depth + 1);
      const close = this.next('")"');
      if (close.kind !== 'rparen') throw new FilterError(`expected ")" but found ${show(close)}`, close.pos);
      return inner;
    }
    const left = this.operand();
    const opToken = this.next('an operator');
    if (opToken.kind !== 'op')
      throw new FilterError(`expected an operator but found ${show(opToken)}`, opToken.pos);
    const right = this.operand();
    if (++this.comparisons > MAX_COMPARISONS)
      throw new FilterError(`more than ${MAX_COMPARISONS} comparisons`, opToken.pos);
    const any = opToken.value.startsWith('?');
    return {
      kind: 'cmp',
      op: (any ? opToken.value.slice(1) : opToken.value) as CmpOp,
      any,
      left,
      right,
      pos: opToken.pos,
    };
  }

  private operand(): Operand {
    const t = this.next('a value');
    switch (t.kind) {
      case 'text':
        return { kind: 'text', value: t.value, pos: t.pos };
      case 'number': {
        const value = Number(t.value);
        if (!Number.isFinite(value)) throw new FilterError('number out of range', t.pos);
        return { kind: 'number', value, pos: t.pos };
      }
      case 'ident':
        return this.peek()?.kind === 'lparen' ? this.call(t) : identifier(t);
      default:
        throw new FilterError(`expected a value but found ${show(t)}`, t.pos);
    }
  }

  private call(name: Token): Operand {
    if (!SEGMENT.test(name.value))
      throw new FilterError(`invalid function name "${clip(name.value)}"`, name.pos);
    this.i++; // (
    const args: Operand[] = [];
    if (this.peek()?.kind === 'rparen') {
      this.i++;
      return { kind: 'call', name: name.value, args, pos: name.pos };
    }
    for (;;) {
      const arg = this.operand();
      if (arg.kind === 'call') throw new FilterError('function calls cannot be nested', arg.pos);
      args.push(arg);
      if (args.length > MAX_CALL_ARGS) throw new FilterError('too many function arguments', arg.pos);
      const t = this.next('"," or ")"');
      if (t.kind === 'rparen') break;
      if (t.kind !== 'comma') throw new FilterError(`expected "," or ")" but found ${show(t)}`, t.pos);
    }
    return { kind: 'call', name: name.value, args, pos: name.pos };
  }
}

/** An identifier token: a literal keyword, a macro, or a path with an optional modifier. */
function identifier(t: Token): Operand {
  const raw = t.value;
  if (raw === 'null') return { kind: 'null', pos: t.pos };
  if (raw === 'true' || raw === 'false') return { kind: 'bool', value: raw === 'true', pos: t.pos };
  if (raw.startsWith('@') && !raw.includes('.') && !raw.includes(':'))
    return { kind: 'macro', name: raw, pos: t.pos };
  const path = raw.split('.');
  const last = path[path.length - 1] as string;
  const colon = last.indexOf(':');
  const modifier = colon < 0 ? undefined : last.slice(colon + 1);
  if (colon >= 0) path[path.length - 1] = last.slice(0, colon);
  if (modifier !== undefined && !MODIFIER.test(modifier))
    throw new FilterError(`invalid modifier in "${clip(raw)}"`, t.pos);
  path.forEach((segment, index) => {
    // `@request` / `@collection` open the rules' special paths; `@collection.name:alias` names a join.
    const ok =
      SEGMENT.test(segment) ||
      (index === 0 && /^@[A-Za-z]+$/.test(segment)) ||
      (index > 0 && /^\d+$/.test(segment)) ||
      (index === 1 && path[0] === '@collection' && /^[A-Za-z_][A-Za-z0-9_]*:[A-Za-z0-9_]+$/.test(segment));
    if (!ok) throw new FilterError(`invalid name "${clip(raw)}"`, t.pos);
  });
  return modifier === undefined
    ? { kind: 'path', path, raw, pos: t.pos }
    : { kind: 'path', path, modifier, raw, pos: t.pos };
}

function show(t: Token): string {
  return t.kind === 'text' ? 'text' : `"${clip(t.value)}"`;
}

export function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** A lone path (a sort key, an expand item): the same syntax as in filters. */
export function parsePath(text: string, pos: number): Operand {
  if (!/^[A-Za-z_@][A-Za-z0-9_@.:]*$/.test(text)) throw new FilterError(`invalid name "${clip(text)}"`, pos);
  return identifier({ kind: 'ident', value: text, pos });
}
