// Property-based differential test of the filter and sort language: random records, random filters and
// sorts from a grammar; the server's answer must be the one test/helpers/filter-eval.ts (written from
// docs/query-language.md alone) gives over the same records. Where the document leaves a case open, the
// evaluator tries every reading and the server must pick one of them; the readings the server picked are
// printed as diagnostics.
//
// PLINTH_FC_SEED fixes the seed (fast-check prints the seed of a failure); PLINTH_FC_RUNS is the number of
// queries per dataset (PLINTH_FC_SHARED_RUNS more that focus on `?` comparisons sharing rows) and
// PLINTH_FC_DATASETS the number of datasets per engine.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type Dataset,
  type Evaluation,
  evaluateAll,
  formatDate,
  likeMatch,
  type Outcome,
  type Rec,
  type Schema,
  strftime,
} from './helpers/filter-eval.ts';
import { propertyRuns } from './helpers/runs.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';

const SEED = Number(process.env.PLINTH_FC_SEED ?? 20260504);
const RUNS = propertyRuns('PLINTH_FC_RUNS', 250);
const DATASETS = Number(process.env.PLINTH_FC_DATASETS ?? 3);
/** Queries to leave out (a regular expression over `filter SORT sort`), to look past a known failure. */
const SKIP = process.env.PLINTH_FC_SKIP ? new RegExp(process.env.PLINTH_FC_SKIP) : undefined;
const INVALID_RUNS = Number(process.env.PLINTH_FC_INVALID_RUNS ?? 60);
/** Extra queries per dataset made mostly of `?` comparisons through shared path prefixes. */
const SHARED_RUNS = Number(process.env.PLINTH_FC_SHARED_RUNS ?? 150);

// ------------------------------------------------------------------------------------------------ unit

