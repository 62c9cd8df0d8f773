import type { ErrorData } from '../errors/index.ts';
import type { Collection } from '../schema/index.ts';
import { TransferError } from './errors.ts';
import { castValue, type Transforms } from './transforms.ts';

/** Keys of an exported record that are not fields: read back without complaint and left out. */
const ENVELOPE = new Set(['collectionId', 'collectionName', 'expand']);

/** What the mapper makes of one input record: the body for the records API, or field errors. */
export type MappedRow = { body: Record<string, unknown> } | { errors: ErrorData };

/** Turns input records into request bodies; `check` refuses unknown columns (a CSV header's, up front). */
export interface RowMapper {
  check(columns: readonly string[], line: number): void;
  map(source: Record<string, unknown>, line: number, fromCsv: boolean): MappedRow;
}

/**
 * Turns input records (a CSV header's cells, or JSON objects) into request bodies for `records.create`.
 * Columns the collection does not have are refused (a typo would otherwise drop a column silently, as
 * the API ignores unknown keys); file fields and autodate fields are left out with one note each, since
 * files cannot come with a row and autodates are set by the server.
 */
export function createRowMapper(
  collection: Collection,
  transforms: Transforms,
  note: (message: string) => void,
): RowMapper {
  const fields = new Map(collection.fields.map((f) => [f.name, f]));
  const extras = new Set(collection.type === 'auth' ? ['passwordConfirm'] : []);
  const noted = new Set<string>();
  for (const [flag, names] of [
    ['--default', transforms.defaults.keys()],
    ['--cast', transforms.casts.keys()],
  ] as const)
    for (const name of names)
      if (!fields.has(name) && !extras.has(name))
        throw new TransferError(`${flag} ${name}: ${collection.name} has no field "${name}"`);
  const checked = new Set<string>();
  const target = (key: string, line: number): string | undefined => {
    if (transforms.drop.has(key)) return undefined;
    const name = transforms.rename.get(key) ?? key;
    if (checked.has(key)) return name;
    const field = fields.get(name);
    if (!field && !extras.has(name) && !ENVELOPE.has(name))
      throw new TransferError(
        `column "${key}" is not a field of ${collection.name}; use --drop ${key} or --map ${key}:FIELD`,
        line,
      );
    checked.add(key);
    return name;
  };
  const skip = (name: string): boolean => {
    const field = fields.get(name);
    const why = ENVELOPE.has(name)
      ? ''
      : field?.type === 'file'
        ? 'is a file field: files are not imported, the column is left out'
        : field?.type === 'autodate'
          ? 'is an autodate field: the server sets it at import time, the column is left out'
          : undefined;
    if (why === undefined) return false;
    if (why && !noted.has(name)) {
      noted.add(name);
      note(`note: "${name}" ${why}`);
    }
    return true;
  };

  const check = (columns: readonly string[], line: number) => {
    for (const key of columns) target(key, line);
  };
  const map = (source: Record<string, unknown>, line: number, fromCsv: boolean): MappedRow => {
    const body: Record<string, unknown> = {};
    for (const key of Object.keys(source)) {
      const name = target(key, line);
      if (name === undefined || skip(name)) continue;
      body[name] = source[key];
    }
    const errors: ErrorData = {};
    for (const [name, value] of transforms.defaults)
      if (body[name] === undefined || body[name] === null || body[name] === '') body[name] = value;
    for (const [name, value] of Object.entries(body)) {
      const cast =
        transforms.casts.get(name) ?? (fromCsv && isJsonField(collection, name) ? 'json' : undefined);
      if (!cast) continue;
      const result = castValue(value, cast);
      if ('error' in result) errors[name] = { code: 'validation_invalid_value', message: result.error };
      else body[name] = result.value;
    }
    return Object.keys(errors).length ? { errors } : { body };
  };
  return { check, map };
}

/** A CSV cell of a json field holds JSON text (as export writes it); other fields take text as the API does. */
function isJsonField(collection: Collection, name: string): boolean {
  return collection.fields.some((f) => f.name === name && f.type === 'json');
}

/** A record's value as CSV cell text: lists and JSON as JSON text, null as an empty cell. */
export function cellText(value: unknown, json: boolean): string {
  if (value === null || value === undefined) return '';
  if (json || typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
