// Property test: random filters and expands through lists (back-relations, multi relations, chains of
// both) over data where one record is pointed at by all the others — the shape that makes a short query's
// cost grow with the data. Whatever the request: it ends as 200 or a 400 within a bounded time, an answer
// stays within the expand bound, and meanwhile the server keeps answering another client's health checks.
// PLINTH_FC_SEED fixes the seed; PLINTH_FUZZ_RUNS the runs per property.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { createSelfRelated, getFrom } from './helpers/skewed.ts';

const SEED = Number(process.env.PLINTH_FC_SEED ?? 20261204);
const RUNS = Number(process.env.PLINTH_FUZZ_RUNS ?? 120);
const N = 200;
/** One request may run a few statements (page, count, expand levels), each up to the 0.5 s limit. */
const MAX_REQUEST_MS = 10_000;

let srv: TestServer;

const get = (from: string, path: string) => getFrom(srv, from, path);

before(async () => {
  srv = await startServer({ flags: { queryTimeout: 500 } });
  await srv.request('PATCH', '/api/settings', {
    token: srv.adminToken,
    body: { rateLimits: { enabled: false } },
  });
  await createSelfRelated(srv);
  const hub = (await srv.admin.collection('a').create({ title: 'hub' })).id;
  const ids = [hub];
  const batch: Promise<{ id: string }>[] = [];
  for (let i = 1; i < N; i++) {
    batch.push(
      srv.admin
        .collection('a')
        .create({ title: `t${i % 7}`, b: hub, x: ids[i % ids.length], m: [hub, ids[(i * 7) % ids.length]] }),
    );
    if (batch.length === 25) ids.push(...(await Promise.all(batch.splice(0))).map((r) => r.id));
  }
  ids.push(...(await Promise.all(batch)).map((r) => r.id));
});

after(async () => {
  await srv?.close();
});

const hop = fc.constantFrom('a_via_b', 'a_via_x', 'a_via_m', 'b', 'x', 'm');
const path = fc.array(hop, { minLength: 1, maxLength: 4 }).map((hops) => hops.join('.'));
const end = fc.constantFrom('title', 'id');
const operand = fc.oneof(
  fc.tuple(path, end).map(([p, e]) => `${p}.${e}`),
  fc.constantFrom("'hub'", "'t3'", "''", 'null'),
);
const op = fc.constantFrom('=', '!=', '?=', '?!=', '~', '?~');
const comparison = fc
  .tuple(
    fc.tuple(path, end).map(([p, e]) => `${p}.${e}`),
    op,
    operand,
  )
  .map((t) => t.join(' '));
const filter = fc
  .array(comparison, { minLength: 1, maxLength: 3 })
  .chain((cs) =>
    fc
      .array(fc.constantFrom(' && ', ' || '), { minLength: cs.length - 1, maxLength: cs.length - 1 })
      .map((joins) => cs.reduce((acc, c, i) => `${acc}${joins[i - 1]}${c}`)),
  );
const expand = fc.array(path, { minLength: 1, maxLength: 3 }).map((ps) => ps.join(','));
const query = fc.record({
  filter: fc.option(filter, { nil: undefined }),
  expand: fc.option(expand, { nil: undefined }),
  perPage: fc.constantFrom('30', '200'),
});

describe(`the cost of a request stays bounded whatever its filter and expand (${TEST_ENGINE})`, () => {
  test(`${RUNS} generated lists (seed ${SEED}), with another client's health checks alongside`, async () => {
    let stop = false;
    let worstHealth = 0;
    const probe = (async () => {
      while (!stop) {
        const res = await get('127.0.0.3', '/api/health');
        assert.equal(res.status, 200);
        worstHealth = Math.max(worstHealth, res.ms);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const statuses = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(query, async (q) => {
          const params = new URLSearchParams(
            Object.entries(q).filter((e): e is [string, string] => e[1] !== undefined),
          );
          const res = await get('127.0.0.2', `/api/collections/a/records?${params}`);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          assert.ok([200, 400].includes(res.status), `${res.status} for ${params}`);
          assert.ok(res.ms < MAX_REQUEST_MS, `${Math.round(res.ms)} ms for ${params}`);
          assert.ok(res.bytes < 40 * 1024 * 1024, `${res.bytes} bytes for ${params}`);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    } finally {
      stop = true;
      await probe;
    }
    console.log(
      `# cost fuzz: ${[...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')}; worst health check ${Math.round(worstHealth)} ms`,
    );
    assert.ok(worstHealth < 1000, `a health check took ${Math.round(worstHealth)} ms`);
    assert.ok((statuses.get(200) ?? 0) > RUNS / 10, 'the generator must also make requests that succeed');
  });
});
