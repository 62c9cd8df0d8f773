import type { CmpOp } from './ast.ts';
import type { QueryDialect } from './engines.ts';
import { FilterError } from './errors.ts';
import { FALSE, raw, type Sql, sql, TRUE } from './sql.ts';
import { compareText, foldAscii, type LiteralValue, readNumber, type Single } from './values.ts';

/** A compiled condition: known before the query runs, or SQL that is never NULL (always true or false). */
export type Cond = boolean | Sql;

export const toSql = (c: Cond): Sql => (c === true ? TRUE : c === false ? FALSE : c);
export const not = (c: Cond): Cond => (typeof c === 'boolean' ? !c : sql`NOT ${paren(c)}`);
export function and(a: Cond, b: Cond): Cond {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  return sql`(${a} AND ${b})`;
}
export function or(a: Cond, b: Cond): Cond {
  if (a === true || b === true) return true;
  if (a === false) return b;
  if (b === false) return a;
  return sql`(${a} OR ${b})`;
}
const paren = (s: Sql) => sql`(${s})`;
/** SQL that may be NULL made two-valued (NULL → false). */
const definite = (s: Sql) => sql`COALESCE(${s}, FALSE)`;

const FLIP: Record<CmpOp, CmpOp> = {
  '=': '=',
  '!=': '!=',
  '<': '>',
  '>': '<',
  '<=': '>=',
  '>=': '<=',
  '~': '~',
  '!~': '!~',
};
const isEmptyLit = (v: LiteralValue) => v === null || v === '';

/** `a op b` for two single values, following docs/query-language.md. */
export function compareSingle(a: Single, op: CmpOp, b: Single, d: QueryDialect, pos: number): Cond {
  if (op === '~' || op === '!~') return compareLike(a, op === '!~', b, d);
  if (a.kind === 'lit' && b.kind === 'lit') return compareLiterals(a.value, op, b.value);
  if (a.kind === 'lit') return compareSingle(b, FLIP[op], a, d, pos);
  if (a.kind === 'json' || b.kind === 'json') return compareDynamic(a, op, b, d);
  if (b.kind === 'lit') return exprVsLiteral(a, op, b.value, d);
  return exprVsExpr(a, op, b, d, pos);
}

/** Two literals, decided here. */
export function compareLiterals(x: LiteralValue, op: CmpOp, y: LiteralValue): boolean {
  if (op === '=' || op === '!=') {
    let eq: boolean;
    if (isEmptyLit(x) || isEmptyLit(y)) eq = isEmptyLit(x) && isEmptyLit(y);
    else if (typeof x === 'string' && typeof y === 'string') eq = x === y;
    else {
      const [nx, ny] = [asNumber(x), asNumber(y)];
      eq = nx !== undefined && nx === ny;
      if (nx === undefined || ny === undefined) return op === '!=';
    }
    return op === '=' ? eq : !eq;
  }
  if (x === null || y === null) return false;
  if (typeof x === 'string' && typeof y === 'string') return order(compareText(x, y), op);
  const [nx, ny] = [asNumber(x), asNumber(y)];
  if (nx === undefined || ny === undefined) return false;
  return order(nx - ny, op);
}

const asNumber = (v: LiteralValue): number | undefined =>
  typeof v === 'number'
    ? v
    : typeof v === 'boolean'
      ? v
        ? 1
        : 0
      : typeof v === 'string'
        ? readNumber(v)
        : undefined;

function order(diff: number, op: CmpOp): boolean {
  switch (op) {
    case '<':
      return diff < 0;
    case '<=':
      return diff <= 0;
    case '>':
      return diff > 0;
    default:
      return diff >= 0;
  }
}

type Expr = Extract<Single, { kind: 'expr' }>;

/** A typed expression against a literal: the literal takes the expression's type. */
function exprVsLiteral(a: Expr, op: CmpOp, v: LiteralValue, d: QueryDialect): Cond {
  if ((op === '=' || op === '!=') && isEmptyLit(v)) {
    const empty: Cond =
      a.type === 'text'
        ? a.nullable
          ? sql`COALESCE(${a.sql}, '') = ''`
          : sql`${a.sql} = ''`
        : a.nullable
          ? sql`${a.sql} IS NULL`
          : false;
    return op === '=' ? empty : not(empty);
  }
  if (v === null) return false;
  let right: Sql;
  let left = a.sql;
  if (a.type === 'text') {
    const text = typeof v === 'string' ? v : typeof v === 'number' ? numberText(v) : String(v);
    right = d.text(text);
    if (op !== '=' && op !== '!=') left = d.ordered(left);
  } else {
    const n = asNumber(v);
    if (n === undefined) return op === '!=';
    if (a.type === 'bool' && (n === 0 || n === 1) && (op === '=' || op === '!=')) right = d.bool(n === 1);
    else {
      right = d.number(n);
      if (a.type === 'bool') left = d.boolNumber(left);
    }
  }
  const sqlOp = op === '!=' ? '=' : op;
  const cmp = sql`${left} ${raw(sqlOp)} ${right}`;
  const eqOrOrder = a.nullable ? definite(cmp) : cmp;
  return op === '!=' ? not(eqOrOrder) : eqOrOrder;
}

