import { containsNul } from '../../lib/index.ts';
import { checkNonNegativeInt } from './options.ts';
import { blank, type FieldType, hasNul, invalid } from './types.ts';

const DEFAULT_JSON_MAX = 1024 * 1024;

/** Arbitrary JSON; the only nullable column. */
export const jsonField: FieldType = {
  type: 'json',
  defaults: () => ({ maxSize: 0 }),
  checkOptions: (field) => checkNonNegativeInt({}, field, 'maxSize'),
  column: () => 'json',
  zero: () => null,
  normalize(_f, v) {
    if (v === undefined) return { value: null };
    // PostgreSQL's JSONB refuses \u0000 in strings and keys.
    if (containsNul(v)) return { error: hasNul() };
    // `1e999` parses to Infinity, which JSON.stringify would store as null: refused, not changed.
    if (!allFinite(v)) return { error: invalid('Numbers must be finite.') };
    return { value: v };
  },
  validate(field, value) {
    const isEmpty =
      value === null ||
      value === '' ||
      (Array.isArray(value) && value.length === 0) ||
      (typeof value === 'object' && value !== null && Object.keys(value).length === 0);
    if (isEmpty) return field.required ? blank() : undefined;
    const max = Number(field.maxSize || DEFAULT_JSON_MAX);
    const size = Buffer.byteLength(JSON.stringify(value));
    if (size > max)
      return {
        code: 'validation_json_size_limit',
        message: `The maximum allowed JSON size is ${max} bytes.`,
        params: { maxSize: max },
      };
    return undefined;
  },
  toDb: (_f, v) => (v === null || v === undefined ? null : JSON.stringify(v)),
  fromDb(_f, raw) {
    if (raw === null || raw === undefined) return null;
    if (typeof raw !== 'string') return raw;
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  },
  isMulti: () => false,
};

function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(allFinite);
  if (v && typeof v === 'object') return Object.values(v).every(allFinite);
  return true;
}

/** `{lon, lat}` in degrees. */
export const geoPointField: FieldType = {
  type: 'geoPoint',
  defaults: () => ({}),
  checkOptions: () => ({}),
  column: () => 'jsonObject',
  zero: () => ({ lon: 0, lat: 0 }),
  normalize(_f, v) {
    if (v === null || v === undefined || v === '') return { value: { lon: 0, lat: 0 } };
    let point = v;
    if (typeof v === 'string') {
      try {
        point = JSON.parse(v);
      } catch {
        return { error: invalid('Must be an object with lon and lat.') };
      }
    }
    const p = point as { lon?: unknown; lat?: unknown };
    if (typeof p !== 'object' || p === null || !Number.isFinite(p.lon) || !Number.isFinite(p.lat)) {
      return { error: invalid('Must be an object with lon and lat.') };
    }
    return { value: { lon: p.lon, lat: p.lat } };
  },
  validate(field, value) {
    const { lon, lat } = value as { lon: number; lat: number };
    if (lon === 0 && lat === 0) return field.required ? blank() : undefined;
    if (!(lat >= -90 && lat <= 90))
      return {
        code: 'validation_invalid_latitude',
        message: 'Latitude must be between -90 and 90 degrees.',
      };
    if (!(lon >= -180 && lon <= 180))
      return {
        code: 'validation_invalid_longitude',
        message: 'Longitude must be between -180 and 180 degrees.',
      };
    return undefined;
  },
  toDb: (_f, v) => JSON.stringify(v),
  fromDb(_f, raw) {
    const p =
      typeof raw === 'string'
        ? (JSON.parse(raw) as { lon: number; lat: number })
        : (raw as { lon: number; lat: number });
    return { lon: Number(p?.lon ?? 0), lat: Number(p?.lat ?? 0) };
  },
  isMulti: () => false,
};
