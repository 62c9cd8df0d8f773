import { randomInt } from 'node:crypto';

// A random string that matches a regular expression: text fields' `autogeneratePattern` (PocketBase's
// behaviour: `[a-z0-9]{15}` gives an id, `user-\d{5}` a username). The pattern is parsed into a small tree
// of the parts that can be generated from; anything else (backreferences, lookarounds, word boundaries)
// is refused with a PatternError, so that a collection cannot be saved with a pattern that cannot generate.

export class PatternError extends Error {}

/** Unbounded repeats (`*`, `+`, `{n,}`) stop at this many more than their minimum, as PocketBase's do. */
const OPEN_REPEAT = 6;
/** A generated value longer than this means a pattern that only looks small (`(a{1000}){1000}`). */
const MAX_LENGTH = 10_000;

/** Inclusive code point ranges. */
type Ranges = [number, number][];

type Node =
  | { kind: 'chars'; ranges: Ranges }
  | { kind: 'literal'; text: string }
  | { kind: 'seq'; parts: Node[] }
  | { kind: 'alt'; options: Node[] }
  | { kind: 'repeat'; node: Node; min: number; max: number };

const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x5f, 0x5f],
  [0x61, 0x7a],
];
const SPACE: Ranges = [[0x20, 0x20]];
/** `.` and the complement of a class draw from printable ASCII. */
const PRINTABLE: Ranges = [[0x21, 0x7e]];
/** `.` as PocketBase draws it: letters and digits. */
const ANY: Ranges = [
  [0x41, 0x5a],
  [0x61, 0x7a],
  [0x30, 0x39],
];

/** A random string that `new RegExp(pattern, 'u')` matches in full. Throws PatternError. */
export function randomStringMatching(pattern: string): string {
  const out: string[] = [];
  let length = 0;
  const write = (node: Node): void => {
    switch (node.kind) {
      case 'literal':
        out.push(node.text);
        length += node.text.length;
        break;
      case 'chars':
        out.push(String.fromCodePoint(pick(node.ranges)));
        length++;
        break;
      case 'seq':
        for (const part of node.parts) write(part);
        break;
      case 'alt':
        write(node.options[randomInt(node.options.length)] as Node);
        break;
      case 'repeat': {
        const n = node.min + randomInt(node.max - node.min + 1);
        for (let i = 0; i < n; i++) write(node.node);
        break;
      }
    }
    if (length > MAX_LENGTH) throw new PatternError(`generates more than ${MAX_LENGTH} characters`);
  };
  write(parsed(pattern));
  return out.join('');
}

/** Parsed patterns: a collection's few patterns are used on every create. */
const cache = new Map<string, Node>();

function parsed(pattern: string): Node {
  let tree = cache.get(pattern);
  if (!tree) {
    tree = parse(pattern);
    if (cache.size >= 1000) cache.clear();
    cache.set(pattern, tree);
  }
  return tree;
}

function pick(ranges: Ranges): number {
  let total = 0;
  for (const [a, b] of ranges) total += b - a + 1;
  let n = randomInt(total);
  for (const [a, b] of ranges) {
    if (n <= b - a) return a + n;
    n -= b - a + 1;
  }
  throw new PatternError('empty character class');
}

