// An in-memory reference evaluator of Plinth's filter and sort language, written from
// docs/query-language.md alone (never from src/query): the differential test compares the server's answers
// with this one. Where the document leaves a case open, the evaluator asks `choose(point)` and the driver
// (`evaluateAll`) tries every answer: a case is definite only when all readings agree.

// ---------------------------------------------------------------------------------------------- schema

export type FieldType = 'text' | 'number' | 'bool' | 'date' | 'select' | 'relation' | 'json';

export interface FieldDef {
  name: string;
  type: FieldType;
  /** select/relation: more than one value (stored as a JSON array). */
  multi?: boolean;
  /** relation: the target collection's name. */
  collection?: string;
}

/** Collection name -> its fields (`id` is implicit). */
export type Schema = Record<string, FieldDef[]>;
// biome-ignore lint/suspicious/noExplicitAny: records are API JSON.
export type Rec = { id: string } & Record<string, any>;
/** Collection name -> its records, in insertion order. */
export type Dataset = Record<string, Rec[]>;

// ---------------------------------------------------------------------------------------------- errors

/** The filter or sort is one the document says must be refused (400). */
export class InvalidQuery extends Error {}

// ---------------------------------------------------------------------------------------------- tokens

type Tok =
  | { k: 'lp' | 'rp' | 'and' | 'or' | 'comma'; at: number }
  | { k: 'op'; v: string; at: number }
  | { k: 'str'; v: string; at: number }
  | { k: 'num'; v: number; at: number }
  | { k: 'ident'; v: string; at: number };

