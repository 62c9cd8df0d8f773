// Differential "two worlds" leak test (security reference, test class A; goal AC-3). Two servers hold the
// same schema and the same records, with the same ids, timestamps and insertion order; they differ ONLY in
// values a non-superuser may not read:
//
//   1. hidden fields (posts.secret/hnum/hmeta/htags/hrel/hdate, users.pin);
//   2. every field of records the caller may not view (owner rules: notes, comments), plus records that
//      exist in world B only;
//   3. fields reached through a relation into collections the caller may not list (vaults: null rules;
//      lockers: an owner rule whose expression also reads JSON, dates and geo data of the hidden record);
//   4. values only a rule's `@collection` join reaches (secrets, read by the docs rules);
//   5. the private email of another auth record (bob, emailVisibility off).
//
// A guest and a signed-in user (ann) then send the same requests to both worlds: every query feature
// (filter with every operator and modifier, relation and back-relation paths, JSON paths, functions; sort;
// expand; fields; paging; view by id, including of the protected records; malformed input). Each answer's
// status and body must be byte-identical between the worlds. A difference is a leak; the failure message
// shows the request, both answers and the table of world differences.
//
// PLINTH_FC_SEED fixes the seed (fast-check prints the seed and shrunk request of a failure);
// PLINTH_LEAK_RUNS is the number of generated requests.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import PocketBase from 'pocketbase';
import { propertyRuns } from './helpers/runs.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const SEED = Number(process.env.PLINTH_FC_SEED ?? 20260505);
const RUNS = propertyRuns('PLINTH_LEAK_RUNS', 500);

type WorldName = 'A' | 'B';
type Caller = 'guest' | 'ann';
interface World {
  name: WorldName;
  srv: TestServer;
  tokens: Record<Caller, string>;
}
// biome-ignore lint/suspicious/noExplicitAny: record bodies are arbitrary JSON.
type Json = any;

let A: World;
let B: World;

/** A value that differs between the worlds (everything else is the same in both). */
const differ = <T>(a: T, b: T) => ({ __differ: true as const, a, b });
type Differ<T> = ReturnType<typeof differ<T>>;
const isDiffer = (v: unknown): v is Differ<unknown> =>
  typeof v === 'object' && v !== null && (v as { __differ?: boolean }).__differ === true;

// ------------------------------------------------------------------------------------------------ data

const ID = {
  ann: 'usrann000000001',
  bob: 'usrbob000000002',
  cat: 'usrcat000000003',
  v1: 'vault0000000001',
  v2: 'vault0000000002', // world B only
  lAnn: 'lockann00000001',
  lBob: 'lockbob00000002',
  nAnn: 'noteann00000001',
  nBob: 'notebob00000002',
  nBob2: 'notebob00000003', // world B only
  sAnn: 'secrann00000001',
  sBob: 'secrbob00000002',
  sCat: 'secrcat00000003', // world B only
  p1: 'post00000000001',
  p2: 'post00000000002',
  p3: 'post00000000003',
  p4: 'post00000000004',
  cAnn: 'commann00000001',
  cBob: 'commbob00000002',
  cBob2: 'commbob00000003', // world B only
  d1: 'doc000000000001',
  d2: 'doc000000000002',
  d3: 'doc000000000003',
  dAnn: 'draftann0000001',
};

/** The protected values of both worlds; the literal pool of the generated filters uses all of them. */
const SECRET_TEXT = [
  'alpha-secret',
  'omega-hidden',
  'Zed',
  'zed',
  '1111',
  '9999',
  'bob@example.com',
  'robert@elsewhere.test',
  'bob plan',
  'other words',
  'hello',
  'HELLO world',
  'v-1234',
  'v-9876',
  'l-aaa',
  'l-zzz',
  'bob-a',
  'bob-b',
  'cat-b',
  'only in b',
];

const USERS_ID = '_pb_users_auth_';
const COLL = {
  vaults: 'pbcvaults000001',
  lockers: 'pbclockers00001',
  notes: 'pbcnotes0000001',
  secrets: 'pbcsecrets00001',
  posts: 'pbcposts0000001',
  comments: 'pbccomments0001',
  docs: 'pbcdocs00000001',
  drafts: 'pbcdrafts000001',
};

const ownerRule = 'owner = @request.auth.id';
/** The lockers rule also reads the hidden record's JSON, date and text in ways that could fail in SQL. */
const lockerRule =
  "owner = @request.auth.id && (meta.lvl > 0 || meta.lvl = null || meta.name ~ 'x' || geoDistance(meta.lon, meta.lat, 0, 0) >= 0 || strftime('%Y', when) != '1999' || code:lower ~ 'a')";
const docsRule =
  'public = true || (@collection.secrets.user ?= @request.auth.id && @collection.secrets.level ?> 5)';

const rel = (name: string, collectionId: string, maxSelect = 1, extra: object = {}) => ({
  name,
  type: 'relation',
  collectionId,
  maxSelect,
  ...extra,
});