/** Parses the generatable subset of JavaScript regular expressions. */
function parse(pattern: string): Node {
  let i = 0;
  const peek = () => pattern[i];
  const fail = (what: string): never => {
    throw new PatternError(`${what} at position ${i}`);
  };

  const alternation = (): Node => {
    const options = [sequence()];
    while (peek() === '|') {
      i++;
      options.push(sequence());
    }
    return options.length === 1 ? (options[0] as Node) : { kind: 'alt', options };
  };

  const sequence = (): Node => {
    const parts: Node[] = [];
    while (i < pattern.length && peek() !== '|' && peek() !== ')') {
      // Anchors at the ends say "the whole value", which a generated value is anyway.
      if (peek() === '^' || peek() === '$') {
        i++;
        continue;
      }
      parts.push(quantified(atom()));
    }
    return parts.length === 1 ? (parts[0] as Node) : { kind: 'seq', parts };
  };

  const atom = (): Node => {
    const c = pattern[i++] as string;
    if (c === '(') {
      if (pattern.startsWith('?:', i)) i += 2;
      else if (peek() === '?') fail('lookarounds and named groups cannot generate');
      const inner = alternation();
      if (pattern[i++] !== ')') fail('unclosed group');
      return inner;
    }
    if (c === '[') return charClass();
    if (c === '.') return { kind: 'chars', ranges: ANY };
    if (c === '\\') return escaped(false) as Node;
    if ('*+?{'.includes(c)) fail('nothing to repeat');
    return { kind: 'literal', text: c };
  };

  /** After a `\`: a class (`\d`) or a literal; inside `[...]` only single characters and classes. */
  const escaped = (inClass: boolean): Node | number => {
    const c = pattern[i++];
    if (c === undefined) return fail('trailing backslash');
    const classes: Record<string, Ranges> = { d: DIGIT, w: WORD, s: SPACE };
    if (classes[c]) return { kind: 'chars', ranges: classes[c] as Ranges };
    if ('DWSbBkpPc123456789'.includes(c)) return fail(`\\${c} cannot generate`);
    const named: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', '0': '\0' };
    if (c === 'u' || c === 'x') {
      const hex = c === 'x' ? pattern.slice(i, i + 2) : pattern.slice(i, i + 4);
      if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== (c === 'x' ? 2 : 4)) fail('bad escape');
      i += hex.length;
      const code = Number.parseInt(hex, 16);
      return inClass ? code : { kind: 'literal', text: String.fromCharCode(code) };
    }
    const text = named[c] ?? c;
    return inClass ? (text.codePointAt(0) as number) : { kind: 'literal', text };
  };

  const charClass = (): Node => {
    const negated = peek() === '^';
    if (negated) i++;
    const ranges: Ranges = [];
    while (i < pattern.length && peek() !== ']') {
      let from: number;
      if (peek() === '\\') {
        i++;
        const e = escaped(true);
        if (typeof e !== 'number') {
          ranges.push(...(e as { ranges: Ranges }).ranges);
          continue;
        }
        from = e;
      } else from = pattern.codePointAt(i++) as number;
      if (peek() === '-' && pattern[i + 1] !== ']' && i + 1 < pattern.length) {
        i++;
        let to: number;
        if (peek() === '\\') {
          i++;
          const e = escaped(true);
          if (typeof e !== 'number') return fail('a class cannot end a range');
          to = e;
        } else to = pattern.codePointAt(i++) as number;
        if (to < from) fail('range out of order');
        ranges.push([from, to]);
      } else ranges.push([from, from]);
    }
    if (pattern[i++] !== ']') fail('unclosed character class');
    if (!negated && ranges.length === 0) fail('empty character class');
    return { kind: 'chars', ranges: negated ? complement(ranges) : ranges };
  };

  const quantified = (node: Node): Node => {
    let q: Node = node;
    for (;;) {
      const c = peek();
      let min: number;
      let max: number;
      if (c === '*' || c === '+' || c === '?') {
        i++;
        min = c === '+' ? 1 : 0;
        max = c === '?' ? 1 : min + OPEN_REPEAT;
      } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(pattern.slice(i))) {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i)) as RegExpExecArray;
        i += m[0].length;
        min = Number(m[1]);
        max = m[2] === undefined ? min : m[3] === '' ? min + OPEN_REPEAT : Number(m[3]);
        if (max < min) fail('repeat range out of order');
      } else return q;
      if (peek() === '?') i++; // lazy: the same strings
      q = { kind: 'repeat', node: q, min, max };
    }
  };

  const tree = alternation();
  if (i < pattern.length) fail('unmatched )');
  return tree;
}

/** The printable ASCII characters not in `ranges`. */
function complement(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = (PRINTABLE[0] as [number, number])[0];
  const end = (PRINTABLE[0] as [number, number])[1];
  for (const [a, b] of [...ranges].sort((x, y) => x[0] - y[0])) {
    if (a > next) out.push([next, Math.min(a - 1, end)]);
    next = Math.max(next, b + 1);
    if (next > end) break;
  }
  if (next <= end) out.push([next, end]);
  if (out.length === 0) throw new PatternError('the class excludes every character');
  return out;
}