describe('reference evaluator (hand-written cases from docs/query-language.md)', () => {
  const schema: Schema = {
    orgs: [
      { name: 'name', type: 'text' },
      { name: 'rank', type: 'number' },
    ],
    people: [
      { name: 'name', type: 'text' },
      { name: 'age', type: 'number' },
      { name: 'active', type: 'bool' },
      { name: 'born', type: 'date' },
      { name: 'org', type: 'relation', collection: 'orgs' },
      { name: 'tags', type: 'select', multi: true },
      { name: 'meta', type: 'json' },
      { name: 'friends', type: 'relation', multi: true, collection: 'people' },
    ],
    posts: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'author', type: 'relation', collection: 'people' },
    ],
  };
  const p = (id: string, o: Partial<Rec>): Rec => ({
    id,
    name: '',
    age: 0,
    active: false,
    born: '',
    org: '',
    tags: [],
    meta: null,
    friends: [],
    ...o,
  });
  const data: Dataset = {
    orgs: [
      { id: 'o1', name: 'Acme', rank: 1 },
      { id: 'o2', name: '', rank: 2 },
    ],
    people: [
      p('p1', {
        name: 'Ann',
        age: 30,
        active: true,
        org: 'o1',
        tags: ['a', 'b'],
        meta: { size: 5, ok: true },
      }),
      p('p2', { name: '', age: 0, meta: { size: '5', x: null, s: '' }, friends: ['p1'] }),
      p('p3', {
        name: 'anna%_',
        age: -1.5,
        org: 'o2',
        meta: [1, { a: 'x' }],
        friends: ['p1', 'p2'],
        tags: ['a'],
      }),
      p('p4', { name: '5', age: 5, born: '2024-05-01 10:00:00.000Z', meta: 'str', friends: ['p3'] }),
    ],
    posts: [
      { id: 'q1', title: 'Hello', views: 10, author: 'p1' },
      { id: 'q2', title: 'hello world', views: 0, author: '' },
      { id: 'q3', title: '', views: 5, author: 'p2' },
    ],
  };
  const now = new Date('2026-05-04T12:34:56.789Z');
  const ids = (collection: string, filter: string, sort?: string): string[] | 'refused' | 'open' => {
    const e = evaluateAll(schema, data, { collection, filter, sort }, now);
    if (!e.definite) return 'open';
    const o = e.readings[0]?.outcome;
    if (!o) return 'open';
    return o.ok ? o.ids : 'refused';
  };
  const cases: [string, string, string[] | 'refused' | 'open', string?][] = [
    // precedence and grouping
    ['posts', "views > 100 || title = 'Hello' && views = 10", ['q1']],
    ['posts', "(views > 100 || title = 'Hello') && views = 0", []],
    ['posts', "// comment\n title ~ 'hello'", ['q1', 'q2']],
    // empty-value rule
    ['posts', 'title = null', ['q3']],
    ['posts', 'title = ""', ['q3']],
    ['posts', 'views = null', []],
    ['posts', "views = ''", []],
    ['posts', 'author.age = null', ['q2']],
    ['posts', 'author.name = ""', ['q2', 'q3']],
    ['posts', 'author.name != null', ['q1']],
    ['posts', 'author.active = false', ['q3']],
    // json strict typing
    ['people', 'meta.size = 5', ['p1']],
    ['people', "meta.size = '5'", ['p2']],
    ['people', 'meta.ok = true', ['p1']],
    ['people', 'meta.x = null', ['p1', 'p2', 'p3', 'p4']],
    ['people', "meta.s = ''", ['p2']],
    ['people', 'meta.size > 4', ['p1']],
    ['people', "meta.size > '4'", ['p2']],
    ['people', "meta.1.a = 'x'", ['p3']],
    ['people', 'meta.0 = 1', ['p3']],
    ['people', 'meta != null', ['p1', 'p2', 'p3', 'p4']],
    ['people', "meta ~ 'S'", ['p4']],
    ['people', "meta = 'str'", ['p4']],
    // literal conversion
    ['people', 'name = 5', ['p4']],
    ['people', "age = ' 5 '", ['p4']],
    ['people', "age != 'abc'", ['p1', 'p2', 'p3', 'p4']],
    ['people', "age < 'abc'", []],
    ['people', 'active = 1', ['p1']],
    ['people', "active = '1'", ['p1']],
    ['people', 'age > active', ['p1', 'p4']],
    ['people', 'name = age', 'refused'],
    // `~` on any type reads the value as text (numbers as SQLite spells them, bools 1/0)
    ['people', "age ~ '1'", ['p3']],
    ['people', "age ~ '.5'", ['p3']],
    ['people', "active ~ '1'", ['p1']],
    ['people', "active !~ 'x'", ['p1', 'p2', 'p3', 'p4']],
    ['people', "meta.size ~ '5'", ['p1', 'p2']],
    ['people', "meta.ok ~ '1'", ['p1']],
    ['people', "meta ~ '1'", []],
    ['people', 'name ~ age', ['p4']],
    // like
    ['people', "name ~ 'ANN'", ['p1', 'p3']],
    ['people', "name ~ '%_'", ['p1', 'p3', 'p4']],
    ['people', "name ~ '_'", ['p3']],
    ['people', "name ~ 'ann%'", ['p1', 'p3']],
    ['people', "name ~ 'a__'", []],
    ['people', "name ~ 'a__%'", ['p1', 'p3']],
    ['people', "name !~ 'a'", ['p2', 'p4']],
    ['people', "org.name !~ 'a'", ['p3']],
    ['people', "tags ~ 'b'", ['p1']],
    ['people', 'tags = \'["a","b"]\'', ['p1']],
    // multi-valued
    ['people', "friends.name = 'Ann'", ['p2']],
    ['people', "friends.name ?= 'Ann'", ['p2', 'p3']],
    ['people', 'friends.name = null', ['p1']],
    ['people', "tags:each = 'a'", ['p3']],
    ['people', "tags:each ?= 'b'", ['p1']],
    ['people', 'tags:length = 2', ['p1']],
    ['people', 'friends:length > 1', ['p3']],
    ['people', 'people_via_friends.age ?> 0', ['p3']],
    ['people', 'posts_via_author.views = 10', ['p1']],
    ['people', 'posts_via_author.views = null', ['p3', 'p4']],
    ['orgs', "people_via_org.name ?~ 'ann'", ['o1', 'o2']],
    // a friend without an org is a null item (LEFT JOIN); no friends at all is one null item
    ['people', 'friends.org.name = "Acme"', ['p2']],
    ['people', 'friends.org.name = null', ['p1', 'p4']],
    ['people', 'friends.org.name ?= null', ['p1', 'p3', 'p4']],
    ['people', "friends.org.name ?!= 'Acme'", ['p1', 'p3', 'p4']],
    ['people', 'friends.tags:each ?= null', ['p1', 'p3']],
    // `?` comparisons through the same path prefix look at the same row
    ['people', "tags:each ?= 'a' && tags:each ?= 'b'", []],
    ['people', "tags:each ?= 'a' || tags:each ?= 'b'", ['p1', 'p3']],
    ['people', 'tags:each ?!= tags:each', []],
    ['people', 'friends.name ?!= friends.name', []],
    ['people', 'friends.name ?= friends.name', ['p1', 'p2', 'p3', 'p4']],
    ['people', "friends.name ?= '' && friends.org.name ?= 'Acme'", []],
    ['people', "friends.name ?= 'Ann' && friends.org.name ?= 'Acme'", ['p2', 'p3']],
    ['people', "friends.name ?= '' && friends.age ?= 30", []],
    ['people', "friends.friends.name ?= 'Ann' && friends.name ?= ''", ['p3']],
    ['people', "friends.friends.name ?= 'Ann' && friends.name ?= 'Ann'", []],
    ['people', "(friends.name ?= '' || age = 5) && friends.org.name ?= 'Acme'", []],
    ['people', "friends.name ?= '' && (friends.age ?= 30 || friends.age ?= 0)", ['p3']],
    // without `?` each comparison looks at all the items on its own
    ['people', "friends.name != '' && friends.org.name ?= 'Acme'", ['p2']],
    ['people', "friends.name ?= '' && friends.org.name != 'x'", ['p1', 'p3']],
    // different prefixes are different rows
    ['people', "friends.name ?= 'Ann' && friends:each ?= 'p2'", ['p3']],
    ['people', "tags:each ?= 'a' && friends.tags:each ?= 'b'", ['p3']],
    ['people', "friends.name ?= 'Ann' && people_via_friends.name ?= '5'", ['p3']],
    ['people', "friends.name ?= '' && people_via_friends.name ?= 'anna%_'", ['p1']],
    // on a single-valued operand `?=` is `=`
    ['people', "org.name ?= 'Acme' && org.name ?!= ''", ['p1']],
    // modifiers, macros, functions
    ['people', "name:lower = 'ann'", ['p1']],
    ['people', "org.name:lower = 'acme'", ['p1']],
    ['people', 'born < @todayStart && born != ""', ['p4']],
    ['people', 'age < @year && @month = 5 && @weekday = 1', ['p1', 'p2', 'p3', 'p4']],
    ['people', "strftime('%Y-%m', born) = '2024-05'", ['p4']],
    ['people', "strftime('%d %H:%M:%f %%', born) = '01 10:00:00.000 %'", ['p4']],
    ['people', "strftime('%Y', born) = ''", ['p1', 'p2', 'p3']],
    ['people', "strftime('%Y', born, 'localtime') = ''", 'refused'],
    // literals against literals
    ['posts', "1 = 1 && 'a' != 'b'", ['q1', 'q2', 'q3']],
    ['posts', '2 < 1', []],
    // errors
    ['posts', 'nosuch = 1', 'refused'],
    ['posts', 'title = ', 'refused'],
    ['posts', "(title = 'a'", 'refused'],
    ['posts', 'nofn(1) = 1', 'refused'],
    ['posts', `${'('.repeat(33)}views = 1${')'.repeat(33)}`, 'refused'],
    ['posts', `${'('.repeat(32)}views = 10${')'.repeat(32)}`, ['q1']],
    ['posts', Array(201).fill('views = 1').join(' && '), 'refused'],
  ];
  for (const [collection, filter, expected] of cases) {
    test(`${collection}: ${filter.slice(0, 80)}`, () => {
      assert.deepEqual(ids(collection, filter), expected);
    });
  }
  test('sorting: nulls first ascending, last descending; false before true; code points', () => {
    assert.deepEqual(ids('posts', '', 'author.name,id'), ['q2', 'q3', 'q1']);
    assert.deepEqual(ids('posts', '', '-author.name,id'), ['q1', 'q3', 'q2']);
    assert.deepEqual(ids('people', '', 'active,-age'), ['p4', 'p2', 'p3', 'p1']);
    assert.deepEqual(ids('people', '', 'name'), ['p2', 'p4', 'p1', 'p3']);
    assert.deepEqual(ids('people', '', 'friends.name'), 'refused');
  });
  test('like patterns', () => {
    assert.equal(likeMatch('abc', 'a%'), true);
    assert.equal(likeMatch('ABC', 'a_c'), true);
    assert.equal(likeMatch('É', 'é'), false);
    assert.equal(likeMatch('a%', 'a\\%'), true);
    assert.equal(likeMatch('ab', 'a\\%'), false);
    assert.equal(strftime('%f', '2024-01-02 03:04:05.678Z'), '05.678');
  });
});

