import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { findRateLimitRule, type RateLimitRule } from '../schema/index.ts';
import { compileRules, matchPath, matchTags } from './rate-rules.ts';

const LABELS = [
  '/',
  '/api',
  '/api/',
  '/api/collections/',
  '/api/collections/posts/records',
  '/api/collections/posts/records/',
  '/api/health',
  'GET /',
  'GET /api/',
  'POST /api/',
  'GET /api/collections/posts/records',
  'POST /api/collections/posts/records/',
  'posts:list',
  'posts:create',
  'users:auth',
  'users:authWithPassword',
  '*:auth',
  '*:create',
  '*:list',
  'tag',
];
const PATHS = [
  '/api/collections/posts/records',
  '/api/collections/posts/records?page=2',
  '/api/collections/posts/records/abc',
  '/api/collections/users/auth-with-password',
  '/api/health',
  '/api',
  '/',
];
const ROUTES: [name: string, tags: string[]][] = [
  ['posts', ['list']],
  ['posts', ['create']],
  ['users', ['authWithPassword', 'auth']],
];

const rules = fc.array(
  fc.record({
    label: fc.constantFrom(...LABELS),
    audience: fc.constantFrom<RateLimitRule['audience']>('', '@guest', '@auth'),
    duration: fc.constant(1),
    maxRequests: fc.constant(1),
  }),
  { maxLength: 8 },
);
const request = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  url: fc.constantFrom(...PATHS),
  audience: fc.constantFrom('@guest', '@auth'),
  route: fc.constantFrom(...ROUTES),
});

describe('compiled rate-limit rules', () => {
  it("pick the rule PocketBase's label matching picks, for paths and for collection tags", () => {
    fc.assert(
      fc.property(rules, request, (list, { method, url, audience, route: [name, tags] }) => {
        const compiled = compileRules(list);
        const path = url.split('?')[0] ?? '';
        const pathLabels = [`${method} ${path}`, path];
        const audiences = ['', audience];
        const byPath = matchPath(compiled, method, url, audience)?.rule;
        assert.equal(byPath, findRateLimitRule(list, pathLabels, audiences));
        const tagLabels = [...tags.map((t) => `${name}:${t}`), ...tags.map((t) => `*:${t}`)];
        const byTags = matchTags(compiled, name, tags, audience)?.rule ?? byPath;
        assert.equal(byTags, findRateLimitRule(list, [...tagLabels, ...pathLabels], audiences));
      }),
      { numRuns: 2000, seed: 11 },
    );
  });
});
