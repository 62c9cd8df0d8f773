import { type ErrorData, fieldError } from '../errors/index.ts';
import { newRecordId, randomStringMatching } from '../lib/index.ts';
import type { Collection } from '../schema/index.ts';

/**
 * Characters never valid in an id, whatever the id field's pattern says (ids name files and folders):
 * PocketBase's list, with every other control and white-space character.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it rejects.
const FORBIDDEN_PK = /[\s./\\'"`<>:?*%$|\u0000-\u001f\u007f]/u;
const RESERVED_IDS = /^(con|prn|aux|nul|com[1-9]|lpt[1-9])$/i;

/** The default id field's pattern: `newRecordId` draws the same strings, faster. */
const DEFAULT_ID_PATTERN = '[a-z0-9]{15}';

/** A client-chosen id checked against the id field's options, or a fresh random one. */
export function resolveRecordId(collection: Collection, requested: unknown, errors: ErrorData): string {
  const field = collection.fields.find((f) => f.name === 'id');
  if (requested === undefined || requested === null || requested === '') {
    // The id field's own pattern (checked when the collection was saved), as PocketBase generates ids.
    const pattern = field?.autogeneratePattern;
    return typeof pattern === 'string' && pattern && pattern !== DEFAULT_ID_PATTERN
      ? randomStringMatching(pattern)
      : newRecordId();
  }
  if (typeof requested !== 'string') {
    errors.id = fieldError('validation_invalid_value', 'Must be a string.');
    return '';
  }
  const min = Number(field?.min ?? 0) || 1;
  const max = Math.min(Number(field?.max ?? 0) || 100, 255);
  const length = [...requested].length;
  // PocketBase's checks, in its order: length, pattern, then the characters and names no id may have.
  const forbidden = length >= min && length <= max ? FORBIDDEN_PK.exec(requested)?.[0] : undefined;
  if (length < min) {
    errors.id = fieldError('validation_min_text_constraint', `Must be at least ${min} character(s).`, {
      min,
    });
  } else if (length > max) {
    errors.id = fieldError('validation_max_text_constraint', `Must be no more than ${max} character(s).`, {
      max,
    });
  } else if (field?.pattern && !new RegExp(String(field.pattern), 'u').test(requested)) {
    errors.id = fieldError('validation_invalid_format', 'Invalid value format.');
  } else if (forbidden !== undefined) {
    errors.id = fieldError(
      'validation_forbidden_pk_character',
      `'${forbidden}' is not a valid primary key character.`,
      { ch: forbidden },
    );
  } else if (RESERVED_IDS.test(requested)) {
    errors.id = fieldError(
      'validation_reserved_pk',
      `The primary key '${requested.toUpperCase()}' is reserved and cannot be used.`,
      { reserved: requested.toUpperCase() },
    );
  }
  return requested;
}