const COLLECTIONS: Json[] = [
  {
    id: COLL.vaults,
    name: 'vaults',
    listRule: null,
    viewRule: null,
    fields: [{ name: 'code', type: 'text' }, { name: 'level', type: 'number' }, rel('owner', USERS_ID)],
  },
  {
    id: COLL.lockers,
    name: 'lockers',
    listRule: lockerRule,
    viewRule: lockerRule,
    fields: [
      { name: 'code', type: 'text' },
      { name: 'level', type: 'number' },
      { name: 'meta', type: 'json' },
      { name: 'when', type: 'date' },
      rel('owner', USERS_ID),
    ],
  },
  {
    id: COLL.notes,
    name: 'notes',
    listRule: ownerRule,
    viewRule: ownerRule,
    fields: [
      { name: 'title', type: 'text' },
      { name: 'num', type: 'number' },
      { name: 'meta', type: 'json' },
      { name: 'tags', type: 'select', maxSelect: 3, values: ['a', 'b', 'c'] },
      rel('owner', USERS_ID),
    ],
  },
  {
    id: COLL.secrets,
    name: 'secrets',
    listRule: null,
    viewRule: null,
    fields: [rel('user', USERS_ID), { name: 'level', type: 'number' }, { name: 'code', type: 'text' }],
  },
  {
    id: COLL.posts,
    name: 'posts',
    listRule: '',
    viewRule: '',
    fields: [
      { name: 'title', type: 'text' },
      { name: 'views', type: 'number' },
      { name: 'flag', type: 'bool' },
      { name: 'meta', type: 'json' },
      { name: 'tags', type: 'select', maxSelect: 3, values: ['a', 'b', 'c'] },
      { name: 'published', type: 'date' },
      rel('author', USERS_ID),
      rel('readers', USERS_ID, 5),
      rel('vault', COLL.vaults),
      rel('locker', COLL.lockers),
      rel('note', COLL.notes),
      { name: 'secret', type: 'text', hidden: true },
      { name: 'hnum', type: 'number', hidden: true },
      { name: 'hmeta', type: 'json', hidden: true },
      { name: 'htags', type: 'select', maxSelect: 3, values: ['a', 'b', 'c'], hidden: true },
      rel('hrel', USERS_ID, 1, { hidden: true }),
      { name: 'hdate', type: 'date', hidden: true },
    ],
  },
  {
    id: COLL.comments,
    name: 'comments',
    listRule: ownerRule,
    viewRule: ownerRule,
    fields: [
      { name: 'text', type: 'text' },
      { name: 'num', type: 'number' },
      rel('owner', USERS_ID),
      rel('post', COLL.posts),
    ],
  },
  {
    id: COLL.docs,
    name: 'docs',
    listRule: docsRule,
    viewRule: docsRule,
    fields: [
      { name: 'title', type: 'text' },
      { name: 'public', type: 'bool' },
      rel('post', COLL.posts),
      rel('secretRef', COLL.secrets),
    ],
  },
  {
    // Writable by its owner, with hidden fields a rule reads through @request.body: a client's write (plain
    // or through a modifier) to a hidden field must neither change it nor make the answer depend on it.
    id: COLL.drafts,
    name: 'drafts',
    listRule: ownerRule,
    viewRule: ownerRule,
    createRule: `${ownerRule} && (@request.body.hscore:isset = false || @request.body.hscore < 100)`,
    updateRule: `${ownerRule} && (@request.body.hscore:isset = false || @request.body.hscore < 100)`,
    fields: [
      { name: 'title', type: 'text' },
      rel('owner', USERS_ID),
      { name: 'hscore', type: 'number', hidden: true },
      { name: 'htags', type: 'select', maxSelect: 3, values: ['a', 'b', 'c'], hidden: true },
    ],
  },
];