function exprVsExpr(a: Expr, op: CmpOp, b: Expr, d: QueryDialect, pos: number): Cond {
  const textual = a.type === 'text';
  if (textual !== (b.type === 'text'))
    throw new FilterError('cannot compare text with a number or bool', pos);
  const nullable = a.nullable || b.nullable;
  if (textual) {
    if (op === '=' || op === '!=') {
      const side = (x: Expr) => (x.nullable ? sql`COALESCE(${x.sql}, '')` : x.sql);
      const eq = sql`${side(a)} = ${side(b)}`;
      return op === '=' ? eq : not(eq);
    }
    const cmp = sql`${d.ordered(a.sql)} ${raw(op)} ${d.ordered(b.sql)}`;
    return nullable ? definite(cmp) : cmp;
  }
  const num = (x: Expr) => (x.type === 'bool' ? d.boolNumber(x.sql) : x.sql);
  if (op === '=' || op === '!=') {
    const cmp = sql`${num(a)} = ${num(b)}`;
    const eq = nullable ? sql`COALESCE(${cmp}, ${a.sql} IS NULL AND ${b.sql} IS NULL)` : cmp;
    return op === '=' ? eq : not(eq);
  }
  const cmp = sql`${num(a)} ${raw(op)} ${num(b)}`;
  return nullable ? definite(cmp) : cmp;
}

/** A value seen dynamically: its JSON kind and its value per kind (for comparisons with JSON). */
interface Dynamic {
  kind: Sql;
  constKind?: 'null' | 'string' | 'number' | 'bool';
  str: Sql;
  num: Sql;
  bool: Sql;
}

function dynamic(v: Single, d: QueryDialect): Dynamic {
  if (v.kind === 'json') return v.ref;
  const none = raw('NULL');
  if (v.kind === 'lit') {
    const x = v.value;
    if (x === null) return { kind: raw("'null'"), constKind: 'null', str: none, num: none, bool: none };
    if (typeof x === 'string')
      return { kind: raw("'string'"), constKind: 'string', str: d.text(x), num: none, bool: none };
    if (typeof x === 'number')
      return { kind: raw("'number'"), constKind: 'number', str: none, num: d.number(x), bool: none };
    return { kind: raw("'bool'"), constKind: 'bool', str: none, num: none, bool: d.number(x ? 1 : 0) };
  }
  const name = v.type === 'text' ? 'string' : v.type;
  const kind = v.nullable
    ? sql`(CASE WHEN ${v.sql} IS NULL THEN 'null' ELSE '${raw(name)}' END)`
    : raw(`'${name}'`);
  const value = v.type === 'bool' ? d.boolNumber(v.sql) : v.sql;
  return {
    kind,
    str: v.type === 'text' ? value : none,
    num: v.type === 'number' ? value : none,
    bool: v.type === 'bool' ? value : none,
  };
}

/** Comparisons where one side is JSON: strictly by JSON kind (docs: "A json operand compares strictly"). */
function compareDynamic(a: Single, op: CmpOp, b: Single, d: QueryDialect): Cond {
  const x = dynamic(a, d);
  const y = dynamic(b, d);
  if (op === '=' || op === '!=') {
    let eq: Cond;
    const known = y.constKind ?? x.constKind;
    const [other, lit] = y.constKind ? [x, y] : [y, x];
    if (known === 'null') eq = sql`${other.kind} = 'null'`;
    else if (known === 'string') eq = sql`(${other.kind} = 'string' AND ${other.str} = ${lit.str})`;
    else if (known === 'number') eq = sql`(${other.kind} = 'number' AND ${other.num} = ${lit.num})`;
    else if (known === 'bool') eq = sql`(${other.kind} = 'bool' AND ${other.bool} = ${lit.bool})`;
    else
      eq = sql`(${x.kind} = ${y.kind} AND (${x.kind} = 'null' OR (${x.kind} = 'string' AND ${x.str} = ${y.str}) OR (${x.kind} = 'number' AND ${x.num} = ${y.num}) OR (${x.kind} = 'bool' AND ${x.bool} = ${y.bool})))`;
    return op === '=' ? eq : not(eq);
  }
  const o = raw(op);
  const numbers = sql`(${x.kind} = 'number' AND ${y.kind} = 'number' AND ${x.num} ${o} ${y.num})`;
  const strings = sql`(${x.kind} = 'string' AND ${y.kind} = 'string' AND ${d.ordered(x.str)} ${o} ${d.ordered(y.str)})`;
  const kinds = [x.constKind, y.constKind];
  if (kinds.includes('null') || kinds.includes('bool')) return false;
  if (kinds.includes('number')) return numbers;
  if (kinds.includes('string')) return strings;
  return sql`(${numbers} OR ${strings})`;
}