// ------------------------------------------------------------------------------------------------ data

interface Names {
  orgs: string;
  people: string;
  posts: string;
}

const TEXT_UNITS = ['a', 'A', 'b', 'B', 'é', 'É', '%', '_', ' ', "'", '"', '\\', '1', '5', '.', '-'];
const textArb = fc.oneof(
  fc.string({ unit: fc.constantFrom(...TEXT_UNITS), maxLength: 4 }),
  fc.constantFrom('', '', 'a', 'A', 'Ann', 'ann', '5', '0.5', '-1.5', '10', 'true', '1e+21', '[]', 'é', 'É'),
);
const NUMBERS = [0, 0, 1, -1, 2, 5, 10, -1.5, 0.5, 0.1, 7.5, 42, 100, 1e21, -3];
const numberArb = fc.constantFrom(...NUMBERS);
const JSON_KEYS = ['a', 'b', 'c', 'n', 'A'];
const jsonArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    fc.constant(null),
    fc.boolean(),
    numberArb,
    textArb,
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...JSON_KEYS), tie('value'), { maxKeys: 3 }),
  ),
})).value;
const metaArb = fc.oneof(
  { weight: 3, arbitrary: fc.record({ a: jsonArb, b: jsonArb, n: numberArb }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.record({ b: fc.record({ c: jsonArb }), n: textArb }, { requiredKeys: [] }) },
  { weight: 2, arbitrary: jsonArb },
);

function dateArb(now: Date): fc.Arbitrary<string> {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  const at = (...a: [number, number, number, number?, number?, number?, number?]) =>
    formatDate(new Date(Date.UTC(...a)));
  return fc.constantFrom(
    '',
    '',
    '2001-02-03 04:05:06.789Z',
    '1999-12-31 23:59:59.999Z',
    '2099-01-01 00:00:00.000Z',
    '2024-05-01 10:00:00.000Z',
    at(y, m, d),
    at(y, m, d, 12),
    at(y, m, d, 23, 59, 59, 999),
    at(y, m, d - 1, 12),
    at(y, m, d + 1, 12),
    at(y, m, 1),
    at(y, 0, 1),
    at(y, 11, 31, 23, 59, 59, 999),
    at(y - 1, 11, 31, 23, 59, 59, 999),
  );
}

interface Generated {
  orgs: { name: string; rank: number; founded: string }[];
  people: {
    name: string;
    age: number;
    active: boolean;
    born: string;
    org: number;
    tags: string[];
    meta: unknown;
    friends: number[];
  }[];
  posts: { title: string; views: number; author: number; published: boolean; labels: string[] }[];
}

function datasetArb(now: Date): fc.Arbitrary<Generated> {
  return fc.record({
    orgs: fc.array(fc.record({ name: textArb, rank: numberArb, founded: dateArb(now) }), {
      minLength: 2,
      maxLength: 4,
    }),
    people: fc.array(
      fc.record({
        name: textArb,
        age: numberArb,
        active: fc.boolean(),
        born: dateArb(now),
        org: fc.integer({ min: -1, max: 3 }),
        tags: fc.shuffledSubarray(['a', 'b', 'c', 'd']),
        meta: metaArb,
        friends: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 5 }),
      }),
      { minLength: 6, maxLength: 12 },
    ),
    posts: fc.array(
      fc.record({
        title: textArb,
        views: numberArb,
        author: fc.integer({ min: -2, max: 11 }),
        published: fc.boolean(),
        labels: fc.shuffledSubarray(['x', 'y', 'z']),
      }),
      { minLength: 6, maxLength: 12 },
    ),
  });
}

// ------------------------------------------------------------------------------------------------ grammar

type Kind = 'text' | 'number' | 'bool' | 'json';
interface Opd {
  src: string;
  kind: Kind;
  multi?: boolean;
  /** A date text (for strftime). */
  date?: boolean;
  /** Can be a sort key. */
  sort?: boolean;
}