const AUTODATES = [
  { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
  { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
];

const PASSWORD = 'pass-word-1';
type Row = [collection: string, body: Record<string, unknown>, onlyIn?: WorldName];

/** Records in insertion order; `differ(a, b)` marks a protected value, `onlyIn` a record of one world. */
const ROWS: Row[] = [
  ['users', { id: ID.ann, email: 'ann@example.com', name: 'Ann', pin: '0000', emailVisibility: false }],
  [
    'users',
    {
      id: ID.bob,
      email: differ('bob@example.com', 'robert@elsewhere.test'),
      name: 'Bob',
      pin: differ('1111', '9999'),
      emailVisibility: false,
    },
  ],
  ['users', { id: ID.cat, email: 'cat@example.com', name: 'Cat', pin: '2222', emailVisibility: true }],
  ['vaults', { id: ID.v1, code: differ('v-1234', 'v-9876'), level: differ(1, 9), owner: ID.bob }],
  [
    'lockers',
    {
      id: ID.lAnn,
      code: 'l-ann',
      level: 3,
      meta: { lvl: 1, name: 'x', lon: 1, lat: 1 },
      when: '2024-01-01 00:00:00.000Z',
      owner: ID.ann,
    },
  ],
  [
    'lockers',
    {
      id: ID.lBob,
      code: differ('l-aaa', 'l-zzz'),
      level: differ(1, 1e300),
      meta: differ(
        { lvl: 2, name: 'x', lon: 10, lat: 20 },
        { lvl: 'high', name: 5, lon: 'far', lat: [1], deep: { a: null } },
      ),
      when: differ('2024-05-01 10:00:00.000Z', ''),
      owner: ID.bob,
    },
  ],
  ['notes', { id: ID.nAnn, title: 'ann plan', num: 5, meta: { k: 1 }, tags: ['a'], owner: ID.ann }],
  [
    'notes',
    {
      id: ID.nBob,
      title: differ('bob plan', 'other words'),
      num: differ(1, 99),
      meta: differ({ k: 1 }, { k: 'one', arr: [1, 2] }),
      tags: differ(['a'], ['b', 'c']),
      owner: differ(ID.bob, ID.cat),
    },
  ],
  ['secrets', { id: ID.sAnn, user: ID.ann, level: 9, code: 'ann-code' }],
  ['secrets', { id: ID.sBob, user: ID.bob, level: differ(2, 8), code: differ('bob-a', 'bob-b') }],
  [
    'posts',
    {
      id: ID.p1,
      title: 'First post',
      views: 10,
      flag: true,
      meta: { k: 1, arr: [1, 'two'], s: 'x' },
      tags: ['a', 'b'],
      published: '2024-03-01 12:00:00.000Z',
      author: ID.ann,
      readers: [ID.bob, ID.cat],
      vault: ID.v1,
      locker: ID.lBob,
      note: ID.nBob,
      secret: differ('alpha-secret', 'omega-hidden'),
      hnum: differ(5, 500),
      hmeta: differ({ k: 1, s: 'x' }, { k: 'one', arr: [1, 2] }),
      htags: differ(['a'], ['b', 'c']),
      hrel: differ('', ID.bob),
      hdate: differ('2020-01-01 00:00:00.000Z', '2030-06-15 08:30:00.000Z'),
    },
  ],
  [
    'posts',
    {
      id: ID.p2,
      title: 'second',
      views: 0,
      flag: false,
      meta: null,
      tags: [],
      author: ID.bob,
      readers: [ID.ann],
      locker: ID.lAnn,
      note: ID.nAnn,
      secret: differ('', 'Zed'),
      hnum: differ(0, -1),
      hrel: ID.ann,
      hdate: differ('', '2024-01-01 00:00:00.000Z'),
    },
  ],
  [
    'posts',
    {
      id: ID.p3,
      title: 'Third',
      views: 7,
      meta: 'text',
      tags: ['c'],
      author: ID.cat,
      readers: [ID.bob],
      secret: 'same',
      hnum: 1,
    },
  ],
  ['posts', { id: ID.p4, title: '', views: -3, meta: [1, 2], secret: differ('zed', 'Zed') }],
  ['comments', { id: ID.cAnn, text: 'mine', num: 1, owner: ID.ann, post: ID.p1 }],
  [
    'comments',
    {
      id: ID.cBob,
      text: differ('hello', 'HELLO world'),
      num: differ(2, 3),
      owner: ID.bob,
      post: differ(ID.p1, ID.p2),
    },
  ],
  ['docs', { id: ID.d1, title: 'open doc', public: true, post: ID.p1, secretRef: ID.sBob }],
  ['docs', { id: ID.d2, title: 'ann doc', public: false, post: ID.p2, secretRef: ID.sAnn }],
  ['docs', { id: ID.d3, title: 'closed doc', public: false, post: ID.p3, secretRef: ID.sBob }],
  [
    'drafts',
    { id: ID.dAnn, title: 'mine', owner: ID.ann, hscore: differ(5, 500), htags: differ(['a'], ['b', 'c']) },
  ],
  // Records only world B has (the caller can see none of them).
  ['vaults', { id: ID.v2, code: 'only in b', level: 5, owner: ID.ann }, 'B'],
  ['notes', { id: ID.nBob2, title: 'only in b', num: 7, owner: ID.bob }, 'B'],
  ['secrets', { id: ID.sCat, user: ID.cat, level: 9, code: 'cat-b' }, 'B'],
  ['comments', { id: ID.cBob2, text: 'only in b', owner: ID.bob, post: ID.p3 }, 'B'],
];

/** The table of differences, for failure messages. */
function differences(): string {
  const lines: string[] = [];
  for (const [collection, body, onlyIn] of ROWS) {
    if (onlyIn) lines.push(`  ${collection}/${body.id}: exists in world ${onlyIn} only`);
    for (const [k, v] of Object.entries(body))
      if (isDiffer(v))
        lines.push(`  ${collection}/${body.id}.${k}: A=${JSON.stringify(v.a)} B=${JSON.stringify(v.b)}`);
  }
  return lines.join('\n');
}

function valuesFor(world: WorldName, body: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(body).map(([k, v]) => [k, isDiffer(v) ? (world === 'A' ? v.a : v.b) : v]),
  );
}

async function buildWorld(name: WorldName, srv: TestServer): Promise<World> {
  const pb = srv.admin;
  // Users are listable and viewable by everyone, so that filters may reach their (private) emails.
  const users = await pb.collections.getOne('users');
  await pb.collections.update('users', {
    listRule: '',
    viewRule: '',
    fields: [...users.fields, { name: 'pin', type: 'text', hidden: true }],
  });
  for (const c of COLLECTIONS)
    await pb.collections.create({ type: 'base', ...c, fields: [...c.fields, ...AUTODATES] });
  for (const [collection, body, onlyIn] of ROWS) {
    if (onlyIn && onlyIn !== name) continue;
    const values = valuesFor(name, body);
    if (collection === 'users') Object.assign(values, { password: PASSWORD, passwordConfirm: PASSWORD });
    await pb.collection(collection).create(values);
  }
  // Same timestamps in both worlds (one second apart, in insertion order), written straight to the tables.
  const db = srv.app.db;
  const q = db.dialect.quote;
  let second = 0;
  for (const [collection, body, onlyIn] of ROWS) {
    if (onlyIn && onlyIn !== name) continue;
    const stamp = new Date(Date.UTC(2024, 0, 1, 0, 0, ++second)).toISOString().replace('T', ' ');
    await db.run(
      db.kysely,
      `UPDATE ${q(collection)} SET ${q('created')} = ?, ${q('updated')} = ? WHERE ${q('id')} = ?`,
      [stamp, stamp, body.id],
    );
  }
  const ann = new PocketBase(srv.url);
  await ann.collection('users').authWithPassword('ann@example.com', PASSWORD);
  return { name, srv, tokens: { guest: '', ann: ann.authStore.token } };
}

const servers: TestServer[] = [];
/** Per collection, the paths a signed-in non-superuser may filter on (checked against world A). */
const OPEN_PATHS = new Map<string, string[]>();

before(async () => {
  servers.push(await startServer(), await startServer());
  [A, B] = await Promise.all([
    buildWorld('A', servers[0] as TestServer),
    buildWorld('B', servers[1] as TestServer),
  ]);
  for (const [collection, paths] of Object.entries(PATHS)) {
    const open: string[] = [];
    for (const path of paths) {
      const res = await ask(A, { caller: 'ann', path: records(collection, { filter: `${path} != 'x'` }) });
      if (res.status === 200) open.push(path);
    }
    OPEN_PATHS.set(collection, open);
  }
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

// ------------------------------------------------------------------------------------------------ compare

interface Req {
  caller: Caller;
  method?: string;
  path: string;
  body?: unknown;
}

interface Answer {
  status: number;
  text: string;
}

async function ask(world: World, req: Req): Promise<Answer> {
  const res = await world.srv.request(req.method ?? 'GET', req.path, {
    token: world.tokens[req.caller] || undefined,
    body: req.body,
  });
  return { status: res.status, text: typeof res.body === 'string' ? res.body : JSON.stringify(res.body) };
}

let sent = 0;
const statuses = new Map<number, number>();

/** The leak report for a request answered differently by the worlds, or undefined when they agree. */
async function leak(req: Req): Promise<string | undefined> {
  const [a, b] = await Promise.all([ask(A, req), ask(B, req)]);
  sent++;
  statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  // A server error is a failure in its own right (an unbounded expand ended as a 500), leak or not.
  if (a.status >= 500 || b.status >= 500)
    return `SERVER ERROR: ${req.caller} ${req.method ?? 'GET'} ${decodeURIComponent(req.path)}: A ${a.status}, B ${b.status} ${a.text.slice(0, 300)}`;
  if (a.status === b.status && a.text === b.text) return undefined;
  // Both answers from a little before the first character where they differ.
  let at = 0;
  while (at < a.text.length && a.text[at] === b.text[at]) at++;
  const from = Math.max(0, at - 300);
  const show = (t: string) =>
    `${from ? '…' : ''}${t.slice(from, from + 1200)}${t.length > from + 1200 ? '…' : ''}`;
  return [
    `LEAK: ${req.caller} ${req.method ?? 'GET'} ${decodeURIComponent(req.path)}${req.body === undefined ? '' : ` body=${JSON.stringify(req.body)}`}`,
    `  world A: ${a.status} ${show(a.text)}`,
    `  world B: ${b.status} ${show(b.text)}`,
  ].join('\n');
}

function assertNoLeaks(reports: string[]): void {
  if (reports.length)
    assert.fail(
      `${reports.length} request(s) answered differently:\n${reports.join('\n\n')}\n\nThe worlds differ in:\n${differences()}`,
    );
}

const records = (collection: string, query: Record<string, string | undefined> = {}, id?: string) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  return `/api/collections/${collection}/records${id === undefined ? '' : `/${encodeURIComponent(id)}`}${qs ? `?${qs}` : ''}`;
};

// ------------------------------------------------------------------------------------------------ pools

/** Paths per collection, valid or not (hidden, private, through unlistable collections, lists...). */
const PATHS: Record<string, string[]> = {
  posts: [
    'id',
    'title',
    'title:lower',
    'views',
    'flag',
    'meta',
    'meta.k',
    'meta.arr',
    'meta.arr.1',
    'meta.s',
    'tags',
    'tags:each',
    'tags:length',
    'published',
    'created',
    'updated',
    'author',
    'author.id',
    'author.name',
    'author.email',
    'author.email:lower',
    'author.pin',
    'author.emailVisibility',
    'readers',
    'readers:each',
    'readers:length',
    'readers.email',
    'readers.name',
    'readers.pin',
    'secret',
    'secret:lower',
    'hnum',
    'hmeta',
    'hmeta.k',
    'hmeta.arr.0',
    'htags',
    'htags:each',
    'htags:length',
    'hrel',
    'hrel.id',
    'hrel.email',
    'hrel:length',
    'hdate',
    'vault',
    'vault.id',
    'vault.code',
    'vault.level',
    'locker',
    'locker.id',
    'locker.code',
    'locker.meta.lvl',
    'note',
    'note.id',
    'note.title',
    'note.num',
    'note.owner',
    'note.owner.email',
    'comments_via_post.text',
    'comments_via_post.id',
    'comments_via_post.num',
    'comments_via_post.owner.email',
    'docs_via_post.title',
    'docs_via_post.secretRef',
    'docs_via_post.secretRef.code',
    'author.comments_via_owner.text',
    'author.notes_via_owner.title',
    'author.secrets_via_user.level',
    'readers.lockers_via_owner.code',
  ],
  users: [
    'id',
    'name',
    'email',
    'email:lower',
    'emailVisibility',
    'verified',
    'pin',
    'pin:lower',
    'password',
    'tokenKey',
    'created',
    'posts_via_author.title',
    'posts_via_author.secret',
    'posts_via_author.hnum',
    'posts_via_readers.title',
    'posts_via_readers.note.title',
    'notes_via_owner.title',
    'notes_via_owner.num',
    'comments_via_owner.text',
    'lockers_via_owner.code',
    'secrets_via_user.level',
    'secrets_via_user.code',
    'vaults_via_owner.code',
  ],
  notes: [
    'id',
    'title',
    'num',
    'meta',
    'meta.k',
    'tags',
    'tags:each',
    'tags:length',
    'owner',
    'owner.email',
    'owner.name',
    'created',
    'posts_via_note.title',
  ],
  comments: [
    'id',
    'text',
    'num',
    'owner',
    'owner.email',
    'post',
    'post.title',
    'post.secret',
    'post.note.title',
  ],
  docs: [
    'id',
    'title',
    'public',
    'post',
    'post.title',
    'post.secret',
    'post.author.email',
    'post.vault.code',
    'secretRef',
    'secretRef.id',
    'secretRef.code',
    'secretRef.level',
    'secretRef.user.email',
  ],
  vaults: ['id', 'code', 'level', 'owner'],
  lockers: ['id', 'code', 'level', 'meta.lvl', 'meta.name', 'when', 'owner', 'owner.email'],
  secrets: ['id', 'user', 'level', 'code'],
};

const EXPANDS: Record<string, string[]> = {
  posts: [
    'author',
    'readers',
    'vault',
    'locker',
    'note',
    'hrel',
    'note.owner',
    'locker.owner',
    'comments_via_post',
    'comments_via_post.owner',
    'docs_via_post',
    'docs_via_post.secretRef',
    'author.notes_via_owner',
    'author.comments_via_owner',
    'readers.lockers_via_owner',
    'readers.secrets_via_user',
    'readers.vaults_via_owner',
    'nope',
  ],
  users: [
    'posts_via_author',
    'posts_via_readers',
    'posts_via_author.note',
    'posts_via_readers.vault',
    'notes_via_owner',
    'comments_via_owner',
    'comments_via_owner.post',
    'lockers_via_owner',
    'secrets_via_user',
    'vaults_via_owner',
    'docs_via_post',
  ],
  notes: ['owner', 'posts_via_note', 'owner.comments_via_owner'],
  comments: ['owner', 'post', 'post.note'],
  docs: [
    'post',
    'secretRef',
    'secretRef.user',
    'post.note',
    'post.vault',
    'post.locker',
    'post.comments_via_post',
  ],
  vaults: ['owner'],
  lockers: ['owner', 'posts_via_locker'],
  secrets: ['user'],
};

const FIELDS = [
  '*',
  'id',
  'id,title',
  'secret',
  'email',
  'pin',
  'code',
  'expand',
  '*,expand.author.email',
  'id,expand.note.title',
  'expand.*',
  'title:excerpt(3,true)',
  'secret:excerpt(4,true)',
  'email:excerpt(2)',
  'id,expand.readers.email,expand.readers.pin',
  'id,expand.comments_via_post.text',
  'hmeta,hnum,htags,hrel,hdate',
];

const IDS: Record<string, string[]> = {
  users: [ID.ann, ID.bob, ID.cat],
  posts: [ID.p1, ID.p2, ID.p3, ID.p4],
  notes: [ID.nAnn, ID.nBob, ID.nBob2],
  comments: [ID.cAnn, ID.cBob, ID.cBob2],
  docs: [ID.d1, ID.d2, ID.d3],
  vaults: [ID.v1, ID.v2],
  lockers: [ID.lAnn, ID.lBob],
  secrets: [ID.sAnn, ID.sBob, ID.sCat],
};
const ALL_IDS = Object.values(ID);
const COLLECTION_NAMES = Object.keys(PATHS);

const quote = (s: string) => (s.includes("'") ? `"${s.replaceAll('"', '\\"')}"` : `'${s}'`);

const textLiteral = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom(...SECRET_TEXT) },
    { weight: 3, arbitrary: fc.constantFrom(...SECRET_TEXT).map((s) => s.slice(0, 1 + (s.length >> 1))) },
    { weight: 2, arbitrary: fc.constantFrom(...ALL_IDS) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '',
        'a',
        'b',
        'x',
        'one',
        'bob',
        'rob',
        '@example.com',
        'example',
        'elsewhere',
        '%',
        '_',
        'b%',
        '%z%',
        '%@%',
        'Z%',
        '1',
        '9',
        '2024',
        '2030',
        '2020-01-01 00:00:00.000Z',
        '2030-06-15 08:30:00.000Z',
        'high',
        'true',
      ),
    },
  )
  .map(quote);