/**
 * `~` and `!~`: contains or LIKE, ASCII case-insensitive, on values of any type read as text (PocketBase's
 * dashboard searches every field with `~`): numbers as SQLite spells them, bools as `1`/`0`, a JSON string,
 * number or bool as that value's text. `null` on either side makes both false; a JSON array or object
 * contains nothing (PocketBase would search its JSON text, which each engine spells differently).
 */
function compareLike(a: Single, negate: boolean, b: Single, d: QueryDialect): Cond {
  for (const v of [a, b]) if (v.kind === 'lit' && v.value === null) return false;
  const left = likeText(a, d);
  const right = likeText(b, d);
  let match: Cond;
  // Numbers and bools read as text have no upper-case letters: only text is folded.
  const fold = (t: { sql: Sql; folded?: boolean }) => (t.folded ? t.sql : d.fold(t.sql));
  if (left.lit !== undefined && right.lit !== undefined) match = likeMatch(left.lit, right.lit);
  else if (right.lit !== undefined) match = d.like(fold(left), d.text(foldAscii(likePattern(right.lit))));
  else match = d.contains(fold(left), fold(right));
  const bothText = and(left.guard, right.guard);
  if (!negate) return and(bothText, match);
  // `!~` negates `~` for values that are present: a JSON array does not contain "a", a null is neither.
  const present = (v: Single, guard: Cond): Cond =>
    v.kind === 'json' ? sql`${v.ref.kind} <> 'null'` : guard;
  return and(and(present(a, left.guard), present(b, right.guard)), not(and(bothText, match)));
}

/** One side of `~` as text: its SQL, when it has a text at all (`guard`), and the text of a literal. */
function likeText(v: Single, d: QueryDialect): { sql: Sql; guard: Cond; lit?: string; folded?: boolean } {
  if (v.kind === 'lit') {
    const t = typeof v.value === 'number' ? numberText(v.value) : String(v.value);
    return { sql: d.text(t), guard: true, lit: t };
  }
  if (v.kind === 'json') {
    // At most one of str, num and bool is not NULL (the one of the value's kind).
    const r = v.ref;
    return {
      sql: sql`COALESCE(${r.str}, ${d.numberText(r.num)}, ${d.numberText(r.bool)})`,
      guard: sql`${r.kind} IN ('string', 'number', 'bool')`,
    };
  }
  const guard = v.nullable ? sql`${v.sql} IS NOT NULL` : true;
  if (v.type === 'text') return { sql: v.sql, guard };
  const text = d.numberText(v.type === 'bool' ? d.boolNumber(v.sql) : v.sql);
  return { sql: text, guard, folded: true };
}

/** The LIKE pattern for a text literal: a contains-match unless it holds `%`. */
export function likePattern(text: string): string {
  if (!text.includes('%')) return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  // A trailing lone `\` would be an error on some engines: it stands for itself.
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\') {
      out += i + 1 < text.length ? c + text[++i] : '\\\\';
    } else out += c;
  }
  return out;
}

/**
 * `text ~ literal` between two literals, with the same pattern rules as the engines. Matched by walking
 * both strings, going back only to the last `%` (O(text × pattern)): a regular expression here would
 * backtrack exponentially on patterns such as `%a%a%a…%b`, and both sides come from the client.
 */
export function likeMatch(text: string, patternText: string): boolean {
  const pattern = likeTokens(foldAscii(likePattern(patternText)));
  const chars = [...foldAscii(text)];
  let i = 0;
  let j = 0;
  let star = -1;
  let resume = 0;
  while (i < chars.length) {
    const t = pattern[j];
    if (t !== undefined && t !== ANY && (t === ONE || t === chars[i])) {
      i++;
      j++;
    } else if (t === ANY) {
      star = j++;
      resume = i;
    } else if (star >= 0) {
      j = star + 1;
      i = ++resume;
    } else return false;
  }
  while (pattern[j] === ANY) j++;
  return j === pattern.length;
}

const ANY = Symbol('%');
const ONE = Symbol('_');

/** A LIKE pattern as code points and wildcards (`\` makes the next character literal). */
function likeTokens(pattern: string): (string | symbol)[] {
  const chars = [...pattern];
  const out: (string | symbol)[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\' && i + 1 < chars.length) out.push(chars[++i] as string);
    else if (c === '%') {
      if (out.at(-1) !== ANY) out.push(ANY);
    } else if (c === '_') out.push(ONE);
    else out.push(c);
  }
  return out;
}

/** Shortest decimal form of a number, as text comparisons see it. */
export const numberText = (n: number) => String(n);
