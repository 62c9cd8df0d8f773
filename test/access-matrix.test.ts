// The access matrix: every role against every kind of rule, for every action, from a table of expected
// outcomes (docs/rules.md is the contract). No unexpected allow, no unexpected deny: each cell checks the
// status, for lists the exact ids and totals, for writes what the superuser finds stored afterwards, and
// that hidden fields never reach a non-superuser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { EventSource } from 'eventsource';
import { startServer, type TestServer } from './helpers/server.ts';

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

let srv: TestServer;

// ---------------------------------------------------------------------------------------------------------
// The world: four users, two teams, and seven collections holding the same four records.

const ROLES = ['guest', 'user', 'owner', 'member', 'superuser'] as const;
type Role = (typeof ROLES)[number];

const USERS = {
  ann: 'userann00000000', // the "owner" role: owns A and C
  bob: 'userbob00000000', // owns B, member of team blue; never a caller
  cat: 'usercat00000000', // the "member" role: member of team red
  dan: 'userdan00000000', // the "user" role: signed in, owns nothing, in no team
};
const SELF: Record<Role, string> = {
  guest: '',
  user: USERS.dan,
  owner: USERS.ann,
  member: USERS.cat,
  superuser: '',
};
const TEAMS = { red: 'teamred00000000', blue: 'teamblue0000000' };
const PASSWORD = 'pass-word-1';

type Letter = 'A' | 'B' | 'C' | 'D';
const LETTERS: Letter[] = ['A', 'B', 'C', 'D'];
const idOf = (l: Letter) => `rec${l.toLowerCase()}00000000000`;
/** The same four records in every collection. D has no owner and no team. */
const SEED: Record<Letter, { title: string; owner: string; team: string; secret: string; status: string }> = {
  A: { title: 'alpha', owner: USERS.ann, team: TEAMS.red, secret: 'pub', status: 'draft' },
  B: { title: 'beta', owner: USERS.bob, team: TEAMS.blue, secret: 'priv', status: 'draft' },
  C: { title: 'gamma', owner: USERS.ann, team: TEAMS.blue, secret: 'priv', status: 'final' },
  D: { title: 'delta', owner: '', team: '', secret: 'pub', status: 'final' },
};
const seedBody = (l: Letter) => ({ id: idOf(l), ...SEED[l] });

type Rules = Record<'listRule' | 'viewRule' | 'createRule' | 'updateRule' | 'deleteRule', string | null>;
const same = (rule: string | null): Rules => ({
  listRule: rule,
  viewRule: rule,
  createRule: rule,
  updateRule: rule,
  deleteRule: rule,
});
const OWNER = 'owner = @request.auth.id';
const TEAM = '@collection.members.user ?= @request.auth.id && @collection.members.team ?= team';

const COLLECTIONS: Record<string, Rules> = {
  locked: same(null),
  open: same(''),
  // docs/rules.md "Owner only". A guest's @request.auth.id is null and `owner = null` holds for D (no owner).
  owned: {
    listRule: OWNER,
    viewRule: OWNER,
    createRule: `@request.auth.id != '' && ${OWNER}`,
    updateRule: `${OWNER} && (@request.body.owner:isset = false || @request.body.owner = owner)`,
    deleteRule: OWNER,
  },
  // docs/rules.md "Team membership": both ?= look at one members row (cat is in red, bob in blue).
  teamed: same(TEAM),
  // A rule on a hidden field.
  hiderule: {
    listRule: "secret = 'pub'",
    viewRule: "secret = 'pub'",
    createRule: "secret = 'pub'",
    updateRule: "@request.auth.id != '' && secret = 'pub'",
    deleteRule: "@request.auth.id != '' && secret = 'pub'",
  },
  // @request.body on create and update.
  bodyrule: {
    listRule: '',
    viewRule: '',
    createRule: "@request.auth.id != '' && @request.body.status = 'draft'",
    updateRule: "@request.auth.id != '' && @request.body.status:isset = false",
    deleteRule: "@request.auth.id != '' && status = 'draft'",
  },
  gated: same("@request.headers.x_api_key = 'k1'"),
};
/** Fields never sent to a non-superuser, by collection. */
const HIDDEN: Record<string, string[]> = {
  ...Object.fromEntries(Object.keys(COLLECTIONS).map((c) => [c, ['secret']])),
  links: ['hiddenref'],
};
/** `links` (listRule and viewRule "") points to every record of every collection; `hiddenref` is hidden. */
const LINK = 'link00000000000';