const literal = fc.oneof(
  { weight: 5, arbitrary: textLiteral },
  {
    weight: 3,
    arbitrary: fc.constantFrom('0', '1', '2', '3', '5', '8', '9', '99', '500', '-1', '1e300', '0.5'),
  },
  { weight: 2, arbitrary: fc.constantFrom('true', 'false', 'null') },
  { weight: 1, arbitrary: fc.constantFrom('@now', '@todayStart', '@yearStart', '@year', '@hour') },
);

const OPS = ['=', '!=', '>', '>=', '<', '<=', '~', '!~', '?=', '?!=', '?>', '?>=', '?<', '?<=', '?~', '?!~'];

function filterArb(collection: string): fc.Arbitrary<string> {
  const paths = PATHS[collection] as string[];
  // Paths the caller may use (found out in \`before\`) are drawn more often, so that many filters run.
  const usable = OPEN_PATHS.get(collection) ?? [];
  const path = usable.length
    ? fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...usable) },
        { weight: 1, arbitrary: fc.constantFrom(...paths) },
      )
    : fc.constantFrom(...paths);
  const operand = fc.oneof(
    { weight: 6, arbitrary: path },
    { weight: 1, arbitrary: path.map((p) => `strftime('%Y-%m', ${p})`) },
    {
      weight: 1,
      arbitrary: fc.tuple(path, path).map(([a, b]) => `geoDistance(${a}.lon, ${b}.lat, 0, 0)`),
    },
  );
  const right = fc.oneof({ weight: 3, arbitrary: literal }, { weight: 1, arbitrary: operand });
  const cmp = fc.tuple(operand, fc.constantFrom(...OPS), right).map(([l, op, r]) => `${l} ${op} ${r}`);
  const { tree } = fc.letrec<{ tree: string }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: cmp },
      {
        weight: 2,
        arbitrary: fc
          .tuple(tie('tree'), fc.constantFrom('&&', '||'), tie('tree'))
          .map(([a, op, b]) => `${a} ${op} ${b}`),
      },
      { weight: 1, arbitrary: tie('tree').map((t) => `(${t})`) },
    ),
  }));
  // Now and then a corrupted filter (syntax errors must not depend on the data either).
  return fc.oneof(
    { weight: 9, arbitrary: tree },
    {
      weight: 1,
      arbitrary: fc
        .tuple(tree, fc.constantFrom(')', '(', "'", '&&', '=', '@', '\\', '?', ':each'))
        .map(([t, junk]) => t + junk),
    },
  );
}

