// The `owner` scenarios: what a typical owner-only list rule costs, measured on Plinth against itself
// (no baseline), in the same run:
//
//   GET /api/collections/notes_rule/records?perPage=20&sort=-created                        (owner-rule)
//   GET /api/collections/notes_open/records?perPage=20&sort=-created&filter=owner='<id>'   (owner-filter)
//
// both with `Authorization: <token>` of the same user. `notes_rule` and `notes_open` are identical
// (title, owner -> users, index on owner) except the list rule: `owner = @request.auth.id` against `""`,
// and they hold the same rows, so the client filter on `notes_open` asks for exactly what the rule lets
// through on `notes_rule`: the same page (ids, order, fields, totals), checked before any load. The
// difference between the two is the rule's own cost: resolving `@request.auth.id` and ANDing the rule
// into the query, against parsing the same condition from the URL.
//
// Data: 100,000 notes (`--notes`) over N/100 users from a fixed seed. The first user is created through
// the API (with a password, so it can sign in; the one argon2 login happens during setup, never under
// load); the others are copies of its row with their own id, email and tokenKey, inserted straight into
// `users`. Notes go straight into both tables in transactions, as in bench/query-scenario.ts.
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { idSource, prng } from './random.ts';
import type { Scenario, Target } from './scenarios.ts';
import { checkColumns, insertChunked, pgColumns } from './seed.ts';
import { api, type BenchDb, type RunningServer } from './servers.ts';

const PER_PAGE = 20;
const PASSWORD = 'ownerpass123';
const RULE_COLLECTION = 'notes_rule';
const OPEN_COLLECTION = 'notes_open';
const OWNER_RULE = 'owner = @request.auth.id';
const NOTE_COLUMNS = ['id', 'title', 'owner', 'created', 'updated'] as const;

export interface NoteRow {
  id: string;
  title: string;
  owner: string;
  created: string;
  updated: string;
}

/** The generated rows; `users[0]` is the one that signs in and whose notes the scenarios list. */
export interface OwnerDataset {
  users: string[];
  notes: NoteRow[];
}

/** `notes` records over `notes / 100` users (at least 1), owners at random; timestamps 1 s apart. */
export function generateOwnerDataset(notes: number): OwnerDataset {
  const rand = prng(0x0c0ffee5);
  const newId = idSource(rand);
  const userCount = Math.max(1, Math.round(notes / 100));
  const users = Array.from({ length: userCount }, newId);
  const base = Date.UTC(2024, 0, 1);
  const rows: NoteRow[] = [];
  for (let i = 0; i < notes; i++) {
    const s = new Date(base + 1000 * i).toISOString().replace('T', ' ');
    rows.push({
      id: newId(),
      title: `Note ${String(i).padStart(6, '0')}`,
      owner: users[Math.floor(rand() * userCount)]!,
      created: s,
      updated: s,
    });
  }
  return { users, notes: rows };
}

/** The page both requests must answer: the first user's notes, newest first, and their totals. */
function expectedPage(data: OwnerDataset) {
  const mine = data.notes.filter((n) => n.owner === data.users[0]);
  mine.sort((a, b) => (a.created < b.created ? 1 : a.created > b.created ? -1 : 0));
  return {
    page: 1,
    perPage: PER_PAGE,
    totalItems: mine.length,
    totalPages: Math.ceil(mine.length / PER_PAGE),
    items: mine.slice(0, PER_PAGE),
  };
}

/** Where a list answer differs from `want` (totals, then item by item on the note's fields), or null. */
function pageProblem(got: unknown, want: ReturnType<typeof expectedPage>, collection: string): string | null {
  const g = (got ?? {}) as Record<string, unknown>;
  for (const k of ['page', 'perPage', 'totalItems', 'totalPages'] as const) {
    if (g[k] !== want[k]) return `${k} ${JSON.stringify(g[k])}, expected ${want[k]}`;
  }
  if (!Array.isArray(g.items)) return 'no items array';
  if (g.items.length !== want.items.length) return `${g.items.length} items, expected ${want.items.length}`;
  for (let i = 0; i < want.items.length; i++) {
    const item = (g.items[i] ?? {}) as Record<string, unknown>;
    const expected: Record<string, unknown> = { ...want.items[i], collectionName: collection };
    for (const k of Object.keys(expected)) {
      if (item[k] !== expected[k]) {
        return `item ${i}: ${k} is ${JSON.stringify(item[k])}, expected ${JSON.stringify(expected[k])}`;
      }
    }
  }
  return null;
}

/** Per server: the signed-in user's token (from the one auth-with-password call in setup). */
const tokens = new WeakMap<RunningServer, string>();

/** The request headers of both scenarios: the signed-in user's token. */
export function ownerHeaders(target: Target): Record<string, string> {
  const token = tokens.get(target.server);
  if (!token) throw new Error(`${target.server.name}: no owner token (owner data not seeded)`);
  return { authorization: token };
}

