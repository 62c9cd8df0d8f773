import { normalizeDate } from '../lib/index.ts';
import type { CmpOp, Expr, Operand } from './ast.ts';
import { and, type Cond, compareSingle, not, or, toSql } from './compare.ts';
import type { CostGroup } from './cost.ts';
import type { QueryDialect } from './engines.ts';
import { FilterError } from './errors.ts';
import { macroValue } from './macros.ts';
import { clip } from './parse.ts';
import { type ResolveContext, resolvePath, SharedJoins } from './resolve.ts';
import { joinSql, raw, type Sql, sql } from './sql.ts';
import type { Single, Value } from './values.ts';

export interface CompileContext extends ResolveContext {
  /** The instant the datetime macros describe (one per request). */
  readonly now: Date;
  /**
   * Where the compiler records which list steps multiply together (cost.ts), for the planner-side bound
   * on a client's filter; undefined for rules (the developer's, bounded by the time limit only).
   */
  readonly costs?: CostGroup[];
}

/**
 * Sub-queries over lists cost rows × items: a filter may take at most this many multi-valued steps in all,
 * and a comparison with lists on both sides (a cross product) at most `MAX_CROSS_STEPS` between them.
 * Measured on 30 records with 3 parents each: 2+2 steps take milliseconds everywhere, 3+3 over a second
 * on PostgreSQL and 4+4 seconds on MariaDB; single-sided 6-step paths stay under 0.1 s.
 */
export const MAX_LIST_STEPS = 24;
export const MAX_CROSS_STEPS = 4;

/** A filter's syntax tree → a WHERE condition (parameterized SQL that is never NULL). */
export function compileFilter(expr: Expr, ctx: CompileContext): Sql {
  const shared = new SharedJoins();
  const local: CompileContext = { ...ctx, shared };
  const budget = { steps: 0 };
  // Conjuncts that do not touch the shared joins stay outside their EXISTS, where indexes can serve them.
  const plain: Cond[] = [];
  const joined: Cond[] = [];
  for (const part of conjuncts(expr)) {
    const c = compileExpr(part, local, budget);
    (c.shared ? joined : plain).push(c.cond);
  }
  let result = plain.reduce<Cond>((acc, c) => and(acc, c), true);
  // The shared joins all sit in one EXISTS: their rows multiply together.
  ctx.costs?.push(shared.joins.flatMap((j) => (j.stat ? [j.stat] : [])));
  if (joined.length) {
    const where = joined.reduce<Cond>((acc, c) => and(acc, c), true);
    result = and(
      result,
      rows(
        joinSql(
          shared.joins.map((j) => j.join),
          ' ',
        ),
        where,
      ),
    );
  }
  return toSql(result);
}

function conjuncts(expr: Expr): Expr[] {
  return expr.kind === 'and' ? [...conjuncts(expr.left), ...conjuncts(expr.right)] : [expr];
}

/** `EXISTS` over the rows LEFT JOINed from one row (so there is always at least one, maybe all NULL). */
function rows(joins: Sql, where: Cond): Cond {
  if (where === false) return false;
  return sql`EXISTS (SELECT 1 FROM (SELECT 1 AS ${raw('_one')}) ${raw('_o')} ${joins} WHERE ${toSql(where)})`;
}

function compileExpr(
  expr: Expr,
  ctx: CompileContext,
  budget: { steps: number },
): { cond: Cond; shared: boolean } {
  if (expr.kind !== 'cmp') {
    const l = compileExpr(expr.left, ctx, budget);
    const r = compileExpr(expr.right, ctx, budget);
    return {
      cond: expr.kind === 'and' ? and(l.cond, r.cond) : or(l.cond, r.cond),
      shared: l.shared || r.shared,
    };
  }
  const left = operandValue(expr.left, ctx, expr.any);
  const right = operandValue(expr.right, ctx, expr.any);
  const steps = (v: Value) => (v.kind === 'multi' ? v.steps : 0);
  if (left.kind === 'multi' && right.kind === 'multi' && steps(left) + steps(right) > MAX_CROSS_STEPS)
    throw new FilterError(
      `lists on both sides may go through at most ${MAX_CROSS_STEPS} multi-valued relations together`,
      expr.pos,
    );
  budget.steps += steps(left) + steps(right);
  // A comparison's own joins (lists on one or both sides) make one sub-query: their rows multiply.
  const own = (v: Value) => (v.kind === 'multi' ? v.stats : []);
  ctx.costs?.push([...own(left), ...own(right)]);
  if (budget.steps > MAX_LIST_STEPS)
    throw new FilterError(
      `the filter goes through more than ${MAX_LIST_STEPS} multi-valued relations`,
      expr.pos,
    );
  const shared = [left, right].some((v) => v.kind === 'multi' && v.shared);
  return { cond: compareValues(left, expr.op, expr.any, right, ctx.dialect, expr.pos), shared };
}