function sortArb(collection: string): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...(PATHS[collection] as string[])) },
    { weight: 4, arbitrary: fc.constantFrom('id', ...(OPEN_PATHS.get(collection) ?? [])) },
    { weight: 1, arbitrary: fc.constantFrom('@rowid', 'nope', 'id') },
  );
  return fc
    .array(fc.tuple(fc.boolean(), key), { minLength: 1, maxLength: 3 })
    .map((keys) => keys.map(([desc, k]) => `${desc ? '-' : ''}${k}`).join(','));
}

function listReq(collection: string): fc.Arbitrary<Req> {
  return fc
    .record(
      {
        caller: fc.constantFrom<Caller>('guest', 'ann'),
        filter: filterArb(collection),
        sort: sortArb(collection),
        expand: fc
          .subarray(EXPANDS[collection] as string[], {
            minLength: 1,
            maxLength: Math.min(3, (EXPANDS[collection] as string[]).length),
          })
          .map((e) => e.join(',')),
        fields: fc.constantFrom(...FIELDS),
        page: fc.constantFrom('1', '2', '3', '0', '-1', 'x'),
        perPage: fc.constantFrom('1', '2', '3', '30', '0', '1001'),
        skipTotal: fc.constantFrom('true', 'false', '1'),
      },
      { requiredKeys: ['caller'] },
    )
    .map(({ caller, ...query }) => ({ caller, path: records(collection, query) }));
}