function operands(n: Names): Record<string, Opd[]> {
  const T = (src: string, extra: Partial<Opd> = {}): Opd => ({ src, kind: 'text', ...extra });
  const N = (src: string, extra: Partial<Opd> = {}): Opd => ({ src, kind: 'number', ...extra });
  const B = (src: string, extra: Partial<Opd> = {}): Opd => ({ src, kind: 'bool', ...extra });
  const J = (src: string, extra: Partial<Opd> = {}): Opd => ({ src, kind: 'json', ...extra });
  const M = { multi: true };
  const S = { sort: true };
  return {
    [n.orgs]: [
      T('name', S),
      N('rank', S),
      T('id', S),
      T('name:lower', S),
      T('founded', { sort: true, date: true }),
      T(`${n.people}_via_org.born`, { multi: true, date: true }),
      T(`${n.people}_via_org.name`, M),
      N(`${n.people}_via_org.age`, M),
      B(`${n.people}_via_org.active`, M),
      J(`${n.people}_via_org.meta.n`, M),
      T(`${n.people}_via_org.friends.name`, M),
      N(`${n.people}_via_org.${n.posts}_via_author.views`, M),
    ],
    [n.people]: [
      T('name', S),
      T('name:lower', S),
      N('age', S),
      B('active', S),
      T('born', { sort: true, date: true }),
      T('id', S),
      T('org', S),
      T('org.name', S),
      T('org.name:lower', S),
      N('org.rank', S),
      T('org.id', S),
      N('org:length', S),
      T('org:each', S),
      T('friends.friends.org.name', M),
      T('tags'),
      T('tags:each', M),
      N('tags:length', S),
      J('meta'),
      J('meta.a', S),
      J('meta.b', S),
      J('meta.b.c', S),
      J('meta.n', S),
      J('meta.0', S),
      J('meta.1.a', S),
      T('friends'),
      T('friends:each', M),
      N('friends:length', S),
      T('friends.name', M),
      N('friends.age', M),
      B('friends.active', M),
      T('friends.org.name', M),
      J('friends.meta.n', M),
      T('friends.born', { multi: true, date: true }),
      N(`${n.posts}_via_author.views`, M),
      T(`${n.posts}_via_author.title`, M),
      T(`${n.people}_via_friends.name`, M),
    ],
    [n.posts]: [
      T('title', S),
      T('title:lower', S),
      N('views', S),
      B('published', S),
      T('id', S),
      T('author', S),
      T('author.name', S),
      T('author.name:lower', S),
      N('author.age', S),
      B('author.active', S),
      T('author.born', { sort: true, date: true }),
      T('author.org.name', S),
      N('author.org.rank', S),
      J('author.meta.a', S),
      J('author.meta.b.c', S),
      J('author.meta.n', S),
      T('author.friends.name', M),
      T('author.friends.friends.name', M),
      N('author:length', S),
      T('author.tags'),
      T('labels'),
      T('labels:each', M),
      N('labels:length', S),
    ],
  };
}

/** A text literal, quoted with ' or " and `\`-escaping the quote character (no other backslashes). */
function quote(s: string, q: string): string {
  return q + s.split(q).join(`\\${q}`) + q;
}

const LIT_TEXT = [
  '',
  '',
  'a',
  'A',
  'b',
  'é',
  'É',
  '%',
  '_',
  'a%',
  '%a',
  '%a%',
  'a_',
  '_a%',
  '%b_',
  "%'%",
  '"',
  "'",
  ' ',
  '5',
  '0.5',
  '-1.5',
  '1',
  '10',
  'true',
  '[]',
  '["a"]',
  '"a"',
  '"x"',
  'aB',
  'Ann',
  '1e+21',
];
const textLitArb = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(...LIT_TEXT),
      fc.string({ unit: fc.constantFrom(...TEXT_UNITS.filter((u) => u !== '\\')), maxLength: 3 }),
    ),
    fc.constantFrom("'", '"'),
  )
  .map(([s, q]) => quote(s, q));
const NUM_LITS = [
  '0',
  '1',
  '-1',
  '2',
  '5',
  '0.5',
  '-1.5',
  '10',
  '42',
  '7.5',
  '100',
  '1.0',
  '5.50',
  '0.1',
  '-3',
];
const numLitArb = fc.constantFrom(...NUM_LITS);
const boolLitArb = fc.constantFrom('true', 'false');
const numericTextArb = fc
  .tuple(
    fc.constantFrom('42', ' 7.5 ', '-1.5', '0', '5', '1', 'abc', '1a', '', '10', ' 1'),
    fc.constantFrom("'", '"'),
  )
  .map(([s, q]) => quote(s, q));
const TEXT_MACROS = [
  '@now',
  '@yesterday',
  '@tomorrow',
  '@todayStart',
  '@todayEnd',
  '@monthStart',
  '@monthEnd',
  '@yearStart',
  '@yearEnd',
];
const NUM_MACROS = ['@second', '@minute', '@hour', '@weekday', '@day', '@month', '@year'];
const FORMATS = ['%Y', '%Y-%m', '%d', '%H:%M', '%S', '%f', '%%', 'x%Yy', '%Y-%m-%d %H:%M:%S'];

const ORDER_OPS = ['<', '<=', '>', '>='];
const MIRROR: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '=', '!=': '!=' };

