import { badRequest, type ErrorData, type FieldError, fieldError } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';

/**
 * Request bodies of the auth endpoints, read the way PocketBase binds them into its forms: no body (or
 * `null`) is an empty form, so its required fields get their field errors; a body that is not an object,
 * or a field of the wrong JSON type, is a 400 with no field errors ("could not load"), never a 500; every
 * field is then checked and all failures are reported at once.
 */

/** A body that could not be read into the form: PocketBase's answer to broken or mistyped JSON. */
export const unreadable = () => badRequest('An error occurred while loading the submitted data.');

/** The text fields named, from a body; absent and `null` fields are ''. The raw object is kept for extras. */
export function readForm<K extends string>(
  input: unknown,
  keys: readonly K[],
): { values: Record<K, string>; raw: Record<string, unknown> } {
  if (input !== undefined && input !== null && !isPlainObject(input)) throw unreadable();
  const raw = isPlainObject(input) ? input : {};
  const values = {} as Record<K, string>;
  for (const key of keys) {
    const v = Object.hasOwn(raw, key) ? raw[key] : undefined;
    if (v !== undefined && v !== null && typeof v !== 'string') throw unreadable();
    values[key] = typeof v === 'string' ? v : '';
  }
  return { values, raw };
}

/** Collects field errors; `check` throws the 400 if there are any. */
export class FormErrors {
  readonly data: ErrorData = {};

  /** Records the first failing rule of a field (later rules for it are skipped, as PocketBase's are). */
  add(key: string, error: FieldError | undefined): void {
    if (error && !this.data[key]) this.data[key] = error;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.data, key);
  }

  check(message = 'An error occurred while validating the submitted data.'): void {
    if (Object.keys(this.data).length) throw badRequest(message, this.data);
  }
}

export const required = (value: string): FieldError | undefined =>
  value === '' ? fieldError('validation_required', 'Cannot be blank.') : undefined;

/** Length in characters (code points, as PocketBase counts runes); empty values are left to `required`. */
export function length(value: string, min: number, max: number): FieldError | undefined {
  if (value === '') return undefined;
  // Counted by code point, stopping past `max`: a huge hostile string costs no more than a long one.
  let n = 0;
  for (const _ of value) if (++n > max) break;
  if (n >= min && n <= max) return undefined;
  return fieldError('validation_length_out_of_range', `The length must be between ${min} and ${max}.`, {
    min,
    max,
  });
}

/**
 * A plain address: no spaces, one `@`, a dot in the domain, and no control characters (mail libraries
 * drop some, NUL included, so the mail could reach another mailbox).
 */
export function email(value: string): FieldError | undefined {
  if (value === '') return undefined;
  if (/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value) && !/\p{Cc}/u.test(value)) return undefined;
  return fieldError('validation_is_email', 'Must be a valid email address.');
}

/** Required, at most 255 characters, an email address: PocketBase's rules for every `email` it is sent. */
export const emailRules = (value: string): FieldError | undefined =>
  required(value) ?? length(value, 1, 255) ?? email(value);