function viewReq(collection: string): fc.Arbitrary<Req> {
  return fc
    .record(
      {
        caller: fc.constantFrom<Caller>('guest', 'ann'),
        id: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...(IDS[collection] as string[])) },
          { weight: 1, arbitrary: fc.constantFrom(...ALL_IDS, 'missing00000000', '') },
        ),
        expand: fc
          .subarray(EXPANDS[collection] as string[], {
            minLength: 1,
            maxLength: Math.min(3, (EXPANDS[collection] as string[]).length),
          })
          .map((e) => e.join(',')),
        fields: fc.constantFrom(...FIELDS),
      },
      { requiredKeys: ['caller', 'id'] },
    )
    .map(({ caller, id, ...query }) => ({ caller, path: records(collection, query, id) }));
}

/** Lists and views of every collection; those whose list rule is null (always a 403) less often. */
const requestArb = (): fc.Arbitrary<Req> => {
  const collection = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('posts', 'users', 'docs', 'notes', 'comments', 'lockers') },
    { weight: 1, arbitrary: fc.constantFrom('vaults', 'secrets') },
  );
  return fc.oneof(
    { weight: 6, arbitrary: collection.chain(listReq) },
    { weight: 2, arbitrary: collection.chain(viewReq) },
  );
};

// ------------------------------------------------------------------------------------------------ hand-written