const rulePath = () => `/api/collections/${RULE_COLLECTION}/records?perPage=${PER_PAGE}&sort=-created`;
const openPath = (owner: string) =>
  `/api/collections/${OPEN_COLLECTION}/records?perPage=${PER_PAGE}&sort=-created` +
  `&filter=${encodeURIComponent(`owner='${owner}'`)}`;

/** `owner-rule` and `owner-filter`; `check` compares an answer with the page computed here. */
export function ownerScenarios(data: () => OwnerDataset): Scenario[] {
  return [
    {
      name: 'owner-rule',
      method: 'GET',
      path: rulePath,
      check: (json) => pageProblem(json, expectedPage(data()), RULE_COLLECTION),
    },
    {
      name: 'owner-filter',
      method: 'GET',
      path: () => openPath(data().users[0]!),
      check: (json) => pageProblem(json, expectedPage(data()), OPEN_COLLECTION),
    },
  ];
}

async function createCollections(server: RunningServer): Promise<void> {
  const users = await api(server.baseUrl, 'GET', '/api/collections/users', undefined, server.adminHeaders);
  const usersId = (users.json as { id?: unknown } | undefined)?.id;
  if (users.status !== 200 || typeof usersId !== 'string') {
    throw new Error(`${server.name}: no users collection: ${users.status} ${users.text.slice(0, 300)}`);
  }
  for (const [name, listRule] of [
    [RULE_COLLECTION, OWNER_RULE],
    [OPEN_COLLECTION, ''],
  ] as const) {
    const body = {
      name,
      type: 'base',
      listRule,
      viewRule: listRule,
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: usersId, maxSelect: 1 },
        { name: 'created', type: 'autodate', onCreate: true, onUpdate: false },
        { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
      ],
      indexes: [`CREATE INDEX idx_${name}_owner ON ${name} (owner)`],
    };
    const res = await api(server.baseUrl, 'POST', '/api/collections', body, server.adminHeaders);
    if (res.status !== 200) {
      throw new Error(`creating the ${name} collection failed: ${res.status} ${res.text.slice(0, 300)}`);
    }
  }
}

const email = (i: number) => `owner${i}@example.com`;
/** tokenKeys for the copied users: unique, fixed (nobody signs in as them). */
const tokenKey = (id: string) => `benchtokenkey_${id}_${'x'.repeat(20)}`;

/** The columns of `users` that a copied user takes from the template row as they are. */
function copiedColumns(columns: string[]): string[] {
  for (const c of ['id', 'email', 'tokenKey']) {
    if (!columns.includes(c)) throw new Error(`users has no ${c} column (has ${columns.join(', ')})`);
  }
  return columns.filter((c) => !['id', 'email', 'tokenKey', '_rowid'].includes(c));
}

const quote = (c: string) => `"${c}"`;