/** One comparison; `shared` mostly `?` comparisons through one path prefix. */
function cmpArb(ops: Opd[], now: Date, focus = false): fc.Arbitrary<string> {
  const pick = (pred: (o: Opd) => boolean) => fc.constantFrom(...ops.filter(pred));
  const withAny = (op: fc.Arbitrary<string>) =>
    fc.tuple(op, fc.integer({ min: 0, max: 2 })).map(([o, q]) => (q === 0 ? `?${o}` : o));
  const eqOrd = withAny(fc.constantFrom('=', '!=', ...ORDER_OPS));
  const all = withAny(fc.constantFrom('=', '!=', ...ORDER_OPS, '~', '!~', '~', '!~'));
  const likeOps = withAny(fc.constantFrom('~', '!~'));
  const nullOrEmpty = fc.constantFrom('null', "''", '""');
  const dateLit = dateArb(now).map((d) => quote(d, "'"));

  const text = pick((o) => o.kind === 'text');
  const textCmp = fc.oneof(
    // text against a literal (of any type)
    fc
      .tuple(text, all, fc.oneof({ weight: 6, arbitrary: textLitArb }, numLitArb, boolLitArb, nullOrEmpty))
      .map(([l, op, r]) => `${l.src} ${op} ${r}`),
    // text against text
    fc.tuple(text, all, text).map(([l, op, r]) => `${l.src} ${op} ${r.src}`),
    // dates against macros and date literals
    fc
      .tuple(
        pick((o) => !!o.date),
        all,
        fc.oneof(fc.constantFrom(...TEXT_MACROS), dateLit),
      )
      .map(([l, op, r]) => `${l.src} ${op} ${r}`),
    // strftime
    fc
      .tuple(
        fc.constantFrom(...FORMATS),
        pick((o) => !!o.date && !o.multi),
        eqOrd,
        fc.oneof(
          fc
            .tuple(fc.constantFrom(...FORMATS), dateArb(now))
            .map(([f, d]) => quote(strftime(f, d) ?? '', "'")),
          nullOrEmpty,
        ),
      )
      .map(([f, l, op, r]) => `strftime('${f}', ${l.src}) ${op} ${r}`),
    // a literal on the left
    fc
      .tuple(text, fc.constantFrom('=', '!=', ...ORDER_OPS), fc.oneof(textLitArb, numLitArb, nullOrEmpty))
      .map(([l, op, r]) => `${r} ${MIRROR[op]} ${l.src}`),
  );

  const numeric = pick((o) => o.kind === 'number' || o.kind === 'bool');
  const numCmp = fc.oneof(
    fc
      .tuple(
        numeric,
        eqOrd,
        fc.oneof(
          { weight: 4, arbitrary: numLitArb },
          numericTextArb,
          boolLitArb,
          nullOrEmpty,
          fc.constantFrom(...NUM_MACROS),
        ),
      )
      .map(([l, op, r]) => `${l.src} ${op} ${r}`),
    fc.tuple(numeric, eqOrd, numeric).map(([l, op, r]) => `${l.src} ${op} ${r.src}`),
    // `~` reads numbers and bools as text (PocketBase's dashboard search)
    fc
      .tuple(
        numeric,
        likeOps,
        fc.oneof(
          fc.constantFrom("'1'", "'5'", "'0'", "'.'", "'-'", "'e+'", "'1.0e'", "'%.5'", "''"),
          numLitArb,
          boolLitArb,
          textLitArb,
        ),
      )
      .map(([l, op, r]) => `${l.src} ${op} ${r}`),
    fc.tuple(text, likeOps, numeric).map(([l, op, r]) => `${l.src} ${op} ${r.src}`),
    fc
      .tuple(
        numeric,
        fc.constantFrom('=', '!=', ...ORDER_OPS),
        fc.oneof(numLitArb, numericTextArb, boolLitArb),
      )
      .map(([l, op, r]) => `${r} ${MIRROR[op]} ${l.src}`),
  );

  const json = pick((o) => o.kind === 'json');
  const jsonCmp = fc.oneof(
    fc
      .tuple(
        json,
        eqOrd,
        fc.oneof(
          { weight: 3, arbitrary: textLitArb },
          { weight: 3, arbitrary: numLitArb },
          boolLitArb,
          nullOrEmpty,
        ),
      )
      .map(([l, op, r]) => `${l.src} ${op} ${r}`),
    fc.tuple(json, likeOps, textLitArb).map(([l, op, r]) => `${l.src} ${op} ${r}`),
    fc
      .tuple(
        json,
        eqOrd,
        pick(() => true),
      )
      .map(([l, op, r]) => `${l.src} ${op} ${r.src}`),
    fc.tuple(json, likeOps, text).map(([l, op, r]) => `${l.src} ${op} ${r.src}`),
  );

  const litLit = fc.oneof(
    fc.tuple(numLitArb, eqOrd, numLitArb).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(textLitArb, eqOrd, textLitArb).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(boolLitArb, fc.constantFrom('=', '!='), boolLitArb).map(([a, op, b]) => `${a} ${op} ${b}`),
  );

  // `?` comparisons through a shared path prefix (they look at the same row), and lists of one prefix
  // against each other (`friends.name ?!= friends.name` is false).
  const multi = ops.filter((o) => o.multi);
  const head = (o: Opd) => (o.src.split('.')[0] ?? '').split(':')[0];
  const anyCmp = (o: Opd) => {
    const ops =
      o.kind === 'text'
        ? ['?=', '?!=', '?~', '?~', '?!~', '?<', '?>=']
        : ['?=', '?!=', '?<', '?>', '?<=', '?>=', '?~', '?!~'];
    const lit =
      o.kind === 'text'
        ? fc.oneof(
            { weight: 3, arbitrary: textLitArb },
            fc.constantFrom("'a'", "'A'", "'b'", "'5'", "'1'", "'%a%'", "'Ann'"),
            nullOrEmpty,
            ...(o.date ? [dateLit] : []),
          )
        : o.kind === 'json'
          ? fc.oneof(textLitArb, numLitArb, boolLitArb, nullOrEmpty)
          : fc.oneof({ weight: 3, arbitrary: numLitArb }, boolLitArb, nullOrEmpty);
    return fc.tuple(fc.constantFrom(...ops), lit).map(([op, r]) => `${o.src} ${op} ${r}`);
  };
  const sameHead = fc
    .constantFrom(...multi)
    .chain((a) => fc.tuple(fc.constant(a), fc.constantFrom(...multi.filter((b) => head(b) === head(a)))));
  const shared = fc.oneof(
    {
      weight: 4,
      arbitrary: sameHead
        .chain(([a, b]) => fc.tuple(anyCmp(a), anyCmp(b), fc.constantFrom('&&', '&&', '&&', '||')))
        .map(([x, y, j]) => `(${x} ${j} ${y})`),
    },
    sameHead
      .map(([a, b]) => (a.kind === 'json' || (a.kind === 'text') === (b.kind === 'text') ? [a, b] : [a, a]))
      .chain(([a, b]) =>
        fc
          .constantFrom('?=', '?!=', '?<', '?>=', ...(a?.kind === 'text' && b?.kind === 'text' ? ['?~'] : []))
          .map((op) => `${a?.src} ${op} ${b?.src}`),
      ),
  );

  const any = fc.oneof(
    { weight: 5, arbitrary: textCmp },
    { weight: 4, arbitrary: numCmp },
    { weight: 3, arbitrary: jsonCmp },
    { weight: 1, arbitrary: litLit },
    { weight: multi.length ? 3 : 0, arbitrary: multi.length ? shared : litLit },
  );
  return focus && multi.length ? fc.oneof({ weight: 3, arbitrary: shared }, any) : any;
}

