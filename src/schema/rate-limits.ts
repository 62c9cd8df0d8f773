import { isIP } from 'node:net';
import { type ErrorData, type FieldError, fieldError } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';

/** One rule of PocketBase's `rateLimits` settings: at most `maxRequests` per `duration` seconds per client IP. */
export interface RateLimitRule {
  /** A tag (`users:create`, `*:auth`), a path (`/api/batch`), a path prefix ending in `/`, or `METHOD /path`. */
  label: string;
  /** `''` everyone, `@guest` guests only, `@auth` signed-in records only. */
  audience: '' | '@guest' | '@auth';
  duration: number;
  maxRequests: number;
}

/** PocketBase's `rateLimits` settings group, same JSON shape. */
export interface RateLimits {
  rules: RateLimitRule[];
  /** IPs and CIDR subnets that are never limited. */
  excludedIPs: string[];
  enabled: boolean;
}

/**
 * PocketBase's default rules. Unlike PocketBase (which ships them disabled), Plinth enables them on a
 * fresh install: rate limits on is one of its secure defaults (docs/compatibility.md).
 */
export function defaultRateLimits(): RateLimits {
  return {
    rules: [
      { label: '*:auth', audience: '', duration: 3, maxRequests: 2 },
      { label: '*:create', audience: '', duration: 5, maxRequests: 20 },
      { label: '/api/batch', audience: '', duration: 1, maxRequests: 3 },
      { label: '/api/', audience: '', duration: 10, maxRequests: 300 },
    ],
    excludedIPs: [],
    enabled: true,
  };
}

const AUDIENCES = ['', '@guest', '@auth'];
/** PocketBase's label grammar: `METHOD /path`, `/path`, `collection:tag`, `*:tag` or a plain tag. */
const LABEL = /^(\w+ \/[\w/-]*|\/[\w/-]*|\w+:\w+|\*:\w+|\w+)$/;
const blank = (): FieldError => fieldError('validation_required', 'Cannot be blank.');

/** The first rule for `labels` (tried in order; exact matches before `/`-prefix rules), as PocketBase picks it. */
export function findRateLimitRule(
  rules: readonly RateLimitRule[],
  labels: readonly string[],
  audiences?: readonly string[],
): RateLimitRule | undefined {
  const fits = (r: RateLimitRule) => !audiences || audiences.includes(r.audience);
  for (const label of labels) {
    for (const rule of rules) if (rule.label === label && fits(rule)) return rule;
    for (const rule of rules) {
      const prefix = rule.label;
      if (!prefix.endsWith('/') || !fits(rule)) continue;
      // `label + '/'` starts with the prefix, without building the string.
      const match =
        label.startsWith(prefix) || (label.length === prefix.length - 1 && prefix.startsWith(label));
      if (match) return rule;
    }
  }
  return undefined;
}

function checkRule(input: unknown): ErrorData | undefined {
  if (!isPlainObject(input)) return { label: fieldError('validation_invalid_value', 'Must be an object.') };
  const errors: ErrorData = {};
  const { label, maxRequests, duration } = input;
  const audience = input.audience ?? '';
  if (label == null || label === '') errors.label = blank();
  else if (typeof label !== 'string' || !LABEL.test(label))
    errors.label = fieldError('validation_match_invalid', 'Must be in a valid format.');
  for (const [key, value] of [
    ['maxRequests', maxRequests],
    ['duration', duration],
  ] as const) {
    if (value == null || value === 0) errors[key] = blank();
    else if (typeof value !== 'number' || !Number.isSafeInteger(value))
      errors[key] = fieldError('validation_invalid_value', 'Must be a whole number.');
    else if (value < 1)
      errors[key] = fieldError('validation_min_greater_equal_than_required', 'Must be no less than 1.', {
        threshold: 1,
      });
  }
  if (!AUDIENCES.includes(audience as string))
    errors.audience = fieldError('validation_in_invalid', 'Must be a valid value.');
  return Object.keys(errors).length ? errors : undefined;
}

/** Validates `rateLimits.rules` with PocketBase's codes: per rule, then no two labels (with audience) may overlap. */
export function checkRateLimitRules(value: unknown): ErrorData | string | undefined {
  if (!Array.isArray(value)) return 'Must be an array.';
  const seen: string[] = [];
  for (const [i, rule] of value.entries()) {
    if (!isPlainObject(rule) || typeof rule.label !== 'string') continue;
    // PocketBase's own check: `label@@audience` keys may not be prefixes of each other.
    const key = `${rule.label}@@${rule.audience ?? ''}`;
    if (seen.some((k) => k.startsWith(key) || key.startsWith(k))) {
      const message = `Rate limit rule configuration with label ${rule.label} already exists or conflicts with another rule.`;
      const label = fieldError('validation_conflicting_rate_limit_rule', message, { label: rule.label });
      return { [i]: { label } };
    }
    seen.push(key);
  }
  const errors: ErrorData = {};
  for (const [i, rule] of value.entries()) {
    const problem = checkRule(rule);
    if (problem) errors[i] = problem;
  }
  return Object.keys(errors).length ? errors : undefined;
}

/** Validates `rateLimits.excludedIPs`: each an IP address or a CIDR subnet. */
export function checkExcludedIps(value: unknown): ErrorData | string | undefined {
  if (!Array.isArray(value)) return 'Must be an array.';
  const errors: ErrorData = {};
  for (const [i, item] of value.entries()) {
    if (item === '' || item === undefined) errors[i] = blank();
    else if (typeof item !== 'string' || !isIpOrSubnet(item))
      errors[i] = fieldError('validation_invlaid_ip_or_subnet', 'Invalid IP or CIDR subnet.');
  }
  return Object.keys(errors).length ? errors : undefined;
}

function isIpOrSubnet(text: string): boolean {
  const [address = '', bits, extra] = text.split('/');
  const family = isIP(address);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * The checks that need the whole group (rules are required when enabled), and the stored shape: each rule
 * keeps only its four keys, so the settings row never grows with whatever else a client sent.
 */
export function finishRateLimits(group: RateLimits): ErrorData | undefined {
  group.rules = group.rules.map(({ label, audience, duration, maxRequests }) => ({
    label,
    audience: audience ?? '',
    duration,
    maxRequests,
  }));
  if (group.enabled && group.rules.length === 0) return { rules: blank() };
  return undefined;
}
