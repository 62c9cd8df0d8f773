import type { ErrorData, FieldError } from '../../errors/index.ts';
import { randomStringMatching } from '../../lib/index.ts';
import { checkNonNegativeInt, checkPattern, checkStringList, compiledPattern } from './options.ts';
import { blank, type FieldDef, type FieldType, hasNul, invalid } from './types.ts';

/** Text longer than this needs an explicit `max`: keeps rows and indexes sane. */
const DEFAULT_TEXT_MAX = 5000;

function asString(value: unknown): { value: unknown } | { error: FieldError } {
  if (value === null || value === undefined) return { value: '' };
  if (typeof value === 'string') return { value };
  if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
  return { error: invalid('Must be a string.') };
}

/** A string value that is stored as sent, so U+0000 is refused (passwords are only ever hashed). */
function asStoredString(value: unknown): { value: unknown } | { error: FieldError } {
  return typeof value === 'string' && value.includes('\u0000') ? { error: hasNul() } : asString(value);
}

const stringBase = {
  column: () => 'text' as const,
  zero: () => '',
  normalize: (_f: FieldDef, v: unknown) => asStoredString(v),
  toDb: (_f: FieldDef, v: unknown) => v,
  fromDb: (_f: FieldDef, raw: unknown) => (raw === null || raw === undefined ? '' : String(raw)),
  isMulti: () => false,
};

function lengthError(field: FieldDef, text: string, fallbackMax: number): FieldError | undefined {
  const len = [...text].length;
  const min = Number(field.min ?? 0);
  const max = Number(field.max ?? 0) || fallbackMax;
  if (min > 0 && len < min) {
    return {
      code: 'validation_min_text_constraint',
      message: `Must be at least ${min} character(s).`,
      params: { min },
    };
  }
  if (len > max) {
    return {
      code: 'validation_max_text_constraint',
      message: `Must be no more than ${max} character(s).`,
      params: { max },
    };
  }
  return undefined;
}

export const textField: FieldType = {
  ...stringBase,
  type: 'text',
  defaults: () => ({ autogeneratePattern: '', max: 0, min: 0, pattern: '', primaryKey: false }),
  checkOptions(field) {
    const errors = checkNonNegativeInt({}, field, 'min');
    checkNonNegativeInt(errors, field, 'max');
    checkPattern(errors, field, 'pattern');
    checkPattern(errors, field, 'autogeneratePattern');
    return errors.autogeneratePattern || errors.pattern ? errors : checkAutogenerate(errors, field);
  },
  validate(field, value) {
    const text = value as string;
    if (text === '') return field.required ? blank() : undefined;
    const err = lengthError(field, text, DEFAULT_TEXT_MAX);
    if (err) return err;
    if (field.pattern && !compiledPattern(String(field.pattern)).test(text)) {
      return { code: 'validation_invalid_format', message: 'Invalid value format.' };
    }
    return undefined;
  },
};

/**
 * An `autogeneratePattern` must generate, and what it generates must pass the field's own checks (length,
 * `pattern`): tried ten times, as PocketBase does, so that a collection is not saved with a pattern whose
 * values every create would then refuse.
 */
function checkAutogenerate(errors: ErrorData, field: FieldDef): ErrorData {
  const pattern = String(field.autogeneratePattern ?? '');
  if (!pattern) return errors;
  for (let n = 0; n < 10; n++) {
    let value: string;
    try {
      value = randomStringMatching(pattern);
    } catch (err) {
      errors.autogeneratePattern = {
        code: 'validation_invalid_autogenerate_pattern',
        message: `Cannot generate values from this pattern: ${(err as Error).message}.`,
      };
      return errors;
    }
    if (textField.validate({ ...field, required: false }, value)) {
      errors.autogeneratePattern = {
        code: 'validation_invalid_autogenerate_pattern_value',
        message: `The pattern could generate values the field refuses, e.g. "${value.slice(0, 40)}".`,
      };
      return errors;
    }
  }
  return errors;
}