type FExpr = { t: 'cmp'; s: string } | { t: 'and' | 'or'; a: FExpr; b: FExpr; paren: boolean };

function printExpr(e: FExpr, parent?: 'and' | 'or'): string {
  if (e.t === 'cmp') return e.s;
  const inner = `${printExpr(e.a, e.t)} ${e.t === 'and' ? '&&' : '||'} ${printExpr(e.b, e.t)}`;
  const needed = parent === 'and' && e.t === 'or';
  return needed || e.paren ? `(${inner})` : inner;
}

function filterArb(ops: Opd[], now: Date, focus = false): fc.Arbitrary<string> {
  const cmp = cmpArb(ops, now, focus).map((s): FExpr => ({ t: 'cmp', s }));
  const tree = fc.letrec<{ e: FExpr }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', maxDepth: 3, withCrossShrink: true },
      cmp,
      fc
        .tuple(fc.constantFrom<'and' | 'or'>('and', 'or'), tie('e'), tie('e'), fc.boolean())
        .map(([t, a, b, paren]): FExpr => ({ t, a, b, paren })),
    ),
  })).e;
  return fc
    .tuple(tree, fc.constantFrom('', '', '', '', '// a comment\n', '  \n\t'))
    .map(([e, prefix]) => prefix + printExpr(e));
}

function sortArb(ops: Opd[]): fc.Arbitrary<string | undefined> {
  const keys = ops.filter((o) => o.sort).map((o) => o.src);
  const key = fc.tuple(fc.constantFrom(...keys, '@rowid'), fc.boolean()).map(([k, d]) => (d ? `-${k}` : k));
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: fc.array(key, { maxLength: 3 }).map((ks) => [...ks, 'id'].join(',')) },
    { weight: 1, arbitrary: fc.array(key, { maxLength: 2 }).map((ks) => [...ks, '@random'].join(',')) },
  );
}

/** Queries the document says must be refused (400). */
function invalidArb(n: Names): fc.Arbitrary<{ collection: string; filter?: string; sort?: string }> {
  const P = n.people;
  const Q = n.posts;
  const long = (k: number) => Array(k).fill('age = 1').join(' && ');
  const deep = (k: number) => `${'('.repeat(k)}age = 1${')'.repeat(k)}`;
  return fc.oneof(
    fc
      .constantFrom(
        'name = age',
        'name != active',
        'age > name',
        'org.name = org.rank',
        'friends.name ?= friends.age',
        'born < age',
        'nosuch = 1',
        "org.nosuch = 'a'",
        'name = ',
        "(name = 'a'",
        "name = 'a')",
        "name === 'a'",
        "name 'a'",
        "&& name = 'a'",
        "name = 'a' &&",
        "name = 'abc",
        "name = 'a' || || age = 1",
        'nofn(1) = 1',
        "strftime('%Y', born, 'localtime') = '2020'",
        'age = @nosuch',
        'friends.friends.friends.friends.friends.friends.friends.name = 1',
        long(201),
        deep(33),
        `name = '${'x'.repeat(3500)}'`,
      )
      .map((filter) => ({ collection: P, filter })),
    fc
      .constantFrom('title = views', 'author.age = author.name', 'nosuch.x = 1')
      .map((filter) => ({ collection: Q, filter })),
    fc
      .constantFrom(
        'friends.name',
        '-tags:each',
        `${Q}_via_author.views`,
        'nosuch',
        'name,age,active,born,org,id,tags:length,friends:length,name',
      )
      .map((sort) => ({ collection: P, sort })),
  );
}