/**
 * A comparison where either side may be a list of items. With `?`, the items come from the filter's
 * shared joins (the caller wraps the filter in one EXISTS over them): some row must match. Without `?`,
 * every item (every pair) must match: no row of the lists' own joins may fail.
 */
export function compareValues(
  a: Value,
  op: CmpOp,
  any: boolean,
  b: Value,
  d: QueryDialect,
  pos: number,
): Cond {
  if (a.kind !== 'multi' && b.kind !== 'multi') return compareSingle(a, op, b, d, pos);
  const item = (v: Value): Single => (v.kind === 'multi' ? v.item : v);
  const ownJoins = [a, b].flatMap((v) => (v.kind === 'multi' && !v.shared ? v.joins : []));
  const cmp = compareSingle(item(a), op, item(b), d, pos);
  if (any) return ownJoins.length ? rows(joinSql(ownJoins, ' '), cmp) : cmp;
  return not(rows(joinSql(ownJoins, ' '), not(cmp)));
}

/** An operand → a value: literals, macros, functions and paths. */
export function operandValue(op: Operand, ctx: CompileContext, shared = false): Value {
  switch (op.kind) {
    case 'text':
    case 'number':
    case 'bool':
      return { kind: 'lit', value: op.value };
    case 'null':
      return { kind: 'lit', value: null };
    case 'macro': {
      const value = macroValue(op.name, ctx.now);
      if (value === undefined) throw new FilterError(`unknown macro "${clip(op.name)}"`, op.pos);
      return { kind: 'lit', value };
    }
    case 'path':
      return resolvePath(op, ctx, shared);
    case 'call':
      return callValue(op, ctx);
  }
}

function single(op: Operand, ctx: CompileContext): Single {
  const v = operandValue(op, ctx);
  if (v.kind === 'multi')
    throw new FilterError('a function argument must have one value, not a list', op.pos);
  return v;
}

function callValue(call: Extract<Operand, { kind: 'call' }>, ctx: CompileContext): Single {
  if (call.name === 'geoDistance') return geoDistance(call, ctx);
  if (call.name === 'strftime') return strftime(call, ctx);
  throw new FilterError(`unknown function "${clip(call.name)}"`, call.pos);
}

const EARTH_RADIUS_KM = 6371;

function geoDistance(call: Extract<Operand, { kind: 'call' }>, ctx: CompileContext): Single {
  if (call.args.length !== 4)
    throw new FilterError('geoDistance takes 4 arguments (lonA, latA, lonB, latB)', call.pos);
  const args = call.args.map((a) => single(a, ctx));
  const literal = args.map((a) => (a.kind === 'lit' && typeof a.value === 'number' ? a.value : undefined));
  if (literal.every((n) => n !== undefined)) {
    const [lonA, latA, lonB, latB] = literal as number[];
    return { kind: 'lit', value: haversine(lonA as number, latA as number, lonB as number, latB as number) };
  }
  const d = ctx.dialect;
  const nums = args.map((a, i) => {
    if (a.kind === 'lit') {
      if (typeof a.value !== 'number')
        throw new FilterError('geoDistance arguments must be numbers', call.args[i]?.pos);
      return d.number(a.value);
    }
    if (a.kind === 'json') return a.ref.num;
    if (a.type !== 'number')
      throw new FilterError('geoDistance arguments must be numbers', call.args[i]?.pos);
    return a.sql;
  }) as [Sql, Sql, Sql, Sql];
  const [lonA, latA, lonB, latB] = nums;
  const half = (x: Sql, y: Sql) => sql`SIN(RADIANS(${y} - ${x}) / 2)`;
  const h = sql`${half(latA, latB)} * ${half(latA, latB)} + COS(RADIANS(${latA})) * COS(RADIANS(${latB})) * ${half(lonA, lonB)} * ${half(lonA, lonB)}`;
  return {
    kind: 'expr',
    type: 'number',
    // Rounding can push h a hair outside [0, 1], where SQRT or ASIN fail; NULL stays NULL.
    sql: sql`(${raw(String(2 * EARTH_RADIUS_KM))} * ASIN(SQRT(CASE WHEN ${h} > 1 THEN 1 WHEN ${h} < 0 THEN 0 ELSE ${h} END)))`,
    nullable: true,
  };
}

