// Property test: whatever body a client shapes (plain keys, `field+`, `+field`, `field-`, hidden fields, in
// any mix), a write the server accepts leaves the record in a state the collection's rules allow. The rules
// bound visible fields through @request.body; hidden fields only superusers set. A body that slips past a
// rule (a modifier the rule does not see, a hidden value it trusts) breaks an invariant and fails here.
// PLINTH_FC_SEED fixes the seed; PLINTH_FUZZ_RUNS the runs per property.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import PocketBase from 'pocketbase';
import { propertyRuns } from './helpers/runs.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const SEED = Number(process.env.PLINTH_FC_SEED ?? 20261204);
const RUNS = propertyRuns('PLINTH_FUZZ_RUNS', 150);

// biome-ignore lint/suspicious/noExplicitAny: record bodies are JSON.
type Json = any;

let srv: TestServer;
let ann = { id: '', token: '' };
let bob = '';

const GUARD = [
  '@request.body.role:isset = false',
  "@request.body.status != 'published'",
  '(@request.body.n:isset = false || @request.body.n <= 10)',
  '@request.body.tags:length <= 2',
  "@request.body.tags:each != 'c'",
].join(' && ');

before(async () => {
  srv = await startServer();
  await srv.request('PATCH', '/api/settings', {
    token: srv.adminToken,
    body: { rateLimits: { enabled: false } },
  });
  const users = await srv.admin.collections.getOne('users');
  await srv.admin.collections.update('users', {
    fields: [...users.fields, { name: 'is_mod', type: 'bool', hidden: true }],
  });
  await srv.admin.collections.create({
    name: 'guarded',
    listRule: 'owner = @request.auth.id',
    viewRule: 'owner = @request.auth.id',
    createRule: `@request.auth.id != '' && owner = @request.auth.id && ${GUARD}`,
    updateRule: `owner = @request.auth.id && @request.body.owner:changed = false && ${GUARD}`,
    fields: [
      { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
      { name: 'role', type: 'select', values: ['user', 'admin'], maxSelect: 1 },
      { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
      { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
      { name: 'n', type: 'number' },
      { name: 'secret', type: 'text', hidden: true },
      { name: 'hn', type: 'number', hidden: true },
      { name: 'htags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3, hidden: true },
    ],
  });
  for (const name of ['ann', 'bob']) {
    await srv.admin.collection('users').create({
      email: `${name}@example.com`,
      password: 'pass-word-1',
      passwordConfirm: 'pass-word-1',
    });
  }
  const pb = new PocketBase(srv.url);
  const auth = await pb.collection('users').authWithPassword('ann@example.com', 'pass-word-1');
  ann = { id: auth.record.id, token: auth.token };
  bob = (await srv.admin.collection('users').getFirstListItem(`email = 'bob@example.com'`)).id;
});

after(async () => {
  await srv?.close();
});

/** What the rules promise of every record ann manages to write. */
function assertAllowed(row: Json, context: string) {
  assert.equal(row.owner, ann.id, `owner changed: ${context}`);
  assert.equal(row.role, '', `role set: ${context}`);
  assert.notEqual(row.status, 'published', `published: ${context}`);
  assert.ok(row.n <= 10, `n = ${row.n}: ${context}`);
  assert.ok(row.tags.length <= 2 && !row.tags.includes('c'), `tags ${row.tags}: ${context}`);
  assert.deepEqual([row.secret, row.hn, row.htags], ['', 0, []], `hidden fields written: ${context}`);
}

const fieldValues: Record<string, fc.Arbitrary<unknown>> = {
  owner: fc
    .constantFrom(
      () => ann.id,
      () => bob,
      () => '',
    )
    .map((f) => f()),
  role: fc.constantFrom('user', 'admin', '', ['admin']),
  status: fc.constantFrom('draft', 'published', ''),
  tags: fc.oneof(fc.subarray(['a', 'b', 'c']), fc.constantFrom('a', 'c')),
  n: fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constantFrom(1e6, -1e6, '7', 10.5)),
  secret: fc.constantFrom('set', ''),
  hn: fc.integer({ min: -5, max: 5 }),
  htags: fc.subarray(['a', 'b', 'c']),
};
const forms = (name: string) => [name, `${name}+`, `+${name}`, `${name}-`];
const entry = fc
  .constantFrom(...Object.keys(fieldValues))
  .chain((name) => fc.tuple(fc.constantFrom(...forms(name)), fieldValues[name] as fc.Arbitrary<unknown>));
const bodyArb = fc.array(entry, { maxLength: 5 }).map((entries) => Object.fromEntries(entries));

describe('writes the server accepts keep to the rules, whatever the body', () => {
  test(`creates (${RUNS} bodies, seed ${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(bodyArb, async (extra) => {
        const body = { owner: ann.id, ...extra };
        const res = await srv.request('POST', '/api/collections/guarded/records', { token: ann.token, body });
        assert.ok(res.status < 500, JSON.stringify(res.body));
        if (res.status !== 200) return;
        assertAllowed(await srv.admin.collection('guarded').getOne(res.body.id), JSON.stringify(body));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test(`updates (${RUNS} bodies, seed ${SEED})`, async () => {
    const start = { owner: ann.id, n: 3, tags: ['a'] };
    const record = await srv.admin.collection('guarded').create(start);
    await fc.assert(
      fc.asyncProperty(bodyArb, async (body) => {
        const res = await srv.request('PATCH', `/api/collections/guarded/records/${record.id}`, {
          token: ann.token,
          body,
        });
        assert.ok(res.status < 500, JSON.stringify(res.body));
        const row = await srv.admin.collection('guarded').getOne(record.id);
        assertAllowed(row, `${res.status} ${JSON.stringify(body)}`);
        // Back to a known state whatever happened, so that each run starts alike.
        await srv.admin.collection('guarded').update(record.id, { ...start, role: '', status: '' });
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test(`sign-ups (${Math.ceil(RUNS / 3)} bodies): hidden fields stay unset`, async () => {
    let i = 0;
    const hidden = fc.array(
      fc.tuple(
        fc.constantFrom('is_mod', 'is_mod+', 'tokenKey', 'verified'),
        fc.constantFrom(true, 1, 'true'),
      ),
      { maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(hidden, async (entries) => {
        const email = `fz${++i}@example.com`;
        const body = {
          email,
          password: 'pass-word-1',
          passwordConfirm: 'pass-word-1',
          ...Object.fromEntries(entries),
        };
        const res = await srv.request('POST', '/api/collections/users/records', { body });
        assert.ok(res.status < 500, JSON.stringify(res.body));
        if (res.status !== 200) return;
        const row = await srv.admin.collection('users').getOne(res.body.id);
        assert.equal(row.is_mod, false, JSON.stringify(body));
        assert.equal(row.verified, false, JSON.stringify(body));
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 3) },
    );
  });
});