export const editorField: FieldType = {
  ...stringBase,
  type: 'editor',
  defaults: () => ({ convertURLs: false, maxSize: 0 }),
  checkOptions: (field) => checkNonNegativeInt({}, field, 'maxSize'),
  validate(field, value) {
    const text = value as string;
    if (text === '') return field.required ? blank() : undefined;
    const max = Number(field.maxSize || 5 * 1024 * 1024);
    if (Buffer.byteLength(text) > max) {
      return {
        code: 'validation_content_size_limit',
        message: `The maximum allowed content size is ${max} bytes.`,
        params: { maxSize: max },
      };
    }
    return undefined;
  },
};

// A pragmatic address check (RFC 5322 in full accepts far more than mail systems deliver).
const EMAIL_RE =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

function domainError(field: FieldDef, domain: string, kind: 'email' | 'url'): FieldError | undefined {
  const only = (field.onlyDomains as string[] | null) ?? [];
  const except = (field.exceptDomains as string[] | null) ?? [];
  const d = domain.toLowerCase();
  if (only.length && !only.some((x) => x.toLowerCase() === d)) {
    return notAllowed(kind);
  }
  if (except.some((x) => x.toLowerCase() === d)) return notAllowed(kind);
  return undefined;
}

/** PocketBase's codes: `validation_email_domain_not_allowed`, `validation_url_domain_not_allowed`. */
const notAllowed = (kind: 'email' | 'url'): FieldError => ({
  code: `validation_${kind}_domain_not_allowed`,
  message: `${kind === 'email' ? 'Email' : 'Url'} domain is not allowed.`,
});

export const emailField: FieldType = {
  ...stringBase,
  type: 'email',
  defaults: () => ({ exceptDomains: null, onlyDomains: null }),
  checkOptions: (field) => checkStringList(checkStringList({}, field, 'exceptDomains'), field, 'onlyDomains'),
  normalize: (_f, v) => {
    const r = asStoredString(v);
    return 'value' in r ? { value: (r.value as string).trim() } : r;
  },
  validate(field, value) {
    const text = value as string;
    if (text === '') return field.required ? blank() : undefined;
    if (text.length > 255 || !EMAIL_RE.test(text))
      return { code: 'validation_is_email', message: 'Must be a valid email address.' };
    return domainError(field, text.slice(text.lastIndexOf('@') + 1), 'email');
  },
};

const invalidUrl = (): FieldError => ({ code: 'validation_invalid_url', message: 'Must be a valid url.' });

export const urlField: FieldType = {
  ...stringBase,
  type: 'url',
  defaults: () => ({ exceptDomains: null, onlyDomains: null }),
  checkOptions: (field) => checkStringList(checkStringList({}, field, 'exceptDomains'), field, 'onlyDomains'),
  validate(field, value) {
    const text = value as string;
    if (text === '') return field.required ? blank() : undefined;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return invalidUrl();
    }
    if (text.length > 2048 || !/^[a-z][a-z0-9+.-]*:$/.test(url.protocol) || !url.hostname) {
      return invalidUrl();
    }
    return domainError(field, url.hostname, 'url');
  },
};

/** Holds an argon2id hash; never serialized. Hashing happens in the records layer (it is async). */
export const passwordField: FieldType = {
  ...stringBase,
  type: 'password',
  normalize: (_f, v) => asString(v),
  defaults: () => ({ cost: 0, max: 0, min: 8, pattern: '' }),
  checkOptions(field) {
    const errors = checkNonNegativeInt({}, field, 'min');
    checkNonNegativeInt(errors, field, 'max');
    checkNonNegativeInt(errors, field, 'cost');
    return checkPattern(errors, field, 'pattern');
  },
  validate(field, value) {
    const text = value as string;
    if (text === '') return field.required ? blank() : undefined;
    // Bounded so that a huge password cannot make hashing expensive.
    const err = lengthError(field, text, Math.min(Number(field.max || 256), 256));
    if (err) return err;
    if (field.pattern && !compiledPattern(String(field.pattern)).test(text)) {
      return { code: 'validation_invalid_format', message: 'Invalid value format.' };
    }
    return undefined;
  },
};
