// The three benchmark scenarios, plus seeding and the pre-load check. Both servers are seeded and
// checked through the same HTTP calls, so they hold the same data and answer the same shapes: a
// benchmark of 404s or of an empty table would be fast and worthless.
import { api, type RunningServer } from './servers.ts';

const RECORDS = '/api/collections/posts/records';
const ID_RE = /^[a-z0-9]{15}$/;
const DATE_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CREATE_BODY = { title: 'hello', n: 1 };

/** What a scenario needs to know about a seeded server. */
export interface Target {
  server: RunningServer;
  /** An existing record id, for get-by-id. */
  recordId: string;
  seeded: number;
}

/** One request the load generator repeats; `check` validates a single answer before any load. */
export interface Scenario {
  name: string;
  method: 'GET' | 'POST';
  path(target: Target): string;
  body?: string;
  check(json: unknown, target: Target): string | null;
}

type Rec = Record<string, unknown>;

/** Why `v` is not a PocketBase-shaped `posts` record, or null if it is. */
function recordProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'not an object';
  const r = v as Rec;
  if (r.collectionName !== 'posts') return `collectionName ${JSON.stringify(r.collectionName)}`;
  if (typeof r.collectionId !== 'string' || !r.collectionId) return 'no collectionId';
  if (typeof r.id !== 'string' || !ID_RE.test(r.id)) return `id ${JSON.stringify(r.id)}`;
  if (typeof r.title !== 'string') return 'title is not a string';
  if (typeof r.n !== 'number') return 'n is not a number';
  for (const k of ['created', 'updated']) {
    if (typeof r[k] !== 'string' || !DATE_RE.test(r[k] as string)) return `${k} ${JSON.stringify(r[k])}`;
  }
  return null;
}

/** The scenarios, in run order: create last, so its inserts do not change what get and list read. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'get',
    method: 'GET',
    path: (t) => `${RECORDS}/${t.recordId}`,
    check: (json, t) => recordProblem(json) ?? ((json as Rec).id === t.recordId ? null : 'wrong record'),
  },
  {
    name: 'list',
    method: 'GET',
    path: () => `${RECORDS}?perPage=20&sort=-created`,
    check: (json, t) => {
      const p = (json ?? {}) as Rec;
      const items = p.items;
      if (!Array.isArray(items)) return 'no items array';
      if (p.page !== 1 || p.perPage !== 20) return `page ${p.page} perPage ${p.perPage}`;
      if (p.totalItems !== t.seeded) return `totalItems ${p.totalItems}, expected ${t.seeded}`;
      if (p.totalPages !== Math.ceil(t.seeded / 20)) return `totalPages ${p.totalPages}`;
      if (items.length !== Math.min(20, t.seeded)) return `${items.length} items`;
      for (const item of items) {
        const problem = recordProblem(item);
        if (problem) return `item: ${problem}`;
      }
      const created = items.map((i: Rec) => i.created as string);
      if (created.some((c, i) => i > 0 && c > created[i - 1]!)) return 'items not sorted by -created';
      return null;
    },
  },
  {
    name: 'create',
    method: 'POST',
    path: () => RECORDS,
    body: JSON.stringify(CREATE_BODY),
    check: (json) => {
      const problem = recordProblem(json);
      if (problem) return problem;
      const r = json as Rec;
      return r.title === CREATE_BODY.title && r.n === CREATE_BODY.n ? null : 'title/n not echoed';
    },
  },
];

/**
 * Inserts `count` records through the public create endpoint with modest concurrency (the same way on
 * every server) and returns one id from the middle of the set for get-by-id.
 */
export async function seed(server: RunningServer, count: number): Promise<string> {
  const ids: string[] = new Array(count);
  let next = 0;
  async function worker(): Promise<void> {
    while (next < count) {
      const i = next++;
      const res = await api(server.baseUrl, 'POST', RECORDS, { title: `seed ${i}`, n: i });
      const id = (res.json as Rec | undefined)?.id;
      if (res.status !== 200 || typeof id !== 'string') {
        throw new Error(
          `${server.name}: seeding record ${i} failed: ${res.status} ${res.text.slice(0, 300)}`,
        );
      }
      ids[i] = id;
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids[Math.floor(count / 2)]!;
}

/**
 * Sends each scenario's request once and checks status 200 and the answer's shape. Runs get and list
 * before create, so list sees exactly the seeded count. Returns the problems found (empty = good).
 */
export async function verify(target: Target): Promise<string[]> {
  const problems: string[] = [];
  for (const s of SCENARIOS) {
    const res = await api(
      target.server.baseUrl,
      s.method,
      s.path(target),
      s.body === undefined ? undefined : JSON.parse(s.body),
    );
    const problem =
      res.status !== 200 ? `status ${res.status}: ${res.text.slice(0, 200)}` : s.check(res.json, target);
    if (problem) problems.push(`${target.server.name} ${s.name}: ${problem}`);
  }
  return problems;
}