// ---------------------------------------------------------------------------------------------------------
// The expected outcomes. A variant is a collection plus what every request to it carries (a header).

const VARIANTS = {
  locked: { collection: 'locked', headers: {} },
  open: { collection: 'open', headers: {} },
  owned: { collection: 'owned', headers: {} },
  teamed: { collection: 'teamed', headers: {} },
  hiderule: { collection: 'hiderule', headers: {} },
  bodyrule: { collection: 'bodyrule', headers: {} },
  gated: { collection: 'gated', headers: {} },
  'gated (x-api-key: k1)': { collection: 'gated', headers: { 'X-Api-Key': 'k1' } },
} satisfies Record<string, { collection: keyof typeof COLLECTIONS; headers: Record<string, string> }>;
type Variant = keyof typeof VARIANTS;

/** Letters of the records reached, or 403 (a null rule). */
type Reach = string | 403;
interface Access {
  /** list and view (and, for expand from `links`, what is expanded: nothing where this is 403) */
  see: Reach;
  /** PATCH {title} on each record: 200 where reached, else 404 */
  update: Reach;
  /** DELETE each record: 204 where reached, else 404 */
  delete: Reach;
  /** POST with a body the caller may own: owner = the caller, team red, secret pub, status draft */
  create: number;
  /** POST with owner bob, team blue, secret priv, status final */
  createBad: number;
  /** PATCH A {owner: bob} */
  giveA: number;
  /** PATCH A {status: 'final'} */
  statusA: number;
  /** GET links?filter=<collection>.title ?= 'alpha' (a relation path into the collection; its list rule applies) */
  relFilter: number;
}
const row = (
  see: Reach,
  update: Reach,
  del: Reach,
  create: number,
  createBad: number,
  giveA: number,
  statusA: number,
  relFilter: number,
): Access => ({ see, update, delete: del, create, createBad, giveA, statusA, relFilter });
const X = 403;
const ALL = 'ABCD';

