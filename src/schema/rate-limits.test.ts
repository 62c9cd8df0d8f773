import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkExcludedIps,
  checkRateLimitRules,
  defaultRateLimits,
  findRateLimitRule,
  finishRateLimits,
  type RateLimitRule,
} from './rate-limits.ts';

const rule = (label: string, audience: RateLimitRule['audience'] = ''): RateLimitRule => ({
  label,
  audience,
  duration: 1,
  maxRequests: 1,
});

describe('rate-limit rule matching', () => {
  const rules = [
    rule('abc'),
    rule('def', '@guest'),
    rule('/test/a', '@guest'),
    rule('POST /test/a'),
    rule('/test/a/', '@auth'),
    rule('POST /test/a/'),
  ];
  const cases: [labels: string[], audiences: string[] | undefined, expected: string | undefined][] = [
    [[], undefined, undefined],
    [['missing'], undefined, undefined],
    [['abc'], undefined, 'abc'],
    [['abc'], ['@guest'], undefined],
    [['def'], ['@guest'], 'def'],
    [['def'], ['@auth'], undefined],
    [['/test'], undefined, undefined],
    [['/test/a'], undefined, '/test/a'],
    // `/test/a` + `/` starts with the prefix rule `/test/a/`.
    [['/test/a'], ['@auth'], '/test/a/'],
    [['/test/a'], ['@guest'], '/test/a'],
    [['GET /test/a'], undefined, undefined],
    [['POST /test/a'], undefined, 'POST /test/a'],
    [['/test/a/b/c'], undefined, '/test/a/'],
    [['/test/a/b/c'], ['@guest'], undefined],
    [['GET /test/a/b/c'], undefined, undefined],
    [['POST /test/a/b/c'], undefined, 'POST /test/a/'],
    [['/test/a', 'abc'], undefined, '/test/a'],
    [['missing', 'abc'], undefined, 'abc'],
  ];
  for (const [labels, audiences, expected] of cases) {
    it(`picks ${expected ?? 'no rule'} for [${labels.join(', ')}] and audiences ${audiences ?? 'any'}`, () => {
      assert.equal(findRateLimitRule(rules, labels, audiences)?.label, expected);
    });
  }

  it('prefers a collection tag over a path prefix, as the label order says', () => {
    const labels = ['users:authWithPassword', 'users:auth', '*:authWithPassword', '*:auth', '/api/x'];
    assert.equal(findRateLimitRule(defaultRateLimits().rules, labels, ['', '@guest'])?.label, '*:auth');
    assert.equal(findRateLimitRule(defaultRateLimits().rules, ['/api/health'], [''])?.label, '/api/');
  });
});

describe('rate-limit settings validation', () => {
  it("ships PocketBase's default rules, enabled", () => {
    const defaults = defaultRateLimits();
    assert.equal(defaults.enabled, true);
    assert.deepEqual(
      defaults.rules.map((r) => `${r.label} ${r.maxRequests}/${r.duration}s`),
      ['*:auth 2/3s', '*:create 20/5s', '/api/batch 3/1s', '/api/ 300/10s'],
    );
    assert.equal(checkRateLimitRules(defaults.rules), undefined);
  });

  it('accepts every label form', () => {
    const labels = ['tag_1', 'users:create', '*:auth', '/', '/api/batch', 'POST /api/collections/'];
    assert.equal(checkRateLimitRules(labels.map((label) => rule(label))), undefined);
  });

  it('names each bad field of each rule with its code', () => {
    const errors = checkRateLimitRules([
      rule('ok'),
      { label: '@abc', maxRequests: -1, duration: 0, audience: 'x' },
      { maxRequests: 1.5, duration: '1' },
    ]) as Record<string, Record<string, { code: string }>>;
    assert.deepEqual(Object.keys(errors), ['1', '2']);
    const codes = (i: string) => Object.fromEntries(Object.entries(errors[i]!).map(([k, v]) => [k, v.code]));
    assert.deepEqual(codes('1'), {
      label: 'validation_match_invalid',
      maxRequests: 'validation_min_greater_equal_than_required',
      duration: 'validation_required',
      audience: 'validation_in_invalid',
    });
    assert.deepEqual(codes('2'), {
      label: 'validation_required',
      maxRequests: 'validation_invalid_value',
      duration: 'validation_invalid_value',
    });
  });

  it('refuses labels that repeat or overlap with the same audience prefix', () => {
    const conflict = (rules: RateLimitRule[]) =>
      JSON.stringify(checkRateLimitRules(rules) ?? {}).includes('validation_conflicting_rate_limit_rule');
    assert.ok(conflict([rule('/api/'), rule('/api/')]));
    // PocketBase compares `label@@audience` keys by prefix, so an any-audience rule blocks a @guest one.
    assert.ok(conflict([rule('/api/'), rule('/api/', '@guest')]));
    assert.ok(!conflict([rule('/api/', '@guest'), rule('/api/', '@auth')]));
    assert.ok(!conflict([rule('/api/'), rule('/api/x')]));
  });

  it('takes IPs and CIDR subnets as exclusions', () => {
    assert.equal(checkExcludedIps(['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/64']), undefined);
    const errors = checkExcludedIps(['', 'nope', '1.2.3.4/33', '1.2.3.4/8/1']) as Record<
      string,
      { code: string }
    >;
    assert.deepEqual(
      Object.values(errors).map((e) => e.code),
      ['validation_required', ...Array(3).fill('validation_invlaid_ip_or_subnet')],
    );
    assert.equal(checkExcludedIps('127.0.0.1'), 'Must be an array.');
  });

  it('requires rules when enabled and keeps only the four keys of each', () => {
    assert.ok(finishRateLimits({ enabled: true, rules: [], excludedIPs: [] })?.rules);
    assert.equal(finishRateLimits({ enabled: false, rules: [], excludedIPs: [] }), undefined);
    const group = {
      enabled: true,
      excludedIPs: [],
      rules: [{ label: '/api/', maxRequests: 1, duration: 1, extra: 'x' } as unknown as RateLimitRule],
    };
    finishRateLimits(group);
    assert.deepEqual(group.rules, [{ label: '/api/', audience: '', duration: 1, maxRequests: 1 }]);
  });
});
