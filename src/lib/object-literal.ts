/**
 * A function of `params` that returns one object literal: `entries` are [key, value expression] pairs, the
 * expressions written in terms of `params`. Building an object this way, rather than storing keys one by one
 * by name, keeps V8 off its slowest (megamorphic) property stores where many shapes pass through one place,
 * and gives `JSON.stringify` the objects it serializes fastest (docs/benchmarks.md). Keys go into the code
 * as JSON strings whatever they hold; `__proto__` as a computed key, so it is an own property, never the
 * prototype. The expressions are the caller's own code, never input.
 */
export function literalMaker<F extends (...args: never[]) => Record<string, unknown>>(
  params: readonly string[],
  entries: ReadonlyArray<readonly [key: string, expression: string]>,
): F {
  const body = entries.map(([key, expression]) => `${literalKey(key)}: ${expression}`).join(', ');
  return new Function(...params, `return { ${body} };`) as F;
}

function literalKey(key: string): string {
  return key === '__proto__' ? `[${JSON.stringify(key)}]` : JSON.stringify(key);
}
