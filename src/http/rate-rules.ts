import type { RateLimitRule } from '../schema/index.ts';

/**
 * A rule taken apart once, so that a request is matched without building its labels (`GET /path`,
 * `posts:view`): this runs for every request while rate limits are on, which they are by default.
 * Picks the same rule as `findRateLimitRule` (src/schema/rate-limits.ts) would; a property test holds them
 * together.
 */
export interface CompiledRule {
  rule: RateLimitRule;
  /** The counter of the path check, named as PocketBase names it: label and audience. */
  limiter: string;
  /** `METHOD` of a `METHOD /path` label; '' otherwise. */
  method: string;
  /** The path of a path label; '' for tags. */
  path: string;
  /** A path label ending in `/` also covers the paths under it... */
  prefix: boolean;
  /** ...and the path it names without that `/`. */
  head: string;
  /** `name` or `*` of a `name:tag` label, and its tag; '' otherwise. */
  collection: string;
  tag: string;
}

export function compileRules(rules: readonly RateLimitRule[]): CompiledRule[] {
  return rules.map((rule) => {
    const { label } = rule;
    const space = label.indexOf(' ');
    const colon = label.indexOf(':');
    const path = space >= 0 ? label.slice(space + 1) : label.startsWith('/') ? label : '';
    const prefix = path.endsWith('/');
    return {
      rule,
      limiter: rule.label + rule.audience,
      method: space >= 0 ? label.slice(0, space) : '',
      path,
      prefix,
      head: prefix ? path.slice(0, -1) : path,
      collection: colon >= 0 ? label.slice(0, colon) : '',
      tag: colon >= 0 ? label.slice(colon + 1) : '',
    };
  });
}

const fits = (r: CompiledRule, audience: string) => r.rule.audience === '' || r.rule.audience === audience;

/** The path part of `url` (before `length`) is exactly `p`. */
const isPath = (url: string, length: number, p: string) => length === p.length && url.startsWith(p);

/** `path + '/'` starts with the prefix `r.path`: the path is under it, or is it without its final `/`. */
const covers = (url: string, length: number, r: CompiledRule) =>
  (length >= r.path.length && url.startsWith(r.path)) || isPath(url, length, r.head);

/**
 * The rule for the labels `METHOD path` then `path` of `url` (its query string ignored), for a request of
 * `audience` (`@guest` or `@auth`): for each label an exact rule first, then a `/` prefix covering it.
 * Written as plain loops over the rules, with no closure or string built per call.
 */
export function matchPath(
  rules: readonly CompiledRule[],
  method: string,
  url: string,
  audience: string,
): CompiledRule | undefined {
  const q = url.indexOf('?');
  const length = q < 0 ? url.length : q;
  for (const r of rules)
    if (r.method === method && isPath(url, length, r.path) && fits(r, audience)) return r;
  for (const r of rules)
    if (r.prefix && r.method === method && covers(url, length, r) && fits(r, audience)) return r;
  for (const r of rules)
    if (r.method === '' && r.path !== '' && isPath(url, length, r.path) && fits(r, audience)) return r;
  for (const r of rules)
    if (r.prefix && r.method === '' && covers(url, length, r) && fits(r, audience)) return r;
  return undefined;
}

/** The rule for a collection route's tags: `name:tag` labels first, then `*:tag`, each tag in order. */
export function matchTags(
  rules: readonly CompiledRule[],
  name: string,
  tags: readonly string[],
  audience: string,
): CompiledRule | undefined {
  for (const tag of tags)
    for (const r of rules) if (r.collection === name && r.tag === tag && fits(r, audience)) return r;
  for (const tag of tags)
    for (const r of rules) if (r.collection === '*' && r.tag === tag && fits(r, audience)) return r;
  return undefined;
}
