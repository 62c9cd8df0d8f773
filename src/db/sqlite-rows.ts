// Rows as arrays of values under column names given once (what the reader threads send, and what the event
// loop's inline reads ask node:sqlite for), made into objects here.
import { literalMaker } from '../lib/index.ts';

/** One statement's rows as arrays of values, under column names given once. */
export interface RowArrays {
  columns: string[];
  values: unknown[][];
}

/** Rows as objects keyed by column name (a repeated name keeps its last value, as node:sqlite's objects do). */
export function toObjects({ columns, values }: RowArrays): Record<string, unknown>[] {
  const make = rowMaker(columns);
  const rows = new Array<Record<string, unknown>>(values.length);
  for (let r = 0; r < values.length; r++) rows[r] = make(values[r] as unknown[]);
  return rows;
}

type RowMaker = (values: unknown[]) => Record<string, unknown>;

/** Row makers by column list, made once each; a schema change makes new lists, so the map is bounded. */
const makers = new Map<string, RowMaker>();
const MAKERS_LIMIT = 500;

/** A function that makes a row object from its values with one object literal of the column names. */
function rowMaker(columns: readonly string[]): RowMaker {
  const key = columns.join('\u0000');
  let make = makers.get(key);
  if (make) return make;
  make = literalMaker<RowMaker>(
    ['v'],
    columns.map((name, i) => [name, `v[${i}]`]),
  );
  if (makers.size >= MAKERS_LIMIT) makers.clear();
  makers.set(key, make);
  return make;
}
