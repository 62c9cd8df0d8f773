import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { literalMaker } from './object-literal.ts';

describe('literalMaker', () => {
  it('makes one object of the keys, in order, with each value its expression gives', () => {
    const make = literalMaker<(a: number[], b: Record<string, number>) => Record<string, unknown>>(
      ['a', 'b'],
      [
        ['first', 'a[0]'],
        ['second', 'b.x + 1'],
      ],
    );
    const out = make([7], { x: 1 });
    assert.deepEqual(Object.keys(out), ['first', 'second']);
    assert.deepEqual(out, { first: 7, second: 2 });
    assert.notEqual(make([7], { x: 1 }), out, 'a new object each call');
  });

  it('takes any key as text: quotes, backslashes, placeholders, other scripts; __proto__ as an own property', () => {
    // '$' '{x}': what a template literal would read as a placeholder.
    const keys = ['a"b', 'c\\d', ['$', '{x}'].join(''), '`', 'é 名', '0', 'constructor', '__proto__'];
    const make = literalMaker<(v: unknown[]) => Record<string, unknown>>(
      ['v'],
      keys.map((key, i) => [key, `v[${i}]`]),
    );
    const out = make(keys.map((_, i) => i));
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out).sort(), [...keys].sort());
    for (const [i, key] of keys.entries())
      assert.equal(Object.getOwnPropertyDescriptor(out, key)?.value, i, key);
  });
});
