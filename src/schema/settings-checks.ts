import { isIP } from 'node:net';
import { type ErrorData, type FieldError, fieldError } from '../errors/index.ts';

/**
 * Checks for settings values. Two kinds, as PocketBase has them:
 * - shape checks (`Check`): the JSON type and Plinth's size bounds, run on each key a patch sends. PocketBase
 *   refuses a wrong type with an empty 400; Plinth names the key (`validation_invalid_value`).
 * - rules: PocketBase's validation codes and messages (`validation_required`, `validation_is_url`, ...), run
 *   on the merged settings, since "required when enabled" depends on keys the patch may not send. As in
 *   PocketBase's validator, a rule other than "required" passes an empty value (`""`, `0`).
 */
export type Check = (value: unknown) => string | ErrorData | undefined;

export const str =
  (max: number): Check =>
  (v) =>
    typeof v !== 'string' || v.length > max || v.includes('\u0000')
      ? `Must be a string of at most ${max} characters.`
      : undefined;

export const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max
      ? `Must be a whole number between ${min} and ${max}.`
      : undefined;

export const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'Must be true or false.');

export const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `Must be one of ${values.map((x) => x || '""').join(', ')}.`;

/** A list of at most `maxItems` strings, each passing `item`. */
export const strList =
  (maxItems: number, item: Check): Check =>
  (v) => {
    if (!Array.isArray(v) || v.length > maxItems) return `Must be an array of at most ${maxItems} items.`;
    const errors: ErrorData = {};
    for (const [i, x] of v.entries()) {
      const problem = item(x);
      if (typeof problem === 'string') errors[i] = fieldError('validation_invalid_value', problem);
    }
    return Object.keys(errors).length ? errors : undefined;
  };

// PocketBase's rule errors (its validator's codes, messages as its API sends them).
export const required = (): FieldError => fieldError('validation_required', 'Cannot be blank.');
export const lengthOutOfRange = (min: number, max: number): FieldError =>
  min === max
    ? fieldError('validation_length_invalid', `The length must be exactly ${min}.`, { min, max })
    : fieldError('validation_length_out_of_range', `The length must be between ${min} and ${max}.`, {
        min,
        max,
      });
export const minError = (threshold: number): FieldError =>
  fieldError('validation_min_greater_equal_than_required', `Must be no less than ${threshold}.`, {
    threshold,
  });
export const notIn = (): FieldError => fieldError('validation_in_invalid', 'Must be a valid value.');
export const notUrl = (): FieldError => fieldError('validation_is_url', 'Must be a valid URL.');
export const notEmail = (): FieldError => fieldError('validation_is_email', 'Must be a valid email address.');
export const notHost = (): FieldError =>
  fieldError('validation_is_host', 'Must be a valid IP address or DNS name.');
export const notHexColor = (): FieldError =>
  fieldError('validation_is_hex_color', 'Must be a valid hexadecimal color code.');

const LABEL = '[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})';
const DNS_NAME = new RegExp(`^${LABEL}(\\.${LABEL})*[._]?$`);
const DOTTED_NAME = new RegExp(`^${LABEL}(\\.${LABEL})+\\.?$`);

/** An IP address or a DNS name (`smtp.example.com`, `localhost`). */
export function isHost(text: string): boolean {
  return isIP(text) !== 0 || (text.length <= 255 && DNS_NAME.test(text));
}

/**
 * A URL as PocketBase's validator takes it: the scheme may be left out (`example.com` passes, as it does for
 * an S3 endpoint); the host is `localhost`, an IP or a name with a dot; no whitespace.
 */
export function isUrl(text: string): boolean {
  if (text.length < 4 || text.length > 2083 || /\s/.test(text) || text.startsWith('.')) return false;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  if (!/^(https?|wss?|ftp|tcp|udp):\/\//i.test(withScheme)) return false;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return false;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || isIP(host) !== 0 || DOTTED_NAME.test(host);
}

export const isEmail = (text: string): boolean => /^[^\s@]+@[^\s@]+$/.test(text) && text.length <= 254;
export const isHexColor = (text: string): boolean => /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.test(text);