/** Fixed queries: exactly at the documented limits (to be accepted), and past disagreements. */
function fixedQueries(n: Names): { collection: string; filter?: string; sort?: string }[] {
  const P = n.people;
  return [
    { collection: P, filter: Array(200).fill('age != 1').join(' && ') },
    { collection: P, filter: `${'('.repeat(32)}age > 1${')'.repeat(32)}` },
    { collection: P, filter: `name != '${'x'.repeat(3500 - 10)}'` },
    { collection: P, filter: "friends.friends.friends.friends.friends.org.name ?= ''" },
    { collection: n.posts, filter: "author.friends.friends.friends.friends.org.name != 'a'" },
    { collection: P, sort: 'name,-age,active,born,org,tags:length,friends:length,-id' },
    // Once-found disagreements, kept as fixed cases.
    { collection: n.posts, filter: "strftime('x', author.born) = null" },
    { collection: n.posts, filter: "strftime('%%', author.born) < '2026'" },
    { collection: P, filter: 'meta.0 = null' },
    { collection: P, filter: 'meta.b.0 != null' },
    { collection: P, filter: "tags:length = 1 && tags = 'x'" },
    { collection: P, filter: "friends:length = 0 && friends = ''" },
  ];
}

// ------------------------------------------------------------------------------------------------ server

let srv: TestServer;

before(async () => {
  srv = await startServer();
});

after(async () => {
  await srv?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON.
async function ok(method: string, path: string, body?: unknown): Promise<any> {
  const res = await srv.request(method, path, { body, token: srv.adminToken });
  assert.equal(res.status, 200, `${method} ${path}: ${JSON.stringify(res.body)}`);
  return res.body;
}

async function createSchema(n: Names): Promise<Schema> {
  const orgs = await ok('POST', '/api/collections', {
    name: n.orgs,
    type: 'base',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'rank', type: 'number' },
      { name: 'founded', type: 'date' },
    ],
  });
  const people = await ok('POST', '/api/collections', {
    name: n.people,
    type: 'base',
    fields: [
      { name: 'name', type: 'text' },
      { name: 'age', type: 'number' },
      { name: 'active', type: 'bool' },
      { name: 'born', type: 'date' },
      { name: 'org', type: 'relation', collectionId: orgs.id, maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c', 'd'], maxSelect: 4 },
      { name: 'meta', type: 'json' },
    ],
  });
  await ok('PATCH', `/api/collections/${n.people}`, {
    fields: [...people.fields, { name: 'friends', type: 'relation', collectionId: people.id, maxSelect: 5 }],
  });
  await ok('POST', '/api/collections', {
    name: n.posts,
    type: 'base',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'author', type: 'relation', collectionId: people.id, maxSelect: 1 },
      { name: 'published', type: 'bool' },
      { name: 'labels', type: 'select', values: ['x', 'y', 'z'], maxSelect: 3 },
    ],
  });
  return {
    [n.orgs]: [
      { name: 'name', type: 'text' },
      { name: 'rank', type: 'number' },
      { name: 'founded', type: 'date' },
    ],
    [n.people]: [
      { name: 'name', type: 'text' },
      { name: 'age', type: 'number' },
      { name: 'active', type: 'bool' },
      { name: 'born', type: 'date' },
      { name: 'org', type: 'relation', collection: n.orgs },
      { name: 'tags', type: 'select', multi: true },
      { name: 'meta', type: 'json' },
      { name: 'friends', type: 'relation', multi: true, collection: n.people },
    ],
    [n.posts]: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'author', type: 'relation', collection: n.people },
      { name: 'published', type: 'bool' },
      { name: 'labels', type: 'select', multi: true },
    ],
  };
}

const records = (c: string) => `/api/collections/${c}/records`;

async function insert(n: Names, g: Generated): Promise<Dataset> {
  const orgIds: string[] = [];
  for (const o of g.orgs) orgIds.push((await ok('POST', records(n.orgs), o)).id);
  const peopleIds: string[] = [];
  for (const p of g.people) {
    const { friends: _f, org, ...rest } = p;
    peopleIds.push((await ok('POST', records(n.people), { ...rest, org: orgIds[org] ?? '' })).id);
  }
  for (let i = 0; i < g.people.length; i++) {
    const friends = (g.people[i]?.friends ?? []).map((k) => peopleIds[k]).filter((x) => x !== undefined);
    if (friends.length) await ok('PATCH', `${records(n.people)}/${peopleIds[i]}`, { friends });
  }
  for (const q of g.posts) await ok('POST', records(n.posts), { ...q, author: peopleIds[q.author] ?? '' });
  const data: Dataset = {};
  for (const c of [n.orgs, n.people, n.posts]) {
    data[c] = (await ok('GET', `${records(c)}?perPage=1000&sort=@rowid`)).items;
  }
  return data;
}

// ------------------------------------------------------------------------------------------------ check

interface Stats {
  cases: number;
  definite: number;
  open: number;
  refused: number;
  matches: number;
  /** Per reading of an open point (`point=value`): how many queries refuted it. */
  picked: Map<string, number>;
  /** Answers that kept some records and left out others (not all, not none). */
  partial: number;
}

const sameIds = (a: string[], b: string[], ordered: boolean) =>
  ordered ? a.join() === b.join() : [...a].sort().join() === [...b].sort().join();

function matches(o: Outcome, status: number, ids: string[], total: number): boolean {
  if (!o.ok) return status === 400;
  return status === 200 && total === o.ids.length && sameIds(o.ids, ids, o.ordered);
}