// biome-ignore format: one row per role, columns aligned.
const ACCESS: Record<Variant, Record<Role, Access>> = {
  //                        see     update  delete  create createBad giveA statusA relFilter
  locked: {
    guest:      row(X,      X,      X,      403,   403,      403,  403,    400),
    user:       row(X,      X,      X,      403,   403,      403,  403,    400),
    owner:      row(X,      X,      X,      403,   403,      403,  403,    400),
    member:     row(X,      X,      X,      403,   403,      403,  403,    400),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  open: {
    guest:      row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    user:       row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    owner:      row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    member:     row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  owned: {
    guest:      row('D',    'D',    'D',    400,   400,      404,  404,    200),
    user:       row('',     '',     '',     200,   400,      404,  404,    200),
    owner:      row('AC',   'AC',   'AC',   200,   400,      404,  200,    200),
    member:     row('',     '',     '',     200,   400,      404,  404,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  teamed: {
    guest:      row('',     '',     '',     400,   400,      404,  404,    200),
    user:       row('',     '',     '',     400,   400,      404,  404,    200),
    owner:      row('',     '',     '',     400,   400,      404,  404,    200),
    member:     row('A',    'A',    'A',    200,   400,      200,  200,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  // Clients cannot write the hidden `secret` (their value is ignored), so their creates never meet the rule.
  hiderule: {
    guest:      row('AD',   '',     '',     400,   400,      404,  404,    200),
    user:       row('AD',   'AD',   'AD',   400,   400,      200,  200,    200),
    owner:      row('AD',   'AD',   'AD',   400,   400,      200,  200,    200),
    member:     row('AD',   'AD',   'AD',   400,   400,      200,  200,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  bodyrule: {
    guest:      row(ALL,    '',     '',     400,   400,      404,  404,    200),
    user:       row(ALL,    ALL,    'AB',   200,   400,      200,  404,    200),
    owner:      row(ALL,    ALL,    'AB',   200,   400,      200,  404,    200),
    member:     row(ALL,    ALL,    'AB',   200,   400,      200,  404,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  gated: {
    guest:      row('',     '',     '',     400,   400,      404,  404,    200),
    user:       row('',     '',     '',     400,   400,      404,  404,    200),
    owner:      row('',     '',     '',     400,   400,      404,  404,    200),
    member:     row('',     '',     '',     400,   400,      404,  404,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
  'gated (x-api-key: k1)': {
    guest:      row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    user:       row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    owner:      row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    member:     row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
    superuser:  row(ALL,    ALL,    ALL,    200,   200,      200,  200,    200),
  },
};

// ---------------------------------------------------------------------------------------------------------
// The cells, as data.

type Action =
  | {
      kind: 'list';
      collection: string;
      query: string;
      status: number;
      ids?: string[];
      ordered?: boolean;
      keys?: string[];
    }
  | { kind: 'view'; collection: string; id: string; status: number }
  | { kind: 'create'; collection: string; body: Record<string, unknown>; status: number }
  | { kind: 'update'; collection: string; letter: Letter; body: Record<string, unknown>; status: number }
  | { kind: 'delete'; collection: string; letter: Letter; status: number }
  | { kind: 'expand'; expand: string; ids: string[] }
  | { kind: 'signin'; collection: string; identity: string; status: number }
  | { kind: 'patch-email'; collection: string; id: string; email: string; status: number };

interface Cell {
  name: string;
  group: string;
  role: Role;
  headers: Record<string, string>;
  action: Action;
  todo?: string;
}

const letters = (r: string) => [...r] as Letter[];
const ids = (r: string) => letters(r).map(idOf);
/** The records a status filter and a title sort leave, in that order. */
const BY_TITLE_DESC: Letter[] = ['C', 'D', 'B', 'A']; // gamma, delta, beta, alpha
const q = (params: Record<string, string>) => `?perPage=100&${new URLSearchParams(params).toString()}`;

let newIds = 0;
const newId = () => `new${String(++newIds).padStart(12, '0')}`;

function gridCells(): Cell[] {
  const cells: Cell[] = [];
  for (const [variant, { collection, headers }] of Object.entries(VARIANTS) as Array<
    [Variant, (typeof VARIANTS)[Variant]]
  >) {
    for (const role of ROLES) {
      const a = ACCESS[variant][role];
      const su = role === 'superuser';
      const add = (label: string, action: Action) =>
        cells.push({ name: `${role} × ${variant} × ${label}`, group: variant, role, headers, action });
      const locked = a.see === X;
      const seen = locked ? [] : letters(a.see as string);
      const listStatus = locked ? 403 : 200;
      // A hidden field in a client filter or sort: 400 for everyone but superusers (a null rule answers first).
      const hiddenStatus = su ? 200 : locked ? 403 : 400;

      add('list', { kind: 'list', collection, query: q({}), status: listStatus, ids: seen.map(idOf) });
      add('list fields=id,title,secret', {
        kind: 'list',
        collection,
        query: q({ fields: 'id,title,secret' }),
        status: listStatus,
        ids: seen.map(idOf),
        keys: su ? ['id', 'secret', 'title'] : ['id', 'title'],
      });
      add("filter status = 'draft'", {
        kind: 'list',
        collection,
        query: q({ filter: "status = 'draft'" }),
        status: listStatus,
        ids: seen.filter((l) => SEED[l].status === 'draft').map(idOf),
      });
      add("filter on hidden secret = 'pub'", {
        kind: 'list',
        collection,
        query: q({ filter: "secret = 'pub'" }),
        status: hiddenStatus,
        ids: su ? ids('AD') : undefined,
      });
      add('sort -title', {
        kind: 'list',
        collection,
        query: q({ sort: '-title' }),
        status: listStatus,
        ids: BY_TITLE_DESC.filter((l) => seen.includes(l)).map(idOf),
        ordered: true,
      });
      add('sort on hidden secret', {
        kind: 'list',
        collection,
        query: q({ sort: 'secret' }),
        status: hiddenStatus,
        ids: su ? ids(ALL) : undefined,
      });
      for (const l of LETTERS)
        add(`view ${l}`, {
          kind: 'view',
          collection,
          id: idOf(l),
          status: locked ? 403 : seen.includes(l) ? 200 : 404,
        });
      add(`expand from links`, { kind: 'expand', expand: collection, ids: seen.map(idOf) });
      // Through a collection with an expression list rule, the rule applies on the path: the link is
      // found only when the caller may list A (the record titled alpha).
      add(`filter links through ${collection}.title`, {
        kind: 'list',
        collection: 'links',
        query: q({ filter: `${collection}.title ?= 'alpha'` }),
        status: a.relFilter,
        ids: a.relFilter === 200 ? (seen.includes('A') ? [LINK] : []) : undefined,
      });
      add('create (own body)', {
        kind: 'create',
        collection,
        body: { title: 'new', owner: SELF[role], team: TEAMS.red, secret: 'pub', status: 'draft' },
        status: a.create,
      });
      add('create (owner bob, team blue, secret priv, status final)', {
        kind: 'create',
        collection,
        body: { title: 'new', owner: USERS.bob, team: TEAMS.blue, secret: 'priv', status: 'final' },
        status: a.createBad,
      });
      const reach = (r: Reach, l: Letter, ok: number) => (r === X ? 403 : r.includes(l) ? ok : 404);
      for (const l of LETTERS)
        add(`update ${l} {title}`, {
          kind: 'update',
          collection,
          letter: l,
          body: { title: 'changed' },
          status: reach(a.update, l, 200),
        });
      add('update A {owner: bob}', {
        kind: 'update',
        collection,
        letter: 'A',
        body: { owner: USERS.bob },
        status: a.giveA,
      });
      add("update A {status: 'final'}", {
        kind: 'update',
        collection,
        letter: 'A',
        body: { status: 'final' },
        status: a.statusA,
      });
      for (const l of LETTERS)
        add(`delete ${l}`, { kind: 'delete', collection, letter: l, status: reach(a.delete, l, 204) });
    }
  }
  return cells;
}

/** Cells outside the grid: hidden relation fields, and the features still to come. */
function otherCells(): Cell[] {
  const cells: Cell[] = [];
  for (const role of ROLES) {
    const su = role === 'superuser';
    const base = { role, headers: {} };
    cells.push({
      ...base,
      group: 'links',
      name: `${role} × links × expand of the hidden relation hiddenref`,
      action: { kind: 'expand', expand: 'hiddenref', ids: su ? ids(ALL) : [] },
    });
    cells.push({
      ...base,
      group: 'links',
      name: `${role} × links × filter through open.secret (hidden)`,
      action: {
        kind: 'list',
        collection: 'links',
        query: q({ filter: "open.secret ?= 'pub'" }),
        status: su ? 200 : 400,
        ids: su ? [LINK] : undefined,
      },
    });
  }
  cells.push(
    {
      group: 'users',
      role: 'owner',
      headers: {},
      name: 'owner × users × filter on their own private email',
      action: {
        kind: 'list',
        collection: 'users',
        query: q({ filter: "email = 'ann@example.com'" }),
        status: 200,
        ids: [USERS.ann],
      },
    },
    {
      group: 'users',
      role: 'user',
      headers: {},
      name: "user × users × filter on another's private email",
      action: {
        kind: 'list',
        collection: 'users',
        query: q({ filter: "email = 'ann@example.com'" }),
        status: 200,
        ids: [],
      },
    },
    {
      group: 'accounts',
      role: 'owner',
      headers: {},
      name: 'owner × accounts × a manager filters on a private email',
      action: {
        kind: 'list',
        collection: 'accounts',
        query: q({ filter: "email = 'verified@example.com'" }),
        status: 200,
        ids: ['accverified0000'],
      },
    },
    {
      group: 'accounts',
      role: 'user',
      headers: {},
      name: 'user × accounts × a non-manager filters on a private email',
      action: {
        kind: 'list',
        collection: 'accounts',
        query: q({ filter: "email = 'verified@example.com'" }),
        status: 200,
        ids: [],
      },
    },
    {
      group: 'accounts',
      role: 'owner',
      headers: {},
      name: 'owner × accounts × manageRule lets ann change an account email',
      action: {
        kind: 'patch-email',
        collection: 'accounts',
        id: 'accverified0000',
        email: 'm1@example.com',
        status: 200,
      },
    },
    {
      group: 'accounts',
      role: 'user',
      headers: {},
      name: 'user × accounts × manageRule keeps dan from changing an account email',
      action: {
        kind: 'patch-email',
        collection: 'accounts',
        id: 'accverified0000',
        email: 'm2@example.com',
        status: 400,
      },
    },
    {
      group: 'accounts',
      role: 'guest',
      headers: {},
      name: 'guest × accounts × authRule verified = true lets a verified account sign in',
      action: { kind: 'signin', collection: 'accounts', identity: 'verified@example.com', status: 200 },
    },
    {
      group: 'accounts',
      role: 'guest',
      headers: {},
      name: 'guest × accounts × authRule verified = true turns an unverified account away',
      action: { kind: 'signin', collection: 'accounts', identity: 'unverified@example.com', status: 400 },
    },
  );
  return cells;
}

const CELLS = [...gridCells(), ...otherCells()];

// ---------------------------------------------------------------------------------------------------------
// Setup.

const tokens: Record<Role, string> = { guest: '', user: '', owner: '', member: '', superuser: '' };

const recordsPath = (collection: string, id?: string, query = '') =>
  `/api/collections/${collection}/records${id === undefined ? '' : `/${id}`}${query}`;

/** A request as the superuser that must succeed. */
async function su(method: string, path: string, body?: unknown): Promise<Json> {
  const res = await srv.request(method, path, { token: srv.adminToken, body });
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function stored(collection: string, id: string): Promise<Json | undefined> {
  const res = await srv.request('GET', recordsPath(collection, id), { token: srv.adminToken });
  if (res.status === 404) return undefined;
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function count(collection: string): Promise<number> {
  return (await su('GET', recordsPath(collection, undefined, '?perPage=1'))).totalItems;
}

const linkBody = () => ({
  ...Object.fromEntries(Object.keys(COLLECTIONS).map((name) => [name, ids(ALL)])),
  hiddenref: ids(ALL),
});

/** Puts a seeded record back as it was (recreating it, and its place in `links`, if it was deleted). */
async function restore(collection: string, l: Letter): Promise<void> {
  const { id, ...values } = seedBody(l);
  if (await stored(collection, id)) {
    await su('PATCH', recordsPath(collection, id), values);
    return;
  }
  await su('POST', recordsPath(collection), { id, ...values });
  // Deleting it took it out of every relation pointing at it.
  await su('PATCH', recordsPath('links', LINK), linkBody());
}

before(async () => {
  srv = await startServer();
  for (const [name, id] of Object.entries(USERS)) {
    await su('POST', recordsPath('users'), {
      id,
      name,
      email: `${name}@example.com`,
      password: PASSWORD,
      passwordConfirm: PASSWORD,
    });
  }
  for (const [role, name] of [
    ['user', 'dan'],
    ['owner', 'ann'],
    ['member', 'cat'],
  ] as const) {
    const res = await srv.request('POST', '/api/collections/users/auth-with-password', {
      body: { identity: `${name}@example.com`, password: PASSWORD },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    tokens[role] = res.body.token;
  }
  tokens.superuser = srv.adminToken;

  const usersId = (await su('GET', '/api/collections/users')).id;
  // teams and members are superuser-only (null rules): the team rule reads members all the same.
  const teams = await su('POST', '/api/collections', {
    name: 'teams',
    type: 'base',
    fields: [{ name: 'name', type: 'text' }],
  });
  await su('POST', '/api/collections', {
    name: 'members',
    type: 'base',
    fields: [
      { name: 'user', type: 'relation', collectionId: usersId, maxSelect: 1 },
      { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1 },
    ],
  });
  for (const [name, id] of Object.entries(TEAMS)) await su('POST', recordsPath('teams'), { id, name });
  await su('POST', recordsPath('members'), { user: USERS.cat, team: TEAMS.red });
  await su('POST', recordsPath('members'), { user: USERS.bob, team: TEAMS.blue });

  const collectionIds: Record<string, string> = {};
  for (const [name, rules] of Object.entries(COLLECTIONS)) {
    const c = await su('POST', '/api/collections', {
      name,
      type: 'base',
      ...rules,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        { name: 'team', type: 'relation', collectionId: teams.id, maxSelect: 1 },
        { name: 'secret', type: 'text', hidden: true },
        { name: 'status', type: 'text' },
      ],
    });
    collectionIds[name] = c.id;
    for (const l of LETTERS) await su('POST', recordsPath(name), seedBody(l));
  }
  await su('POST', '/api/collections', {
    name: 'links',
    type: 'base',
    listRule: '',
    viewRule: '',
    fields: [
      ...Object.keys(COLLECTIONS).map((name) => ({
        name,
        type: 'relation',
        collectionId: collectionIds[name],
        maxSelect: 10,
      })),
      { name: 'hiddenref', type: 'relation', collectionId: collectionIds.open, maxSelect: 10, hidden: true },
    ],
  });
  await su('POST', recordsPath('links'), { id: LINK, ...linkBody() });

  // An auth collection for the rules still to come: ann manages it; only verified accounts may sign in.
  await su('POST', '/api/collections', {
    name: 'accounts',
    type: 'auth',
    listRule: '',
    viewRule: '',
    updateRule: '',
    manageRule: "@request.auth.collectionName = 'users' && @request.auth.name = 'ann'",
    authRule: 'verified = true',
  });
  for (const [id, who, verified] of [
    ['accverified0000', 'verified', true],
    ['accunverified00', 'unverified', false],
  ] as const) {
    await su('POST', recordsPath('accounts'), {
      id,
      email: `${who}@example.com`,
      password: PASSWORD,
      passwordConfirm: PASSWORD,
      verified,
    });
  }
});

after(async () => {
  await srv?.close();
});

// ---------------------------------------------------------------------------------------------------------
// The loop.

/** No hidden field anywhere in what a non-superuser gets (records, expanded records). */
function assertNoHidden(value: unknown, role: Role): void {
  if (role === 'superuser' || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) assertNoHidden(v, role);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key of HIDDEN[String(obj.collectionName)] ?? [])
    assert.ok(!(key in obj), `hidden field "${key}" of ${obj.collectionName} sent to ${role}`);
  for (const v of Object.values(obj)) assertNoHidden(v, role);
}

const sorted = (a: string[]) => [...a].sort();

async function runCell(cell: Cell): Promise<void> {
  const { role, action } = cell;
  const call = (method: string, path: string, body?: unknown) =>
    srv.request(method, path, { token: tokens[role] || undefined, body, headers: cell.headers });
  const show = (res: { status: number; body: Json }) => `${res.status} ${JSON.stringify(res.body)}`;

  switch (action.kind) {
    case 'list': {
      const res = await call('GET', recordsPath(action.collection, undefined, action.query));
      assert.equal(res.status, action.status, show(res));
      assertNoHidden(res.body, role);
      if (action.status !== 200 || !action.ids) return;
      const got = res.body.items.map((r: Json) => r.id);
      assert.deepEqual(action.ordered ? got : sorted(got), action.ordered ? action.ids : sorted(action.ids));
      assert.equal(res.body.totalItems, action.ids.length, 'totalItems');
      if (action.keys)
        for (const item of res.body.items) assert.deepEqual(Object.keys(item).sort(), action.keys);
      return;
    }
    case 'view': {
      const res = await call('GET', recordsPath(action.collection, action.id));
      assert.equal(res.status, action.status, show(res));
      assertNoHidden(res.body, role);
      if (res.status === 200) {
        assert.equal(res.body.id, action.id);
        if (role === 'superuser')
          assert.equal(typeof res.body.secret, 'string', 'superusers see hidden fields');
      }
      return;
    }
    case 'expand': {
      const res = await call('GET', recordsPath('links', LINK, `?expand=${action.expand}`));
      assert.equal(res.status, 200, show(res));
      assertNoHidden(res.body, role);
      const got = (res.body.expand?.[action.expand] ?? []).map((r: Json) => r.id);
      assert.deepEqual(sorted(got), sorted(action.ids), 'expanded records');
      return;
    }
    case 'create': {
      const id = newId();
      const before = await count(action.collection);
      try {
        const res = await call('POST', recordsPath(action.collection), { id, ...action.body });
        assert.equal(res.status, action.status, show(res));
        assertNoHidden(res.body, role);
        const written = action.status === 200;
        if (written) assert.equal(res.body.id, id);
        const row = await stored(action.collection, id);
        assert.equal(
          row !== undefined,
          written,
          written ? 'the record was not written' : 'a record was written',
        );
        // Hidden fields are the superuser's to write: a client's value for one is ignored.
        const ignored = (k: string) => role !== 'superuser' && HIDDEN[action.collection]?.includes(k);
        if (row)
          for (const [k, v] of Object.entries(action.body))
            assert.equal(row[k], ignored(k) ? '' : v, `stored ${k}`);
        assert.equal(await count(action.collection), before + (written ? 1 : 0), 'records in the collection');
      } finally {
        if (await stored(action.collection, id)) await su('DELETE', recordsPath(action.collection, id));
      }
      return;
    }
    case 'update': {
      const id = idOf(action.letter);
      try {
        const res = await call('PATCH', recordsPath(action.collection, id), action.body);
        assert.equal(res.status, action.status, show(res));
        assertNoHidden(res.body, role);
        const row = await stored(action.collection, id);
        assert.ok(row, 'the record is still there');
        const expected = action.status === 200 ? action.body : SEED[action.letter];
        for (const key of Object.keys(action.body))
          assert.equal(row[key], (expected as Json)[key], `stored ${key}`);
        for (const key of Object.keys(SEED[action.letter]))
          if (!(key in action.body))
            assert.equal(row[key], (SEED[action.letter] as Json)[key], `stored ${key}`);
      } finally {
        await restore(action.collection, action.letter);
      }
      return;
    }
    case 'delete': {
      const id = idOf(action.letter);
      try {
        const res = await call('DELETE', recordsPath(action.collection, id));
        assert.equal(res.status, action.status, show(res));
        const gone = (await stored(action.collection, id)) === undefined;
        assert.equal(
          gone,
          action.status === 204,
          gone ? 'the record was deleted' : 'the record is still there',
        );
      } finally {
        await restore(action.collection, action.letter);
      }
      return;
    }
    case 'signin': {
      const res = await call('POST', `/api/collections/${action.collection}/auth-with-password`, {
        identity: action.identity,
        password: PASSWORD,
      });
      assert.equal(res.status, action.status, show(res));
      // A turned-away record gets the same answer as a wrong password (docs/rules.md).
      if (action.status !== 200) assert.equal(res.body?.token, undefined);
      return;
    }
    case 'patch-email': {
      const before = await stored(action.collection, action.id);
      try {
        const res = await call('PATCH', recordsPath(action.collection, action.id), { email: action.email });
        assert.equal(res.status, action.status, show(res));
        const after = await stored(action.collection, action.id);
        assert.equal(after.email, action.status === 200 ? action.email : before.email, 'stored email');
      } finally {
        await su('PATCH', recordsPath(action.collection, action.id), { email: before.email });
      }
      return;
    }
  }
}

const groups = [...new Set(CELLS.map((c) => c.group))];
for (const group of groups) {
  describe(group, () => {
    for (const cell of CELLS.filter((c) => c.group === group)) {
      test(cell.name, cell.todo ? { todo: cell.todo } : {}, () => runCell(cell));
    }
  });
}

// Realtime: the collection topic follows the list rule, a record topic the view rule (both `see` here).
// The superuser touches each record (an update that changes nothing); each role's subscriber must get
// exactly the events of the records it may see, with no hidden field.
describe('realtime × every collection × subscribe', () => {
  before(() => {
    (globalThis as { EventSource?: unknown }).EventSource ??= EventSource;
  });
  for (const [variant, { collection, headers }] of Object.entries(VARIANTS) as Array<
    [Variant, (typeof VARIANTS)[Variant]]
  >) {
    for (const role of ROLES) {
      test(`${role} × ${variant} × subscribe('*') and subscribe(id)`, async () => {
        const see = ACCESS[variant][role].see;
        const expected = see === X ? [] : letters(see);
        const pb = srv.client();
        if (tokens[role]) pb.authStore.save(tokens[role], null);
        const all: string[] = [];
        const one: string[] = [];
        const received: Json[] = [];
        const offs = [
          await pb
            .collection(collection)
            .subscribe('*', (e) => received.push(e.record) && all.push(e.record.id), { headers }),
          await pb.collection(collection).subscribe(idOf('A'), (e) => one.push(e.record.id), { headers }),
          await pb.collection(collection).subscribe(idOf('D'), (e) => one.push(e.record.id), { headers }),
        ];
        const marks: string[] = [];
        offs.push(await pb.collection('links').subscribe(LINK, (e) => marks.push(e.record.id)));
        try {
          for (const l of LETTERS)
            await su('PATCH', recordsPath(collection, idOf(l)), { title: SEED[l].title });
          // `links` is open to everyone and updated last: once its event is in, the others have arrived.
          await su('PATCH', recordsPath('links', LINK), {});
          const deadline = Date.now() + 5000;
          while (marks.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
          assert.deepEqual(marks, [LINK], 'the marker arrived');
          assert.deepEqual(all, ids(expected.join('')), 'collection topic');
          for (const record of received) assertNoHidden(record, role);
          assert.deepEqual(
            one.sort(),
            ids(expected.filter((l) => l === 'A' || l === 'D').join('')),
            'record topics',
          );
        } finally {
          for (const off of offs) await off();
        }
      });
    }
  }
});
