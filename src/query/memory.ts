import type { Expr, Operand } from './ast.ts';
import { likeMatch } from './compare.ts';
import { FilterError } from './errors.ts';
import { macroValue } from './macros.ts';
import { clip, parseFilter } from './parse.ts';

/**
 * How a column of an in-memory row compares: `text` as SQLite's TEXT columns, `bool` as its BOOLEAN
 * columns (stored as 1 and 0, NUMERIC affinity).
 */
export type MemoryColumn = 'text' | 'bool';

type Scalar = string | number | null;
/** A compiled operand: a row's column, or a constant with no affinity (a literal or a macro). */
type Term = { column: string; affinity: MemoryColumn } | { constant: Scalar; real: boolean };

/**
 * Compiles a filter over rows held in memory (the collections list): PocketBase runs such filters as SQL
 * over its `_collections` table with a resolver that knows only a few columns, so this follows SQLite's
 * comparison rules for those columns. Any other name, a modifier, a function or `@request`/`@collection`
 * is a FilterError, as PocketBase's resolver refuses them.
 */
export function compileMemoryFilter(
  filter: string,
  columns: Readonly<Record<string, MemoryColumn>>,
  now: Date = new Date(),
): (row: Readonly<Record<string, unknown>>) => boolean {
  const expr = parseFilter(filter);
  const term = (o: Operand): Term => {
    switch (o.kind) {
      case 'text':
        return { constant: o.value, real: false };
      case 'number':
        return { constant: o.value, real: true };
      case 'bool':
        return { constant: o.value ? 1 : 0, real: false };
      case 'null':
        return { constant: null, real: false };
      case 'macro': {
        const value = macroValue(o.name, now);
        if (value === undefined) throw new FilterError(`unknown macro "${clip(o.name)}"`, o.pos);
        return { constant: value, real: false };
      }
      case 'call':
        throw new FilterError(`function "${clip(o.name)}" cannot be used here`, o.pos);
      case 'path': {
        const name = o.path[0] as string;
        const affinity = o.path.length === 1 && !o.modifier ? columns[name] : undefined;
        if (affinity && Object.hasOwn(columns, name)) return { column: name, affinity };
        // PocketBase reads an unresolved `NULL`, `TRUE` or `FALSE` (any case) as the literal.
        const word = o.path.length === 1 && !o.modifier ? name.toLowerCase() : '';
        if (word === 'null') return { constant: null, real: false };
        if (word === 'true' || word === 'false') return { constant: word === 'true' ? 1 : 0, real: false };
        throw new FilterError(`unknown field "${clip(o.raw)}"`, o.pos);
      }
    }
  };
  const compile = (e: Expr): ((row: Readonly<Record<string, unknown>>) => boolean) => {
    if (e.kind !== 'cmp') {
      const left = compile(e.left);
      const right = compile(e.right);
      return e.kind === 'and' ? (row) => left(row) && right(row) : (row) => left(row) || right(row);
    }
    const left = term(e.left);
    const right = term(e.right);
    const op = e.op;
    return (row) => compareTerms(readTerm(left, row), op, readTerm(right, row));
  };
  return compile(expr);
}

interface Value {
  value: Scalar;
  affinity?: MemoryColumn;
  real?: boolean;
}

function readTerm(t: Term, row: Readonly<Record<string, unknown>>): Value {
  if ('constant' in t) return { value: t.constant, real: t.real };
  const raw = row[t.column];
  if (t.affinity === 'bool') return { value: raw ? 1 : 0, affinity: 'bool' };
  return { value: raw === null || raw === undefined ? null : String(raw), affinity: 'text' };
}

function compareTerms(a: Value, op: string, b: Value): boolean {
  if (op === '=' || op === '!=') {
    // PocketBase compares with an empty operand as `x = '' OR x IS NULL`: null and '' are one value.
    const emptyA = a.value === null || a.value === '';
    const emptyB = b.value === null || b.value === '';
    const equal = emptyA || emptyB ? emptyA && emptyB : order(a, b) === 0;
    return op === '=' ? equal : !equal;
  }
  if (a.value === null || b.value === null) return false;
  if (op === '~' || op === '!~') {
    const matched = likeMatch(asText(a), asText(b));
    return op === '~' ? matched : !matched;
  }
  const c = order(a, b);
  if (op === '<') return c < 0;
  if (op === '<=') return c <= 0;
  if (op === '>') return c > 0;
  return c >= 0;
}

/** SQLite's order of two non-null values, after the affinity of a column side is applied to a constant. */
function order(a: Value, b: Value): number {
  const x = withAffinity(a, b);
  const y = withAffinity(b, a);
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  if (typeof x === 'number') return -1; // numbers sort before text
  if (typeof y === 'number') return 1;
  return Buffer.compare(Buffer.from(String(x)), Buffer.from(String(y)));
}

/** A constant compared with a column takes the column's affinity (SQLite's rule for comparisons). */
function withAffinity(v: Value, other: Value): Scalar {
  const value = v.value;
  if (v.affinity) return value;
  if (other.affinity === 'text' && typeof value === 'number') return numberText(value, v.real === true);
  if (other.affinity === 'bool' && typeof value === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(value))
    return Number(value);
  return value;
}

/** A LIKE operand as text: PocketBase passes a number as its shortest form (`5`, not `5.0`). */
function asText(v: Value): string {
  return String(v.value);
}

/** How SQLite writes a number as text: a filter's numbers are REAL (`5` reads `5.0`). */
function numberText(n: number, real: boolean): string {
  return real && Number.isInteger(n) && Math.abs(n) < 1e15 ? `${n}.0` : String(n);
}