async function runQuery(
  schema: Schema,
  data: Dataset,
  q: { collection: string; filter?: string; sort?: string },
  stats: Stats,
): Promise<void> {
  const params = new URLSearchParams({ perPage: '1000' });
  if (q.filter !== undefined) params.set('filter', q.filter);
  if (q.sort !== undefined) params.set('sort', q.sort);
  const t0 = new Date();
  const res = await srv.request('GET', `${records(q.collection)}?${params}`, { token: srv.adminToken });
  const t1 = new Date();
  stats.cases++;
  assert.ok(res.status < 500, `5xx for ${JSON.stringify(q)}: ${JSON.stringify(res.body)}`);
  const evals: Evaluation[] = [evaluateAll(schema, data, q, t0)];
  if (t1.getTime() !== t0.getTime()) evals.push(evaluateAll(schema, data, q, t1));
  const ids: string[] = res.status === 200 ? res.body.items.map((r: Rec) => r.id) : [];
  const total = res.status === 200 ? res.body.totalItems : -1;
  const readings = evals.flatMap((e) => e.readings);
  const hit = readings.filter((r) => matches(r.outcome, res.status, ids, total));
  const definite = evals.every((e) => e.definite);
  if (definite) stats.definite++;
  else stats.open++;
  if (readings[0]?.outcome.ok === false) stats.refused++;
  if (hit.length === 0) {
    const named = (list: string[]) => list.map((id) => label(data, q.collection, id));
    const expected = readings.map((r) =>
      r.outcome.ok
        ? { choices: r.choices, ids: named(r.outcome.ids), ordered: r.outcome.ordered }
        : r.outcome,
    );
    assert.fail(
      `${TEST_ENGINE}: ${JSON.stringify(q)}\n  server: ${res.status} ${
        res.status === 200 ? `total=${total} ${JSON.stringify(named(ids))}` : JSON.stringify(res.body)
      }\n  reference (${definite ? 'definite' : 'open: any reading'}): ${JSON.stringify(expected)}`,
    );
  }
  stats.matches++;
  if (res.status === 200 && ids.length > 0 && ids.length < (data[q.collection]?.length ?? 0)) stats.partial++;
  if (!definite) {
    // A reading of an open point is refuted by a query when no reading that takes it explains the answer.
    for (const e of evals) {
      for (const p of e.points) {
        for (const v of [false, true]) {
          const k = `${p}=${v}`;
          const takes = (r: { choices: Record<string, boolean> }) => (r.choices[p] ?? false) === v;
          if (!e.readings.some(takes)) continue;
          const fits = hit.some(takes);
          stats.picked.set(k, stats.picked.get(k) ?? 0);
          if (!fits) {
            stats.picked.set(k, (stats.picked.get(k) ?? 0) + 1);
            if (process.env.PLINTH_FC_TRACE === k) console.log(`# refutes ${k}: ${JSON.stringify(q)}`);
          }
        }
      }
    }
  }
}

function label(data: Dataset, collection: string, id: string): string {
  const r = data[collection]?.find((x) => x.id === id);
  if (!r) return id;
  const name = r.name ?? r.title;
  return `${id.slice(0, 4)}(${JSON.stringify(name)})`;
}

// ------------------------------------------------------------------------------------------------ property

describe(`query language matches the reference evaluator on ${TEST_ENGINE}`, () => {
  const stats: Stats = {
    cases: 0,
    definite: 0,
    open: 0,
    refused: 0,
    matches: 0,
    partial: 0,
    picked: new Map(),
  };

  for (let k = 0; k < DATASETS; k++) {
    test(`dataset ${k + 1} of ${DATASETS} (seed ${SEED + k}, ${RUNS}+${SHARED_RUNS} queries)`, async (t) => {
      const now = new Date();
      const n: Names = { orgs: `orgs${k}`, people: `people${k}`, posts: `posts${k}` };
      const schema = await createSchema(n);
      const generated = fc.sample(datasetArb(now), { seed: SEED + k, numRuns: 1 })[0] as Generated;
      const data = await insert(n, generated);
      const ops = operands(n);
      const query = fc.oneof(
        ...[n.orgs, n.people, n.posts].map((collection) =>
          fc
            .tuple(filterArb(ops[collection] ?? [], now), sortArb(ops[collection] ?? []))
            .map(([filter, sort]) => ({ collection, filter, sort })),
        ),
      );
      const focused = fc.oneof(
        ...[n.orgs, n.people, n.posts].map((collection) =>
          filterArb(ops[collection] ?? [], now, true).map((filter) => ({ collection, filter, sort: 'id' })),
        ),
      );
      for (const [arb, numRuns] of [
        [query, RUNS],
        [focused, SHARED_RUNS],
      ] as const) {
        await fc.assert(
          fc.asyncProperty(arb, async (q) => {
            fc.pre(!SKIP?.test(`${q.filter} SORT ${q.sort}`));
            await runQuery(schema, data, q, stats);
          }),
          {
            seed: SEED + k,
            numRuns,
            includeErrorInReport: true,
            endOnFailure: process.env.PLINTH_FC_SHRINK === '0',
          },
        );
      }
      await fc.assert(
        fc.asyncProperty(invalidArb(n), async (q) => {
          const e = evaluateAll(schema, data, q, new Date());
          assert.equal(e.readings[0]?.outcome.ok, false, `reference accepts ${JSON.stringify(q)}`);
          await runQuery(schema, data, q, stats);
        }),
        { seed: SEED + k, numRuns: INVALID_RUNS, includeErrorInReport: true },
      );
      for (const q of fixedQueries(n)) await runQuery(schema, data, q, stats);
      t.diagnostic(
        `${stats.cases} queries so far: ${stats.definite} definite, ${stats.open} open, ${stats.refused} refused, ${stats.partial} kept some records and not others`,
      );
    });
  }

  test('summary', (t) => {
    t.diagnostic(`${TEST_ENGINE}: ${stats.matches}/${stats.cases} queries matched the reference`);
    const picked = [...stats.picked.entries()]
      .sort()
      .map(([k, v]) => `${k}: ${v === 0 ? 'fits' : `refuted x${v}`}`);
    if (picked.length) t.diagnostic(`open points of the document, each reading: ${picked.join('; ')}`);
  });
});
