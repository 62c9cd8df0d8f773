import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PatternError, randomStringMatching } from './pattern-string.ts';

const whole = (pattern: string) => new RegExp(`^(?:${pattern})$`, 'u');

describe('randomStringMatching', () => {
  it('generates strings the pattern matches in full', () => {
    const patterns = [
      '[a-z0-9]{15}',
      '[a-zA-Z0-9]{50}',
      'user-\\d{5}',
      '^[A-Z][a-z]{2,8}$',
      '(red|green|blue)-[0-9a-f]{6}',
      '(?:ab)+c?d*',
      '[^a-z]{4}',
      'x.y',
      '\\w{3}\\s\\d',
      '[\\-_.]{2}[a-c\\d]{3}',
      'a{2,}b{0,3}?',
      '\\u0041\\x42[é-ë]',
      'literal\\.dot\\+plus',
      '[^]{3}',
    ];
    for (const pattern of patterns) {
      for (let n = 0; n < 200; n++) {
        const value = randomStringMatching(pattern);
        assert.match(value, whole(pattern), `${pattern} gave ${JSON.stringify(value)}`);
      }
    }
  });

  it('varies: 15 random characters do not repeat', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => randomStringMatching('[a-z0-9]{15}')));
    assert.equal(seen.size, 1000);
  });

  it('refuses what it cannot generate, and patterns that are not patterns', () => {
    for (const pattern of [
      '(?=a)b',
      '(a)\\1',
      '\\bword',
      '\\D',
      '\\p{L}',
      '(?<name>a)',
      '(a',
      'a)',
      '[a',
      '*a',
      '[z-a]',
      'a{3,1}',
      '\\',
      '[^\\x00-\\x7f]',
      '[]',
    ])
      assert.throws(() => randomStringMatching(pattern), PatternError, pattern);
  });

  it('refuses patterns that would generate huge values', () => {
    assert.throws(() => randomStringMatching('(a{1000}){1000}'), PatternError);
    assert.equal(randomStringMatching('a{10000}').length, 10_000);
  });
});
