import type { StatKey } from './cost.ts';
import type { JsonRef } from './engines.ts';
import type { Sql } from './sql.ts';

/** A literal after macros are evaluated: text, number, bool or null. */
export type LiteralValue = string | number | boolean | null;

/**
 * What an operand becomes once resolved: a literal, a typed SQL expression, a JSON value, or (through
 * multi relations, back-relations and `:each`) a list of items found by a correlated sub-query.
 */
export type Single =
  | { kind: 'lit'; value: LiteralValue }
  /** `nullable`: may be SQL NULL (a path through a relation that reaches nothing). `date`: a date field. */
  | { kind: 'expr'; type: 'text' | 'number' | 'bool'; sql: Sql; nullable: boolean; date?: boolean }
  | { kind: 'json'; ref: JsonRef };

/**
 * A list of items (through multi relations, back-relations, `:each`): LEFT JOINs from one row, so that an
 * empty list still has one (null) item. `shared`: the joins live in the filter's shared joins (`?`
 * comparisons on one path prefix see the same rows); otherwise `joins` is this value's own sub-query.
 */
export interface Multi {
  kind: 'multi';
  joins: Sql[];
  /** One item, valid where the joins are. */
  item: Single;
  /** Multi-valued steps on the way (multi relations, back-relations, `:each`): what the cost grows with. */
  steps: number;
  /** What bounds each of this value's own list steps (none when `shared`: those are the filter's). */
  stats: StatKey[];
  shared: boolean;
}

export type Value = Single | Multi;

/** Code-point order (what every engine's exact text order is), not JavaScript's UTF-16 order. */
export function compareText(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** A text literal read as a number (`' 7.5 '` → 7.5), or undefined. */
export function readNumber(text: string): number | undefined {
  if (!/^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** ASCII-only lower case: the folding every engine performs identically. */
export const foldAscii = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());