/** Targeted probes, one per way a protected value could surface. */
function handWritten(): Req[] {
  const out: Req[] = [];
  const both = (path: string) => {
    out.push({ caller: 'guest', path }, { caller: 'ann', path });
  };
  const filters: Record<string, string[]> = {
    posts: [
      "secret = 'alpha-secret'",
      "secret ~ 'alpha'",
      "secret != ''",
      'secret = null',
      "secret:lower = 'zed'",
      "secret ?= 'Zed'",
      'hnum > 100',
      'hnum = 5',
      'hmeta.k = 1',
      "hmeta.k = 'one'",
      'hmeta.arr.0 = 1',
      "htags ~ 'b'",
      "htags:each ?= 'c'",
      'htags:length > 1',
      "hrel = ''",
      "hrel.name = 'Bob'",
      'hrel:length = 1',
      "hdate > '2025-01-01'",
      "strftime('%Y', hdate) = '2030'",
      "author.email ~ 'rob'",
      "author.email = 'bob@example.com'",
      'author.email = null',
      "author.email:lower ~ 'elsewhere'",
      "readers.email ?~ 'rob'",
      "readers.email ?= 'bob@example.com'",
      "readers.email ~ '%@%'",
      'readers.email ?= null',
      "author.pin = '1111'",
      "readers.pin ?= '9999'",
      "vault.code = 'v-1234'",
      'vault.level > 5',
      "vault.id = 'vault0000000001'",
      "vault = 'vault0000000001'",
      "locker.code ~ 'a'",
      'locker.meta.lvl = 2',
      "note.title = 'bob plan'",
      'note.num > 50',
      "note.owner = 'usrbob000000002'",
      "note = 'notebob00000002'",
      "note.id = 'notebob00000002'",
      "comments_via_post.text ?~ 'hello'",
      'comments_via_post.num ?> 2',
      "comments_via_post.id ?= 'commbob00000002'",
      "docs_via_post.secretRef.code ?= 'bob-a'",
      "docs_via_post.title ?= 'open doc'",
      "author.notes_via_owner.title ?= 'bob plan'",
      'author.secrets_via_user.level ?> 5',
      "title ~ 'a' || secret ~ 'a'",
      "(title = 'x' && secret = 'y') || views > 0",
      "geoDistance(meta.k, meta.k, 0, 0) >= 0 && secret ~ ''",
    ],
    users: [
      "email ~ 'rob'",
      "email = 'bob@example.com'",
      "email = 'robert@elsewhere.test'",
      'email = null',
      "email != ''",
      "email:lower ~ 'example'",
      "email ~ '%.test'",
      "email > 'c'",
      "email < 'c'",
      "name = 'Bob' && email ~ 'bob'",
      "pin = '1111'",
      "pin ~ '9'",
      "posts_via_author.secret ?= 'alpha-secret'",
      'posts_via_author.hnum ?> 100',
      "notes_via_owner.title ?= 'bob plan'",
      'notes_via_owner.num ?> 50',
      "comments_via_owner.text ?~ 'hello'",
      "lockers_via_owner.code ?~ 'zzz'",
      'secrets_via_user.level ?> 5',
      "vaults_via_owner.code ?= 'v-1234'",
      "password = ''",
      "tokenKey != ''",
    ],
    notes: [
      '',
      "title = 'bob plan'",
      "title ~ 'o'",
      'num > 0',
      "owner = 'usrbob000000002'",
      "owner.email ~ 'rob'",
      'tags:length > 1',
      "id = 'notebob00000002'",
      "id = 'notebob00000003'",
    ],
    comments: ['', "text ~ 'hello'", "post = 'post00000000002'", "post.secret = 'alpha-secret'", 'num > 1'],
    docs: [
      '',
      "secretRef.code = 'bob-a'",
      'secretRef.level > 5',
      "secretRef = 'secrbob00000002'",
      "secretRef.user.email ~ 'rob'",
      "post.secret ~ 'alpha'",
      "post.vault.code = 'v-1234'",
      'public = false',
      "title ~ 'doc'",
    ],
    vaults: ['', "code = 'v-1234'"],
    lockers: ['', "code ~ 'a'", 'meta.lvl = 2', "meta.name = 'x'", "when = ''", "owner.email ~ 'rob'"],
    secrets: ['', 'level > 5'],
  };
  const sorts: Record<string, string[]> = {
    posts: [
      'secret',
      '-secret',
      'hnum',
      'hmeta.k',
      'hdate',
      'hrel',
      'author.email',
      '-author.email',
      'author.pin',
      'vault.code',
      'vault.level',
      'locker.code',
      'note.title',
      'note.num',
      'note.id',
      'readers.email',
      'title,-secret',
      '@rowid',
      '-@rowid',
    ],
    users: ['email', '-email', 'email:lower', 'pin', 'name,email', '-created'],
    notes: ['title', '-num'],
    docs: ['secretRef.code', 'secretRef.level', 'post.secret', '-title'],
    lockers: ['code', 'meta.lvl', 'when'],
  };
  for (const [collection, list] of Object.entries(filters)) {
    for (const filter of list) both(records(collection, { filter, perPage: '50' }));
    for (const filter of list.slice(0, 8)) both(records(collection, { filter, skipTotal: 'true' }));
  }
  for (const [collection, list] of Object.entries(sorts))
    for (const sort of list) both(records(collection, { sort, perPage: '50' }));
  for (const [collection, list] of Object.entries(EXPANDS)) {
    both(records(collection, { expand: list.join(','), perPage: '50' }));
    for (const expand of list) both(records(collection, { expand, fields: '*,expand.*' }));
    for (const id of IDS[collection] as string[]) {
      both(records(collection, {}, id));
      both(records(collection, { expand: list.slice(0, 10).join(',') }, id));
      both(records(collection, { fields: 'id,email,secret,pin,expand' }, id));
    }
  }
  for (const collection of COLLECTION_NAMES)
    for (const perPage of ['1', '2', '3'])
      for (const page of ['1', '2', '3']) both(records(collection, { page, perPage }));
  for (const id of [...ALL_IDS, 'missing00000000', 'a', `${ID.nBob}x`])
    for (const collection of COLLECTION_NAMES) both(records(collection, {}, id));
  return out;
}

// ------------------------------------------------------------------------------------------------ tests