export function haversine(lonA: number, latA: number, lonB: number, latB: number): number {
  const rad = (x: number) => (x * Math.PI) / 180;
  const s1 = Math.sin(rad(latB - latA) / 2);
  const s2 = Math.sin(rad(lonB - lonA) / 2);
  const h = s1 * s1 + Math.cos(rad(latA)) * Math.cos(rad(latB)) * s2 * s2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(Math.max(h, 0), 1)));
}

/** Where each strftime specifier sits in the stored date text `YYYY-MM-DD HH:MM:SS.sssZ`. */
const DATE_PARTS: Record<string, [number, number]> = {
  Y: [1, 4],
  m: [6, 2],
  d: [9, 2],
  H: [12, 2],
  M: [15, 2],
  S: [18, 2],
  f: [18, 6],
};

const MAX_FORMAT_LENGTH = 64;

function strftime(call: Extract<Operand, { kind: 'call' }>, ctx: CompileContext): Single {
  const [formatArg, dateArg, ...extra] = call.args;
  if (!formatArg || !dateArg) throw new FilterError('strftime takes a format and a date', call.pos);
  if (extra.length) throw new FilterError('strftime modifiers are not supported', extra[0]?.pos);
  if (formatArg.kind !== 'text') throw new FilterError('the strftime format must be text', formatArg.pos);
  const pieces: Array<string | [number, number]> = [];
  const format = formatArg.value;
  if (format.length > MAX_FORMAT_LENGTH)
    throw new FilterError(
      `the strftime format is longer than ${MAX_FORMAT_LENGTH} characters`,
      formatArg.pos,
    );
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== '%') {
      pieces.push(c);
      continue;
    }
    const spec = format[++i];
    if (spec === '%') pieces.push('%');
    else if (spec && DATE_PARTS[spec]) pieces.push(DATE_PARTS[spec]);
    else throw new FilterError(`unsupported strftime specifier "%${spec ?? ''}"`, formatArg.pos);
  }
  const date = single(dateArg, ctx);
  if (date.kind === 'lit') {
    const text = typeof date.value === 'string' ? normalizeDate(date.value) : undefined;
    if (text === undefined) return { kind: 'lit', value: null };
    return {
      kind: 'lit',
      value: pieces.map((p) => (typeof p === 'string' ? p : text.slice(p[0] - 1, p[0] - 1 + p[1]))).join(''),
    };
  }
  if (date.kind !== 'expr' || !date.date)
    throw new FilterError('strftime needs a date field or a date', dateArg.pos);
  const d = ctx.dialect;
  // Literal runs become one parameter each; specifiers read the stored text directly.
  const parts: Sql[] = [];
  let run = '';
  for (const p of pieces) {
    if (typeof p === 'string') run += p;
    else {
      if (run) parts.push(d.text(run));
      run = '';
      parts.push(d.substr(date.sql, p[0], p[1]));
    }
  }
  if (run) parts.push(d.text(run));
  return {
    kind: 'expr',
    type: 'text',
    sql: sql`(CASE WHEN COALESCE(${date.sql}, '') = '' THEN NULL ELSE ${d.exact(d.concat(parts))} END)`,
    nullable: true,
  };
}
