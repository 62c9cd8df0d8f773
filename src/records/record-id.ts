import { type ErrorData, fieldError } from '../errors/index.ts';
import { newRecordId, randomStringMatching } from '../lib/index.ts';
import type { Collection } from '../schema/index.ts';

/** Characters and names that are never valid in an id, whatever the id field's pattern says. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what it rejects.
const UNSAFE_ID = /[\s/\\'"`<>:?*%$|\u0000-\u001f\u007f]|^\.{1,2}$/u;
const RESERVED_IDS = /^(con|prn|aux|nul|com\d|lpt\d)$/i;

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
  if (requested.length < min || requested.length > max) {
    errors.id = fieldError(
      'validation_length_out_of_range',
      `Must be between ${min} and ${max} characters.`,
      { min, max },
    );
  } else if (UNSAFE_ID.test(requested) || RESERVED_IDS.test(requested)) {
    errors.id = fieldError('validation_invalid_value', 'Invalid id.');
  } else if (field?.pattern && !new RegExp(String(field.pattern), 'u').test(requested)) {
    errors.id = fieldError('validation_invalid_format', 'Invalid value format.');
  }
  return requested;
}