describe('two worlds that differ only in what the caller may not read answer identically', () => {
  test('hand-written probes (guest and signed-in user)', async () => {
    const reports: string[] = [];
    const reqs = handWritten();
    for (let i = 0; i < reqs.length; i += 8) {
      const batch = await Promise.all(reqs.slice(i, i + 8).map(leak));
      for (const r of batch) if (r) reports.push(r);
    }
    assertNoLeaks(reports);
  });

  test(`${RUNS} generated requests (filter, sort, expand, fields, paging, view; seed ${SEED})`, async () => {
    const reports: string[] = [];
    await fc.assert(
      fc.asyncProperty(requestArb(), async (req) => {
        const report = await leak(req);
        if (report) {
          reports.push(report);
          throw new Error(report);
        }
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
  });

  test('denied writes to protected records answer identically and change nothing', async () => {
    const targets: Array<[string, string]> = [
      ['notes', ID.nBob],
      ['notes', ID.nBob2],
      ['comments', ID.cBob],
      ['lockers', ID.lBob],
      ['vaults', ID.v1],
      ['secrets', ID.sBob],
      ['users', ID.bob],
    ];
    const su = (w: World, path: string) => w.srv.request('GET', path, { token: w.srv.adminToken });
    const snapshot = () =>
      Promise.all(
        targets.flatMap(([c, id]) =>
          [A, B].map((w) => su(w, records(c, {}, id)).then((r) => JSON.stringify(r.body))),
        ),
      );
    const before = await snapshot();
    const bodies = [
      {},
      { title: 'x', text: 'x', code: 'x' },
      { num: 'not a number', level: 'x' },
      { owner: ID.ann },
    ];
    const reports: string[] = [];
    for (const caller of ['guest', 'ann'] as const)
      for (const [collection, id] of targets) {
        for (const body of bodies) {
          const patch = await leak({ caller, method: 'PATCH', path: records(collection, {}, id), body });
          if (patch) reports.push(patch);
        }
        const del = await leak({ caller, method: 'DELETE', path: records(collection, {}, id) });
        if (del) reports.push(del);
      }
    for (const caller of ['guest', 'ann'] as const)
      for (const [collection, body] of [
        ['notes', { title: 'x', owner: ID.bob }],
        ['comments', { text: 'x', owner: ID.bob, post: ID.p1 }],
        ['lockers', { code: 'x', owner: ID.bob }],
      ] as const) {
        const create = await leak({ caller, method: 'POST', path: records(collection), body });
        if (create) reports.push(create);
      }
    assertNoLeaks(reports);
    assert.deepEqual(await snapshot(), before, 'a denied write changed a record');
  });

  test('writes through modifiers and hidden fields answer identically and change no hidden value', async () => {
    const su = (w: World) =>
      w.srv.request('GET', records('drafts', {}, ID.dAnn), { token: w.srv.adminToken }).then((r) => r.body);
    const hidden = async () => (await Promise.all([A, B].map(su))).map((r: Json) => [r.hscore, r.htags]);
    const before = await hidden();
    const reports: string[] = [];
    const bodies: Json[] = [
      { 'hscore+': 0 },
      { hscore: 1 },
      { '+hscore': 1 },
      { 'hscore-': 0 },
      { 'hscore+': 200 },
      { 'htags+': 'c' },
      { '+htags': 'a' },
      { 'htags-': 'a' },
      { htags: [] },
      { title: 'edited', 'hscore+': 0 },
    ];
    // A write's answer carries its own timestamps (and a new record's id): those may differ, nothing else.
    const written = async (req: Req) => {
      const [a, b] = await Promise.all([ask(A, req), ask(B, req)]);
      const strip = (text: string) => text.replace(/"(id|created|updated)":"[^"]*"/g, '"$1":"…"');
      if (a.status >= 500 || b.status >= 500 || a.status !== b.status || strip(a.text) !== strip(b.text))
        reports.push(
          `LEAK: ann ${req.method} ${req.path} body=${JSON.stringify(req.body)}\n  world A: ${a.status} ${a.text}\n  world B: ${b.status} ${b.text}`,
        );
    };
    for (const body of bodies)
      await written({ caller: 'ann', method: 'PATCH', path: records('drafts', {}, ID.dAnn), body });
    for (const body of [{ 'hscore+': 0 }, { hscore: 7, htags: ['a'] }])
      await written({
        caller: 'ann',
        method: 'POST',
        path: records('drafts'),
        body: { title: 'new', owner: ID.ann, ...body },
      });
    assertNoLeaks(reports);
    assert.deepEqual(await hidden(), before, 'a client write changed a hidden field');
    // New drafts got no hidden value from the client either.
    for (const w of [A, B]) {
      const list = await w.srv.request('GET', records('drafts', { filter: "title = 'new'" }), {
        token: w.srv.adminToken,
      });
      for (const r of list.body.items as Json[]) assert.deepEqual([r.hscore, r.htags], [0, []]);
    }
  });

  test('the probes exercised both successes and refusals', () => {
    const ok = statuses.get(200) ?? 0;
    const bad = statuses.get(400) ?? 0;
    const summary = [...statuses].map(([s, n]) => `${s}: ${n}`).join(', ');
    console.log(`# leak test: ${sent} request pairs compared (${summary})`);
    assert.ok(ok > 100, `too few 200s: ${summary}`);
    assert.ok(bad > 50, `too few 400s: ${summary}`);
    assert.ok((statuses.get(404) ?? 0) > 10, `too few 404s: ${summary}`);
  });
});

test('the worlds really differ (as the superuser sees them)', async () => {
  const su = (w: World, path: string) => w.srv.request('GET', path, { token: w.srv.adminToken });
  for (const [collection, body, onlyIn] of ROWS) {
    const path = records(collection, {}, String(body.id));
    const [a, b] = await Promise.all([su(A, path), su(B, path)]);
    if (onlyIn) {
      assert.deepEqual([a.status, b.status], onlyIn === 'A' ? [200, 404] : [404, 200], path);
      continue;
    }
    assert.equal(a.status, 200, path);
    const differs = Object.values(body).some(isDiffer);
    assert.equal(JSON.stringify(a.body) !== JSON.stringify(b.body), differs, path);
  }
});