const OPS = ['?!~', '?!=', '?>=', '?<=', '?=', '?>', '?<', '?~', '!=', '!~', '>=', '<=', '=', '>', '<', '~'];

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    const at = i;
    if (c === '(') {
      out.push({ k: 'lp', at });
      i++;
      continue;
    }
    if (c === ')') {
      out.push({ k: 'rp', at });
      i++;
      continue;
    }
    if (c === ',') {
      out.push({ k: 'comma', at });
      i++;
      continue;
    }
    if (src.startsWith('&&', i)) {
      out.push({ k: 'and', at });
      i += 2;
      continue;
    }
    if (src.startsWith('||', i)) {
      out.push({ k: 'or', at });
      i += 2;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op) {
      out.push({ k: 'op', v: op, at });
      i += op.length;
      continue;
    }
    if (c === '"' || c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new InvalidQuery(`unterminated text at ${at}`);
        const ch = src[i];
        if (ch === '\\' && src[i + 1] === c) {
          v += c;
          i += 2;
          continue;
        }
        if (ch === c) {
          i++;
          break;
        }
        v += ch;
        i++;
      }
      out.push({ k: 'str', v, at });
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(src.slice(i));
    if (num) {
      out.push({ k: 'num', v: Number(num[0]), at });
      i += num[0].length;
      continue;
    }
    const id = /^@?[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*(:[A-Za-z_]+)?/.exec(src.slice(i));
    if (id) {
      out.push({ k: 'ident', v: id[0], at });
      i += id[0].length;
      continue;
    }
    throw new InvalidQuery(`unexpected character ${JSON.stringify(c)} at ${at}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- AST

export type Operand =
  | { t: 'lit'; v: string | number | boolean | null }
  | { t: 'path'; segs: string[]; mod?: string }
  | { t: 'macro'; name: string }
  | { t: 'strftime'; format: string; arg: Operand };

export type Expr = { t: 'cmp'; op: string; l: Operand; r: Operand } | { t: 'and' | 'or'; a: Expr; b: Expr };

const LIMITS = { chars: 3500, comparisons: 200, depth: 32, relations: 6 };

export function parseFilter(src: string): Expr {
  if (src.length > LIMITS.chars) throw new InvalidQuery('filter too long');
  const toks = tokenize(src);
  let p = 0;
  let comparisons = 0;
  const peek = () => toks[p];
  const fail = (what: string): never => {
    throw new InvalidQuery(`${what} at token ${p}`);
  };

  function operand(): Operand {
    const t = toks[p++];
    if (!t) return fail('missing operand');
    if (t.k === 'str') return { t: 'lit', v: t.v };
    if (t.k === 'num') return { t: 'lit', v: t.v };
    if (t.k !== 'ident') return fail('unexpected token');
    const v = t.v;
    if (v === 'true' || v === 'false') return { t: 'lit', v: v === 'true' };
    if (v === 'null') return { t: 'lit', v: null };
    if (v.startsWith('@')) return { t: 'macro', name: v };
    if (peek()?.k === 'lp') {
      if (v !== 'strftime') return fail(`unknown function ${v}`);
      p++;
      const f = toks[p++];
      if (f?.k !== 'str') return fail('strftime format');
      if (toks[p++]?.k !== 'comma') return fail('strftime comma');
      const arg = operand();
      if (toks[p++]?.k !== 'rp') return fail('strftime: ")" expected (extra modifiers are refused)');
      return { t: 'strftime', format: f.v, arg };
    }
    const [path, mod] = v.split(':');
    return { t: 'path', segs: (path ?? '').split('.'), mod };
  }

  function primary(depth: number): Expr {
    if (depth > LIMITS.depth) fail('too deep');
    if (peek()?.k === 'lp') {
      p++;
      const e = or(depth + 1);
      if (toks[p++]?.k !== 'rp') fail('")" expected');
      return e;
    }
    const l = operand();
    const o = toks[p++];
    if (o?.k !== 'op') return fail('operator expected');
    const r = operand();
    if (++comparisons > LIMITS.comparisons) fail('too many comparisons');
    return { t: 'cmp', op: o.v, l, r };
  }
  function and(depth: number): Expr {
    let e = primary(depth);
    while (peek()?.k === 'and') {
      p++;
      e = { t: 'and', a: e, b: primary(depth) };
    }
    return e;
  }
  function or(depth: number): Expr {
    let e = and(depth);
    while (peek()?.k === 'or') {
      p++;
      e = { t: 'or', a: e, b: and(depth) };
    }
    return e;
  }
  if (toks.length === 0) fail('empty filter');
  const e = or(0);
  if (p !== toks.length) fail('trailing tokens');
  return e;
}

// ---------------------------------------------------------------------------------------------- helpers

const ASCII_UPPER = /[A-Z]/g;
export const asciiLower = (s: string) => s.replace(ASCII_UPPER, (c) => c.toLowerCase());

/** Code-point order (the only text order of the language). */
export function cmpText(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** `%` any run, `_` any one character, `\` escapes the next; ASCII letters fold. */
export function likeMatch(value: string, pattern: string): boolean {
  let re = '^';
  const chars = Array.from(asciiLower(pattern));
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c === '\\' && i + 1 < chars.length) re += escapeRe(chars[++i] ?? '');
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += escapeRe(c);
  }
  return new RegExp(`${re}$`, 'u').test(asciiLower(value));
}
const escapeRe = (c: string) => (/[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c);

/** A text literal "reads as a number": optional spaces, optional minus, digits with an optional fraction. */
export function readsAsNumber(s: string): number | undefined {
  return /^\s*-?(\d+(\.\d+)?|\.\d+)\s*$/.test(s) ? Number(s) : undefined;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
export function formatDate(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

/** The macro values for one request instant. */
export function macros(now: Date): Record<string, string | number> {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const day = 86_400_000;
  return {
    '@now': formatDate(now),
    '@yesterday': formatDate(new Date(now.getTime() - day)),
    '@tomorrow': formatDate(new Date(now.getTime() + day)),
    '@todayStart': formatDate(new Date(Date.UTC(y, m, d))),
    '@todayEnd': formatDate(new Date(Date.UTC(y, m, d, 23, 59, 59, 999))),
    '@monthStart': formatDate(new Date(Date.UTC(y, m, 1))),
    '@monthEnd': formatDate(new Date(Date.UTC(y, m + 1, 0, 23, 59, 59, 999))),
    '@yearStart': formatDate(new Date(Date.UTC(y, 0, 1))),
    '@yearEnd': formatDate(new Date(Date.UTC(y, 11, 31, 23, 59, 59, 999))),
    '@second': now.getUTCSeconds(),
    '@minute': now.getUTCMinutes(),
    '@hour': now.getUTCHours(),
    '@weekday': now.getUTCDay(),
    '@day': d,
    '@month': m + 1,
    '@year': y,
  };
}

/** strftime over a stored date text; null when the date is empty. */
export function strftime(format: string, date: string | null): string | null {
  if (date === null || date === '') return null;
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})Z$/.exec(date);
  if (!m) return null;
  const parts: Record<string, string | undefined> = {
    Y: m[1],
    m: m[2],
    d: m[3],
    H: m[4],
    M: m[5],
    S: m[6],
    f: `${m[6]}.${m[7]}`,
    '%': '%',
  };
  let out = '';
  for (let i = 0; i < format.length; i++) {
    if (format[i] === '%' && i + 1 < format.length) {
      const p = parts[format[i + 1] ?? ''];
      if (p === undefined) throw new InvalidQuery(`strftime: %${format[i + 1]}`);
      out += p;
      i++;
    } else out += format[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------- values

type Kind = 'text' | 'number' | 'bool' | 'json';
type JsonV = unknown;

/** An evaluated operand: a literal, or typed items (one item unless multi-valued). */
type Val =
  | { lit: true; v: string | number | boolean | null }
  | { lit: false; kind: Kind; multi: boolean; items: (string | number | boolean | null | JsonV)[] };

export interface Ctx {
  schema: Schema;
  data: Dataset;
  macros: Record<string, string | number>;
  /** An open point of the document: the driver answers each reading in turn. */
  choose(point: string): boolean;
}

function fieldOf(schema: Schema, coll: string, name: string): FieldDef | undefined {
  if (name === 'id') return { name: 'id', type: 'text' };
  return schema[coll]?.find((f) => f.name === name);
}

/** `X_via_Y`: records of X whose relation Y points at the current record. */
function backRel(schema: Schema, coll: string, seg: string): { coll: string; field: FieldDef } | undefined {
  const m = /^(.+)_via_(.+)$/.exec(seg);
  if (!m) return undefined;
  const [, source = '', name] = m;
  const field = schema[source]?.find((f) => f.name === name);
  if (field?.type !== 'relation' || field.collection !== coll) return undefined;
  return { coll: source, field };
}

const kindOf = (f: FieldDef): Kind =>
  f.type === 'number' ? 'number' : f.type === 'bool' ? 'bool' : f.type === 'json' ? 'json' : 'text';

/** The value a field has as an operand (multi select/relation without modifier: its JSON text). */
function scalar(f: FieldDef, rec: Rec): unknown {
  const v = rec[f.name];
  if ((f.type === 'select' || f.type === 'relation') && f.multi) return JSON.stringify(v ?? []);
  if (f.type === 'json') return v === undefined ? null : v;
  return v;
}

function jsonStep(v: JsonV, seg: string): JsonV {
  if (v === null || typeof v !== 'object') return null;
  if (Array.isArray(v)) return /^\d+$/.test(seg) && Number(seg) < v.length ? v[Number(seg)] : null;
  return Object.hasOwn(v, seg) ? (v as Record<string, JsonV>)[seg] : null;
}

/**
 * How a path is walked. Every list step of a path (a multi relation, a back-relation, `:each` on a multi
 * field) is a row variable named by its path prefix (`friends`, `friends.friends`, `friends.tags:each`):
 * `bind` gives the row assigned to some of them (a `?` comparison reads one row per list step), `keys`
 * collects the names of the list steps walked, and `capture` stops at that list step and returns the rows it
 * reaches from the (bound) rows before it.
 */
interface Walk {
  bind?: ReadonlyMap<string, unknown>;
  keys?: string[];
  capture?: string;
}

/** The rows a captured list step reaches (see `Walk.capture`). */
type Rows = { rows: unknown[] };

/**
 * A list step: the rows each branch reaches, like a `LEFT JOIN` (a branch that reaches nothing is one `null`
 * row), or the single row bound to it.
 */
function listStep(walk: Walk, key: string, branches: unknown[], next: (b: unknown) => unknown[]): unknown[] {
  walk.keys?.push(key);
  if (walk.bind?.has(key)) return [walk.bind.get(key)];
  return branches.flatMap((b) => {
    if (b === null) return [null];
    const l = next(b);
    return l.length ? l : [null];
  });
}

/** Resolves a path on one record: the static kind and multi-ness, and the items reached. */
function resolvePath(
  ctx: Ctx,
  coll: string,
  op: { segs: string[]; mod?: string },
  rec: Rec | null,
  walk: Walk = {},
): Val | Rows {
  // Walk: a list of branches, each the record reached (null: the path reached nothing there).
  let branches: (Rec | null)[] = [rec];
  let cur = coll;
  let multi = false;
  let relations = 0;
  const segs = op.segs;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i] ?? '';
    const last = i === segs.length - 1;
    const key = segs.slice(0, i + 1).join('.');
    const f = fieldOf(ctx.schema, cur, seg);
    const back = f ? undefined : backRel(ctx.schema, cur, seg);
    if (!f && !back) throw new InvalidQuery(`unknown field ${key}`);
    if (f && last) return finish(ctx, f, op.mod, branches, multi, `${key}:each`, walk);
    if (f?.type === 'json') {
      if (op.mod) throw new InvalidQuery('modifier on a JSON path');
      const rest = segs.slice(i + 1);
      const items = branches.map((b) => {
        let v: JsonV = b === null ? null : scalar(f, b);
        for (const s of rest) v = jsonStep(v, s);
        return v === undefined ? null : v;
      });
      return { lit: false, kind: 'json', multi, items };
    }
    // A relation step (forward or back).
    if (++relations > LIMITS.relations) throw new InvalidQuery('path too long');
    if (f) {
      if (f.type !== 'relation' || !f.collection) throw new InvalidQuery(`${seg} is not a relation`);
      // "`author.id` is the same as `author`": the stored value, '' when unset (not null).
      if (!f.multi && i + 2 === segs.length && segs[i + 1] === 'id')
        return finish(ctx, f, op.mod, branches, multi, `${key}:each`, walk);
      const target = ctx.data[f.collection] ?? [];
      const byId = new Map(target.map((r) => [r.id, r]));
      const reached = (b: unknown): Rec[] => {
        const r = b as Rec;
        const ids: string[] = f.multi ? (r[f.name] ?? []) : r[f.name] ? [r[f.name]] : [];
        return ids.map((id) => byId.get(id)).filter((x): x is Rec => x !== undefined);
      };
      if (f.multi) {
        multi = true;
        branches = listStep(walk, key, branches, reached) as (Rec | null)[];
        if (walk.capture === key) return { rows: branches };
      } else {
        branches = branches.map((b) => (b === null ? null : (reached(b)[0] ?? null)));
      }
      cur = f.collection;
    } else if (back) {
      multi = true;
      const source = ctx.data[back.coll] ?? [];
      branches = listStep(walk, key, branches, (b) =>
        source.filter((r) => {
          const v = r[back.field.name];
          const id = (b as Rec).id;
          return back.field.multi ? Array.isArray(v) && v.includes(id) : v === id;
        }),
      ) as (Rec | null)[];
      if (walk.capture === key) return { rows: branches };
      cur = back.coll;
      if (last) {
        // A bare back-relation names the records: as an operand, their ids.
        return finish(ctx, { name: 'id', type: 'text' }, op.mod, branches, multi, `${key}:each`, walk);
      }
    }
  }
  throw new InvalidQuery('empty path');
}

function finish(
  ctx: Ctx,
  f: FieldDef,
  mod: string | undefined,
  branches: (Rec | null)[],
  multi: boolean,
  eachKey: string,
  walk: Walk,
): Val | Rows {
  if (mod === undefined || mod === 'lower') {
    const kind = kindOf(f);
    if (mod === 'lower' && kind !== 'text') throw new InvalidQuery(':lower on a non-text field');
    let items = branches.map((b) => (b === null ? null : scalar(f, b))) as (string | null)[];
    if (mod === 'lower') items = items.map((v) => (v === null ? null : asciiLower(String(v))));
    return { lit: false, kind, multi, items };
  }
  if (mod === 'length' || mod === 'each') {
    if (f.type !== 'select' && f.type !== 'relation') throw new InvalidQuery(`:${mod} on ${f.type}`);
    const listOf = (b: Rec): string[] => {
      const v = b[f.name];
      if (f.multi) return Array.isArray(v) ? v : [];
      return v ? [v] : [];
    };
    if (mod === 'length') {
      const items = branches.map((b) => (b === null ? null : listOf(b).length));
      return { lit: false, kind: 'number', multi, items };
    }
    if (!f.multi) {
      const items = branches.map((b) => {
        if (b === null) return null;
        const v = b[f.name] ?? '';
        return v === '' && ctx.choose('each-on-an-unset-single-field-is-null') ? null : v;
      });
      return { lit: false, kind: 'text', multi, items };
    }
    // `:each` on a multi field is a list step: one item per list item, `null` for an empty list.
    const items = listStep(walk, eachKey, branches, (b) => listOf(b as Rec));
    if (walk.capture === eachKey) return { rows: items };
    return { lit: false, kind: 'text', multi: true, items };
  }
  throw new InvalidQuery(`unknown modifier ${mod}`);
}

function evalOperand(ctx: Ctx, coll: string, o: Operand, rec: Rec, walk: Walk = {}): Val {
  if (o.t === 'lit') return { lit: true, v: o.v };
  if (o.t === 'macro') {
    const v = ctx.macros[o.name];
    if (v === undefined) throw new InvalidQuery(`unknown macro ${o.name}`);
    return { lit: false, kind: typeof v === 'number' ? 'number' : 'text', multi: false, items: [v] };
  }
  if (o.t === 'strftime') {
    const a = evalOperand(ctx, coll, o.arg, rec, walk);
    let date: string | null;
    if (a.lit) {
      if (typeof a.v !== 'string' && a.v !== null) throw new InvalidQuery('strftime of a non-text');
      date = a.v;
    } else {
      if (a.kind !== 'text' || a.multi) throw new InvalidQuery('strftime of a non-text');
      date = a.items[0] as string | null;
    }
    return { lit: false, kind: 'text', multi: false, items: [strftime(o.format, date)] };
  }
  const v = resolvePath(ctx, coll, o, rec, { ...walk, capture: undefined });
  if ('rows' in v) throw new Error('unreachable: a captured list step');
  return v;
}

// ---------------------------------------------------------------------------------------------- compare

type Base = '=' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '!~';

function order(base: Base, d: number): boolean {
  if (base === '<') return d < 0;
  if (base === '<=') return d <= 0;
  if (base === '>') return d > 0;
  return d >= 0;
}

const jsonType = (v: unknown) =>
  v === null || v === undefined
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'object'
        ? 'object'
        : typeof v;

/**
 * A number as `~` reads it: as SQLite spells a stored number (docs/query-language.md) — digits for whole
 * numbers, the shortest decimal otherwise, exponents as `1.0e+21` / `1.5e-07`.
 */
export function numberText(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  return String(n)
    .replace(/^(-?\d+)e/, '$1.0e')
    .replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Any value of a number, bool or text operand as `~` reads it (bools are 1 and 0). */
const likeText = (v: unknown): string =>
  typeof v === 'number' ? numberText(v) : typeof v === 'boolean' ? (v ? '1' : '0') : String(v);

/** `a ~ b` where b is a text literal (pattern when it holds `%`) or another value (contains). */
function like(a: string, b: string, bIsLiteral: boolean): boolean {
  if (bIsLiteral && b.includes('%')) return likeMatch(a, b);
  return asciiLower(a).includes(asciiLower(b));
}

/** One pair of items, with the statically decided typing mode. */
type PairFn = (a: unknown, b: unknown) => boolean;

function pairFunction(ctx: Ctx, base: Base, L: Val, R: Val): PairFn {
  const notLike = base === '!~';
  const likeOp = base === '~' || base === '!~';
  const eqOp = base === '=' || base === '!=';
  const neg = base === '!=';
  const litL = L.lit;
  const litR = R.lit;

  // Two literals: decided by the same rules, on their own types.
  if (L.lit && R.lit) {
    const a = L.v;
    const b = R.v;
    if (typeof a !== typeof b || a === null || b === null) {
      if (ctx.choose('literal-vs-literal-of-other-type')) throw new InvalidQuery('mixed literals');
    }
    return () => {
      if (likeOp) {
        if (a === null || b === null) return false;
        // Literals are read as text as written (a number literal as JavaScript spells it).
        const r = like(String(a), String(b), true);
        return notLike ? !r : r;
      }
      if (eqOp) return (a === b) !== neg;
      if (a === null || b === null) return false;
      if (typeof a === 'string' && typeof b === 'string') return order(base, cmpText(a, b));
      return order(base, Number(a) - Number(b));
    };
  }

  const kindL = L.lit ? undefined : L.kind;
  const kindR = R.lit ? undefined : R.kind;

  // JSON operands compare strictly by JSON type.
  if (kindL === 'json' || kindR === 'json') {
    const jsonSide = kindL === 'json' ? 'l' : 'r';
    const other = jsonSide === 'l' ? R : L;
    if (likeOp && jsonSide === 'r') throw new Error('generator: json on the right of ~ is not modelled');
    const otherKind = other.lit ? undefined : other.kind;
    const toJson = (v: unknown): unknown => {
      if (other.lit || otherKind === 'json') return v;
      if (v === null) {
        if (otherKind === 'text' && ctx.choose('json-vs-text-null-is-empty-string')) return '';
        return null;
      }
      if (otherKind === 'bool' && ctx.choose('json-vs-bool-field-as-number')) return v ? 1 : 0;
      return v;
    };
    return (x, y) => {
      const j = jsonSide === 'l' ? x : y;
      const o = toJson(jsonSide === 'l' ? y : x);
      if (likeOp) {
        if (j === null || o === null) return false;
        // A JSON string, number or bool is read as text; an array or object contains nothing.
        if (typeof j === 'object') return notLike;
        const r = like(likeText(j), other.lit ? String(o) : likeText(o), other.lit);
        return notLike ? !r : r;
      }
      const tj = jsonType(j);
      const to = jsonType(o);
      if (eqOp) {
        let eq: boolean;
        if (tj === 'null' && to === 'null')
          eq = other.lit ? true : !ctx.choose('json-null-vs-null-operand-unequal');
        else if (tj !== to || tj === 'array' || tj === 'object') eq = false;
        else eq = j === o;
        return eq !== neg;
      }
      if (tj === 'number' && to === 'number') {
        const d = (jsonSide === 'l' ? 1 : -1) * ((j as number) - (o as number));
        return order(base, d);
      }
      if (tj === 'string' && to === 'string') {
        const d = (jsonSide === 'l' ? 1 : -1) * cmpText(j as string, o as string);
        return order(base, d);
      }
      return false;
    };
  }

  // Text, number, bool.
  const k = (kindL ?? kindR) as Kind;
  if (likeOp) {
    // Every operand is read as text: numbers as SQLite spells them, bools as 1/0; literals as written.
    if (litL) throw new Error('generator: literal on the left of ~ is not modelled');
    return (a, b) => {
      if (a === null || b === null) return false;
      const r = like(likeText(a), litR ? String(b) : likeText(b), litR);
      return notLike ? !r : r;
    };
  }

  if (!litL && !litR) {
    // Two non-literals.
    if ((kindL === 'text') !== (kindR === 'text')) throw new InvalidQuery('text against number or bool');
    if (k === 'text') {
      return (a, b) => {
        if (eqOp) return ((a ?? '') === (b ?? '')) !== neg;
        if (a === null || b === null) return false;
        return order(base, cmpText(a as string, b as string));
      };
    }
    return (a, b) => {
      const x = a === null ? null : Number(a);
      const y = b === null ? null : Number(b);
      if (eqOp) return (x === y) !== neg;
      if (x === null || y === null) return false;
      return order(base, x - y);
    };
  }

  // One literal against a text, number or bool operand.
  const litOnLeft = litL;
  const litV = (litL ? L.v : (R as { v: unknown }).v) as string | number | boolean | null;
  const opKind = (litL ? kindR : kindL) as Kind;
  const flip = (d: number) => (litOnLeft ? -d : d);
  if (eqOp && (litV === null || litV === '')) {
    // The empty-value rule.
    if (opKind === 'text') {
      return (a, b) => {
        const v = litOnLeft ? b : a;
        if (v === '[]' && ctx.choose('empty-json-array-text-is-empty')) return !neg;
        return (v === null || v === '') !== neg;
      };
    }
    return (a, b) => ((litOnLeft ? b : a) === null) !== neg;
  }
  if (opKind === 'text') {
    const t = litV === null ? null : typeof litV === 'number' ? String(litV) : String(litV);
    return (a, b) => {
      const v = (litOnLeft ? b : a) as string | null;
      if (eqOp) return ((v ?? '') === t) !== neg;
      if (v === null || t === null) return false;
      return order(base, flip(cmpText(v, t)));
    };
  }
  // number / bool operand
  let n: number | undefined;
  if (typeof litV === 'number') n = litV;
  else if (typeof litV === 'boolean') n = litV ? 1 : 0;
  else if (typeof litV === 'string') n = readsAsNumber(litV);
  return (a, b) => {
    const raw = litOnLeft ? b : a;
    const v = raw === null ? null : Number(raw);
    if (eqOp) return (n !== undefined && v === n) !== neg;
    if (v === null || n === undefined) return false;
    return order(base, flip(v - n));
  };
}

type Cmp = Extract<Expr, { t: 'cmp' }>;

/**
 * The row variables of a filter. Every list step of a path used by a `?` comparison is one, named by its
 * path prefix: all `?` comparisons that go through the same prefix look at the same row at once.
 */
interface Plan {
  /** `?` comparison -> its row variables, each after its parent. */
  vars: Map<Cmp, string[]>;
  /** Row variable -> the variable before it in its path (if any) and a path that walks it. */
  steps: Map<string, { parent?: string; op: { segs: string[]; mod?: string } }>;
}

const MAX_LIST_STEPS = 24;
const MAX_CROSS_STEPS = 4;

/** The list steps a path operand walks (none for other operands). */
function listKeys(ctx: Ctx, coll: string, o: Operand, probe: Rec): string[] {
  if (o.t !== 'path') return [];
  const keys: string[] = [];
  resolvePath(ctx, coll, o, probe, { keys });
  return keys;
}

/**
 * Validates every comparison once (types are static, so a 400 does not depend on the data), checks the
 * cost limits and collects the row variables.
 */
function check(ctx: Ctx, coll: string, root: Expr, probe: Rec): Plan {
  const plan: Plan = { vars: new Map(), steps: new Map() };
  let steps = 0;
  const visit = (e: Expr): void => {
    if (e.t !== 'cmp') {
      visit(e.a);
      visit(e.b);
      return;
    }
    const base = (e.op.startsWith('?') ? e.op.slice(1) : e.op) as Base;
    pairFunction(ctx, base, evalOperand(ctx, coll, e.l, probe), evalOperand(ctx, coll, e.r, probe));
    const kl = listKeys(ctx, coll, e.l, probe);
    const kr = listKeys(ctx, coll, e.r, probe);
    steps += kl.length + kr.length;
    if (kl.length && kr.length && kl.length + kr.length > MAX_CROSS_STEPS) {
      throw new InvalidQuery('lists on both sides: too many multi-valued steps');
    }
    if (!e.op.startsWith('?')) return;
    const vars: string[] = [];
    for (const [o, keys] of [
      [e.l, kl],
      [e.r, kr],
    ] as const) {
      keys.forEach((k, i) => {
        if (!plan.steps.has(k))
          plan.steps.set(k, { parent: keys[i - 1], op: o as Extract<Operand, { t: 'path' }> });
        if (!vars.includes(k)) vars.push(k);
      });
    }
    plan.vars.set(e, vars);
  };
  visit(root);
  if (steps > MAX_LIST_STEPS) throw new InvalidQuery('too many multi-valued steps');
  return plan;
}

/** One comparison; a `?` comparison reads the rows bound to its row variables. */
function compare(ctx: Ctx, coll: string, e: Cmp, rec: Rec, bind: ReadonlyMap<string, unknown>): boolean {
  const any = e.op.startsWith('?');
  const base = (any ? e.op.slice(1) : e.op) as Base;
  const walk: Walk = any ? { bind } : {};
  const L = evalOperand(ctx, coll, e.l, rec, walk);
  const R = evalOperand(ctx, coll, e.r, rec, walk);
  const fn = pairFunction(ctx, base, L, R);
  const li = L.lit ? [L.v] : L.items;
  const ri = R.lit ? [R.v] : R.items;
  if (any) return li.some((a) => ri.some((b) => fn(a, b)));
  // Without `?`: every item (every pair), each comparison on its own.
  return li.every((a) => ri.every((b) => fn(a, b)));
}

/**
 * Whether some assignment of the row variables not yet in `bind` makes all of `conj` true. Enumerates the
 * rows of one variable at a time (a parent before its children), splits independent conjuncts and the
 * branches of an `||` (the language has no negation, so "some assignment" distributes over them).
 */
function exists(
  ctx: Ctx,
  coll: string,
  plan: Plan,
  conj: Expr[],
  rec: Rec,
  bind: ReadonlyMap<string, unknown>,
): boolean {
  const free = (e: Expr): string[] =>
    e.t === 'cmp'
      ? (plan.vars.get(e) ?? []).filter((k) => !bind.has(k))
      : [...new Set([...free(e.a), ...free(e.b)])];
  const flat: Expr[] = [];
  const flatten = (e: Expr): void => {
    if (e.t === 'and') {
      flatten(e.a);
      flatten(e.b);
    } else flat.push(e);
  };
  conj.forEach(flatten);
  const open: { e: Expr; free: string[] }[] = [];
  for (const e of flat) {
    const fv = free(e);
    if (fv.length === 0 && e.t === 'cmp') {
      if (!compare(ctx, coll, e, rec, bind)) return false;
    } else open.push({ e, free: fv });
  }
  if (open.length === 0) return true;
  // Conjuncts that share no free variable are independent.
  const groups: { es: Expr[]; vars: Set<string> }[] = [];
  for (const o of open) {
    const joined = groups.filter((g) => o.free.some((k) => g.vars.has(k)));
    const g = {
      es: [o.e, ...joined.flatMap((x) => x.es)],
      vars: new Set([...o.free, ...joined.flatMap((x) => [...x.vars])]),
    };
    for (const x of joined) groups.splice(groups.indexOf(x), 1);
    groups.push(g);
  }
  if (groups.length > 1) return groups.every((g) => exists(ctx, coll, plan, g.es, rec, bind));
  const only = open[0] as { e: Expr; free: string[] };
  if (open.length === 1 && only.e.t === 'or') {
    return exists(ctx, coll, plan, [only.e.a], rec, bind) || exists(ctx, coll, plan, [only.e.b], rec, bind);
  }
  // Branch on a free variable whose parent is bound (or that has none), the one most conjuncts use.
  const uses = new Map<string, number>();
  for (const o of open) for (const k of o.free) uses.set(k, (uses.get(k) ?? 0) + 1);
  let pick: string | undefined;
  for (const [k, n] of uses) {
    const parent = plan.steps.get(k)?.parent;
    if (parent !== undefined && !bind.has(parent)) continue;
    if (pick === undefined || n > (uses.get(pick) ?? 0)) pick = k;
  }
  const step = pick === undefined ? undefined : plan.steps.get(pick);
  if (pick === undefined || !step) throw new Error('unreachable: no row variable to enumerate');
  const got = resolvePath(ctx, coll, step.op, rec, { bind, capture: pick });
  if (!('rows' in got)) throw new Error(`unreachable: ${pick} not captured`);
  const es = open.map((o) => o.e);
  return got.rows.some((row) => exists(ctx, coll, plan, es, rec, new Map(bind).set(pick, row)));
}

/** The filter holds for a record when some assignment of its row variables makes it true. */
function evalExpr(ctx: Ctx, coll: string, plan: Plan, e: Expr, rec: Rec): boolean {
  return exists(ctx, coll, plan, [e], rec, new Map());
}

// ---------------------------------------------------------------------------------------------- sort

interface SortKey {
  desc: boolean;
  key: string;
}

export function parseSort(sort: string): SortKey[] {
  const keys = sort
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) =>
      s.startsWith('-') ? { desc: true, key: s.slice(1) } : { desc: false, key: s.replace(/^\+/, '') },
    );
  if (keys.length > 8) throw new InvalidQuery('too many sort keys');
  return keys;
}

function sortValue(ctx: Ctx, coll: string, key: string, rec: Rec, index: number): { kind: Kind; v: unknown } {
  if (key === '@rowid') return { kind: 'number', v: index };
  const [path, mod] = key.split(':');
  const val = resolvePath(ctx, coll, { segs: (path ?? '').split('.'), mod }, rec);
  if ('rows' in val || val.lit || val.multi) throw new InvalidQuery('multi-valued sort');
  return { kind: val.kind, v: val.items[0] ?? null };
}

// ---------------------------------------------------------------------------------------------- driver

export interface Query {
  collection: string;
  filter?: string;
  sort?: string;
}

/** One reading's answer: the matching ids (in order when sorted), or "refused". */
export type Outcome = { ok: true; ids: string[]; ordered: boolean } | { ok: false; reason: string };

function runOnce(
  schema: Schema,
  data: Dataset,
  q: Query,
  now: Date,
  choose: (p: string) => boolean,
): Outcome {
  const ctx: Ctx = { schema, data, macros: macros(now), choose };
  const recs = data[q.collection] ?? [];
  try {
    if (!schema[q.collection]) throw new InvalidQuery('unknown collection');
    let out = recs.map((r, i) => ({ r, i }));
    if (q.filter !== undefined && q.filter.trim() !== '') {
      const e = parseFilter(q.filter);
      const probe: Rec = { id: '' };
      const plan = check(ctx, q.collection, e, probe);
      out = out.filter(({ r }) => evalExpr(ctx, q.collection, plan, e, r));
    }
    let ordered = false;
    if (q.sort) {
      const keys = parseSort(q.sort);
      const random = keys.some((k) => k.key === '@random');
      for (const k of keys) if (k.key !== '@random') sortValue(ctx, q.collection, k.key, { id: '' }, 0);
      if (!random) {
        ordered = true;
        const vals = new Map(
          out.map((x) => [x.r.id, keys.map((k) => sortValue(ctx, q.collection, k.key, x.r, x.i))]),
        );
        // JSON values of mixed types sort in an engine-specific order.
        keys.forEach((_, ki) => {
          const column = [...vals.values()].map((v) => v[ki]);
          const types = new Set(column.filter((v) => v && v.v !== null).map((v) => jsonType(v?.v)));
          if (column[0]?.kind === 'json' && types.size > 1) ordered = false;
          if (types.has('array') || types.has('object')) ordered = false;
        });
        out.sort((a, b) => {
          const va = vals.get(a.r.id) ?? [];
          const vb = vals.get(b.r.id) ?? [];
          for (const [ki, key] of keys.entries()) {
            const x = va[ki]?.v ?? null;
            const y = vb[ki]?.v ?? null;
            let d: number;
            if (x === null && y === null) d = 0;
            else if (x === null) d = -1;
            else if (y === null) d = 1;
            else if (typeof x === 'string' && typeof y === 'string') d = cmpText(x, y);
            else d = Number(x) - Number(y);
            if (d !== 0) return key.desc ? -d : d;
          }
          return 0;
        });
      }
    }
    return { ok: true, ids: out.map((x) => x.r.id), ordered };
  } catch (err) {
    if (err instanceof InvalidQuery) return { ok: false, reason: err.message };
    throw err;
  }
}

export interface Evaluation {
  /** Every reading's outcome; `definite` when they all agree. */
  readings: { choices: Record<string, boolean>; outcome: Outcome }[];
  definite: boolean;
  /** The open points this query touched. */
  points: string[];
}

const sameOutcome = (a: Outcome, b: Outcome) =>
  a.ok === b.ok && (!a.ok || (b.ok && a.ordered === b.ordered && a.ids.join() === b.ids.join()));

/** Evaluates a query under every reading of the open points it touches. */
export function evaluateAll(schema: Schema, data: Dataset, q: Query, now: Date): Evaluation {
  const points = new Set<string>();
  const record = (choices: Record<string, boolean>) => (p: string) => {
    points.add(p);
    return choices[p] ?? false;
  };
  const readings: Evaluation['readings'] = [];
  const tried = new Set<string>();
  const queue: Record<string, boolean>[] = [{}];
  while (queue.length) {
    const choices = queue.shift() as Record<string, boolean>;
    const keyOf = (c: Record<string, boolean>) =>
      [...points]
        .sort()
        .map((p) => `${p}=${c[p] ?? false}`)
        .join(',');
    const outcome = runOnce(schema, data, q, now, record(choices));
    tried.add(keyOf(choices));
    readings.push({ choices, outcome });
    // Enumerate every combination of the points seen so far.
    const ps = [...points].sort();
    if (ps.length > 6) break;
    for (let mask = 0; mask < 1 << ps.length; mask++) {
      const c: Record<string, boolean> = {};
      ps.forEach((p, i) => {
        c[p] = (mask & (1 << i)) !== 0;
      });
      const k = keyOf(c);
      if (!tried.has(k) && !queue.some((x) => keyOf(x) === k)) queue.push(c);
    }
  }
  const first = (readings[0] as (typeof readings)[number]).outcome;
  return {
    readings,
    definite: readings.every((r) => sameOutcome(r.outcome, first)),
    points: [...points].sort(),
  };
}
