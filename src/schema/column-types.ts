import { BOUNDED_TEXT_CHARS, type ColumnKind, type ColumnSpec } from '../db/index.ts';
import type { Collection } from './collection.ts';
import { type FieldDef, fieldType } from './fields/index.ts';

/**
 * How many bounded text columns one table gets at most. MySQL's VARCHAR(255) counts 1,022 bytes against
 * its 65,535-byte row limit (LONGTEXT counts 12): 40 of them leave room for the id and every other column
 * InnoDB takes. (InnoDB's own 8 KB in-row check counts a VARCHAR(255) like a LONGTEXT, which may both
 * live off the row: on MariaDB 10.11 a table takes 384 of them, whichever the mix.)
 */
export const MAX_BOUNDED_COLUMNS = 40;

export const kindOf = (f: FieldDef): ColumnKind => (f.name === 'id' ? 'id' : fieldType(f.type).column(f));

const chars = (text: string) => [...text].length;

/**
 * Whether every value a field can hold fits `BOUNDED_TEXT_CHARS`, and the records layer guarantees it:
 * dates (Plinth writes them as `2024-01-02 03:04:05.678Z`, 27 characters at most with a 6-digit year),
 * a single select whose options all fit (the collection checks hold them to 255 already; checked again for
 * definitions that came another way), and a user text field whose `max` does. System text fields are
 * left out: the auth layer writes some of them directly, without the field's checks.
 */
function boundedKind(f: FieldDef): 'date' | 'short' | undefined {
  if (kindOf(f) !== 'text') return undefined;
  if (f.type === 'date' || f.type === 'autodate') return 'date';
  if (f.type === 'select') {
    const values = Array.isArray(f.values) ? f.values : [];
    return values.every((v) => typeof v === 'string' && chars(v) <= BOUNDED_TEXT_CHARS) ? 'short' : undefined;
  }
  const max = Number(f.max ?? 0);
  if (f.type === 'text' && !f.system && max > 0 && max <= BOUNDED_TEXT_CHARS) return 'short';
  return undefined;
}

/**
 * The column of each field of a base or auth collection, by field id. Which text columns are bounded
 * depends on the collection as a whole, so that a table never passes the cap: all of them when they fit,
 * else the dates alone when those fit, else none. It is a function of the definition only, so every
 * node and every sync agrees on it; changing it is a column retype (`planTableSync`).
 */
export function columnSpecs(c: Collection): Map<string, ColumnSpec> {
  const kinds = new Map(c.fields.map((f) => [f.id, boundedKind(f)]));
  const dates = [...kinds.values()].filter((k) => k === 'date').length;
  const all = [...kinds.values()].filter((k) => k !== undefined).length;
  const allowed = (k: 'date' | 'short' | undefined) =>
    k !== undefined && (all <= MAX_BOUNDED_COLUMNS || (k === 'date' && dates <= MAX_BOUNDED_COLUMNS));
  return new Map(
    c.fields.map((f) => {
      const spec: ColumnSpec = { name: f.name, kind: kindOf(f) };
      if (allowed(kinds.get(f.id))) spec.bounded = true;
      return [f.id, spec];
    }),
  );
}

/** Two columns stored alike: the same kind, and the same bound where the engine stores bounds apart. */
export const sameStorage = (a: ColumnSpec, b: ColumnSpec, boundedText: boolean) =>
  a.kind === b.kind && (!boundedText || !!a.bounded === !!b.bounded);
