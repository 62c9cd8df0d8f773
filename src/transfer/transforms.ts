import { TransferError } from './errors.ts';

/** The types `--cast` converts a column's value to before the record is validated. */
export const CAST_TYPES = ['string', 'number', 'bool', 'json'] as const;
export type CastType = (typeof CAST_TYPES)[number];

/**
 * The user's per-column rules for an import, applied in this order: drop (source names), rename,
 * default (target names, when the value is missing or empty), cast (target names).
 */
export interface Transforms {
  drop: Set<string>;
  rename: Map<string, string>;
  defaults: Map<string, string>;
  casts: Map<string, CastType>;
}

/** Reads `--map a:b,c:d`, `--drop a,b`, `--default f=v` and `--cast f:type` (each may repeat). */
export function parseTransforms(opts: {
  map?: string[];
  drop?: string[];
  default?: string[];
  cast?: string[];
}): Transforms {
  const t: Transforms = { drop: new Set(), rename: new Map(), defaults: new Map(), casts: new Map() };
  for (const pair of list(opts.map)) {
    const [from, to, extra] = pair.split(':');
    if (!from || !to || extra !== undefined) throw new TransferError(`--map wants OLD:NEW, got "${pair}"`);
    t.rename.set(from, to);
  }
  for (const name of list(opts.drop)) t.drop.add(name);
  // `--default` takes one pair per flag: a default value may well contain a comma.
  for (const pair of opts.default ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new TransferError(`--default wants FIELD=VALUE, got "${pair}"`);
    t.defaults.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  for (const pair of list(opts.cast)) {
    const [field, type, extra] = pair.split(':');
    if (!field || !CAST_TYPES.includes(type as CastType) || extra !== undefined)
      throw new TransferError(
        `--cast wants FIELD:TYPE with TYPE one of ${CAST_TYPES.join(', ')}, got "${pair}"`,
      );
    t.casts.set(field, type as CastType);
  }
  return t;
}

function list(values: string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

/** Converts one value as `--cast` asks; a value it cannot convert is a message for the field's error. */
export function castValue(value: unknown, type: CastType): { value: unknown } | { error: string } {
  if (type === 'string') {
    if (value === null || value === undefined) return { value: '' };
    return { value: typeof value === 'object' ? JSON.stringify(value) : String(value) };
  }
  if (type === 'json') {
    if (typeof value !== 'string') return { value };
    if (value.trim() === '') return { value: null };
    try {
      return { value: JSON.parse(value) };
    } catch {
      return { error: 'Must be valid JSON.' };
    }
  }
  if (type === 'number') {
    if (typeof value === 'number') return { value };
    const n =
      typeof value === 'string' && value.trim() !== '' ? Number(value) : value === '' ? 0 : Number.NaN;
    return Number.isFinite(n) ? { value: n } : { error: 'Must be a valid number.' };
  }
  if (typeof value === 'boolean') return { value };
  const text = String(value ?? '')
    .trim()
    .toLowerCase();
  if (['true', '1', 'yes', 'y', 't'].includes(text)) return { value: true };
  if (['false', '0', 'no', 'n', 'f', ''].includes(text)) return { value: false };
  return { error: 'Must be a boolean.' };
}