function seedSqlite(server: string, file: string, data: OwnerDataset): void {
  const db = new DatabaseSync(file);
  try {
    db.exec('PRAGMA busy_timeout = 10000');
    const columns = (table: string) =>
      (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
    checkColumns(server, RULE_COLLECTION, columns(RULE_COLLECTION), NOTE_COLUMNS);
    checkColumns(server, OPEN_COLLECTION, columns(OPEN_COLLECTION), NOTE_COLUMNS);
    const copied = copiedColumns(columns('users'));
    const insertUser = db.prepare(
      `INSERT INTO users (id, email, "tokenKey", ${copied.map(quote).join(', ')}) ` +
        `SELECT ?, ?, ?, ${copied.map(quote).join(', ')} FROM users WHERE id = ?`,
    );
    db.exec('BEGIN IMMEDIATE');
    for (let i = 1; i < data.users.length; i++) {
      const id = data.users[i]!;
      insertUser.run(id, email(i), tokenKey(id), data.users[0]!);
    }
    db.exec('COMMIT');
    for (const table of [RULE_COLLECTION, OPEN_COLLECTION]) {
      const insert = db.prepare(
        `INSERT INTO ${table} (id, title, owner, created, updated) VALUES (?, ?, ?, ?, ?)`,
      );
      insertChunked(db, insert, data.notes, (n) => [n.id, n.title, n.owner, n.created, n.updated]);
    }
    db.exec('ANALYZE');
  } finally {
    db.close();
  }
}

async function seedPostgres(server: string, url: string, data: OwnerDataset): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = (table: string) => pgColumns(client, table);
    checkColumns(server, RULE_COLLECTION, await columns(RULE_COLLECTION), NOTE_COLUMNS);
    checkColumns(server, OPEN_COLLECTION, await columns(OPEN_COLLECTION), NOTE_COLUMNS);
    const copied = copiedColumns(await columns('users'));
    const others = data.users.slice(1);
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO users (id, email, "tokenKey", ${copied.map(quote).join(', ')}) ` +
        `SELECT u.id, u.email, u.tk, ${copied.map((c) => `t.${quote(c)}`).join(', ')} ` +
        'FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, email, tk) ' +
        'CROSS JOIN (SELECT * FROM users WHERE id = $4) AS t',
      [others, others.map((_, i) => email(i + 1)), others.map(tokenKey), data.users[0]],
    );
    const CHUNK = 10_000;
    for (const table of [RULE_COLLECTION, OPEN_COLLECTION]) {
      for (let i = 0; i < data.notes.length; i += CHUNK) {
        const chunk = data.notes.slice(i, i + CHUNK);
        await client.query(
          `INSERT INTO ${table} (id, title, owner, created, updated) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])`,
          NOTE_COLUMNS.map((c) => chunk.map((n) => n[c])),
        );
      }
    }
    await client.query('COMMIT');
    for (const table of ['users', RULE_COLLECTION, OPEN_COLLECTION])
      await client.query(`VACUUM ANALYZE ${table}`);
  } finally {
    await client.end();
  }
}

/**
 * Seeds Plinth (only Plinth: these scenarios have no baseline): both collections through the API, the
 * signing-in user through the API, the other users and all notes straight into the tables; then signs
 * in once (argon2) and keeps the token for the load.
 */
export async function seedOwner(server: RunningServer, data: OwnerDataset): Promise<void> {
  await createCollections(server);
  const first = { id: data.users[0], email: email(0), password: PASSWORD, passwordConfirm: PASSWORD };
  const created = await api(
    server.baseUrl,
    'POST',
    '/api/collections/users/records',
    first,
    server.adminHeaders,
  );
  if (created.status !== 200 || (created.json as { id?: unknown } | undefined)?.id !== data.users[0]) {
    throw new Error(
      `${server.name}: creating the owner user failed: ${created.status} ${created.text.slice(0, 300)}`,
    );
  }
  const db: BenchDb = server.db;
  if (db.engine === 'sqlite') seedSqlite(server.name, db.file, data);
  else await seedPostgres(server.name, db.url, data);
  const auth = await api(server.baseUrl, 'POST', '/api/collections/users/auth-with-password', {
    identity: email(0),
    password: PASSWORD,
  });
  const token = (auth.json as { token?: unknown } | undefined)?.token;
  if (auth.status !== 200 || typeof token !== 'string') {
    throw new Error(`${server.name}: owner sign-in failed: ${auth.status} ${auth.text.slice(0, 300)}`);
  }
  tokens.set(server, token);
}

/**
 * Before load: each scenario's request (with the token) gives the expected page, and the two answers
 * agree; a guest gets nothing from `notes_rule` (the rule is applied) and the whole table from
 * `notes_open` without the filter (the open side really has no rule).
 */
export async function verifyOwner(
  target: Target,
  scenarios: Scenario[],
  data: OwnerDataset,
): Promise<string[]> {
  const problems: string[] = [];
  const { server } = target;
  const bodies: unknown[] = [];
  for (const s of scenarios) {
    const res = await api(server.baseUrl, s.method, s.path(target), undefined, ownerHeaders(target));
    const problem =
      res.status !== 200 ? `status ${res.status}: ${res.text.slice(0, 300)}` : s.check(res.json, target);
    if (problem) problems.push(`${server.name} ${s.name}: ${problem}`);
    bodies.push(res.json);
  }
  if (bodies.length === 2 && !problems.length) {
    const strip = (b: unknown) => {
      const { items, ...rest } = b as { items: Array<Record<string, unknown>> };
      return JSON.stringify({ ...rest, items: items.map(({ collectionId, collectionName, ...i }) => i) });
    };
    if (strip(bodies[0]) !== strip(bodies[1]))
      problems.push(`${server.name}: owner-rule and owner-filter differ`);
  }
  const guest = await api(server.baseUrl, 'GET', rulePath());
  const guestTotal = (guest.json as { totalItems?: unknown } | undefined)?.totalItems;
  if (guest.status !== 200 || guestTotal !== 0) {
    problems.push(
      `${server.name}: a guest lists ${String(guestTotal)} notes_rule records (${guest.status}), expected 0`,
    );
  }
  const all = await api(
    server.baseUrl,
    'GET',
    `/api/collections/${OPEN_COLLECTION}/records?perPage=1`,
    undefined,
    ownerHeaders(target),
  );
  const allTotal = (all.json as { totalItems?: unknown } | undefined)?.totalItems;
  if (all.status !== 200 || allTotal !== data.notes.length) {
    problems.push(
      `${server.name}: unfiltered notes_open lists ${String(allTotal)} records (${all.status}), expected ${data.notes.length}`,
    );
  }
  return problems;
}
