// Realtime decides simple rules and filters without the database (src/records/memory-rule.ts). Wherever
// it decides, its answer must be the database's: here each generated rule is set as a collection's list
// rule, and the records list (SQL) answers whether each caller sees each record; the in-memory answer,
// where there is one, must agree. Every engine.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AuthContext } from '../src/records/index.ts';
import { decideInMemory, ownerFieldOf } from '../src/records/memory-rule.ts';
import { startServer, type TestServer } from './helpers/server.ts';

const LEFT = ['id', 'title', 'owner', 'kind', 'mail', 'n', 'flag', 'secret', 'nosuch'];
const RIGHT = [
  '@request.auth.id',
  '@request.auth.email',
  '@request.auth.verified',
  '@request.auth.name',
  '@request.query.key',
  '@request.headers.x_key',
  '""',
  '"A"',
  '"05"',
  '5',
  'true',
  'null',
  'owner',
];
const OPS = ['=', '!=', '>='];

describe('rules decided in memory agree with the database', () => {
  let server: TestServer;
  const callers: { name: string; token?: string; auth: AuthContext }[] = [];
  const records: Record<string, unknown>[] = [];

  before(async () => {
    server = await startServer();
    const pb = server.admin;
    const users = await pb.collections.getOne('users');
    await pb.collections.create({
      name: 'mr_items',
      type: 'base',
      listRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'owner', type: 'relation', collectionId: users.id, maxSelect: 1 },
        { name: 'kind', type: 'select', values: ['a', 'A', '05', '5'], maxSelect: 1 },
        { name: 'mail', type: 'email' },
        { name: 'n', type: 'number' },
        { name: 'flag', type: 'bool' },
        { name: 'secret', type: 'text', hidden: true },
      ],
    });
    const collection = server.app.collections.get('mr_items');
    const usersCollection = server.app.collections.get('users');
    callers.push({ name: 'guest', auth: { collection: null, record: null, isSuperuser: false } });
    for (const email of ['a@example.com', 'b@example.com']) {
      const user = await pb
        .collection('users')
        .create({ email, password: 'password-123', passwordConfirm: 'password-123', name: 'a' });
      const token = (await server.client().collection('users').authWithPassword(email, 'password-123')).token;
      const stored = await server.app.records.find(usersCollection, user.id);
      callers.push({
        name: email,
        token,
        auth: { collection: usersCollection, record: stored ?? null, isSuperuser: false },
      });
    }
    const ownerA = String(callers[1]?.auth.record?.id);
    for (const values of [
      { title: 'a', owner: ownerA, kind: 'a', mail: 'a@example.com', n: 5, flag: true, secret: 'a' },
      { title: '', owner: '', kind: '', mail: '', n: 0, flag: false, secret: '' },
      { title: '05', owner: String(callers[2]?.auth.record?.id), kind: '05', mail: '', n: 5, secret: 'A' },
      { title: 'A', owner: ownerA, kind: 'A', mail: 'b@example.com', n: 1, secret: '5' },
      { title: 'users', kind: '5', n: 0 },
    ]) {
      const created = await pb.collection('mr_items').create(values);
      const stored = await server.app.records.find(collection, created.id);
      records.push(stored as Record<string, unknown>);
    }
  });
  after(() => server.close());

  it('for every comparison form, caller and record', async () => {
    const collection = () => server.app.collections.get('mr_items');
    let decided = 0;
    let compared = 0;
    const texts: string[] = [];
    for (const left of LEFT)
      for (const op of OPS) for (const right of RIGHT) texts.push(`${left} ${op} ${right}`);
    texts.push('owner = @request.auth.id || title = "a"', 'owner = @request.auth.id && kind != ""');
    texts.push('nosuch = "x" || title = "a"', 'title = "a" && n > 1');
    texts.push('n > 1 && @request.auth.id = owner', '(owner = @request.auth.id && n > 0) && flag = true');
    texts.push(
      'owner = @request.auth.id || n > 1',
      'owner:lower = @request.auth.id',
      'owner ?= @request.auth.id',
    );
    let owned = 0;
    for (const text of texts) {
      const saved = await server.request('PATCH', '/api/collections/mr_items', {
        token: server.adminToken,
        body: { listRule: text },
      });
      if (saved.status !== 200) {
        // A rule that cannot be saved does not compile: memory must not decide it either.
        for (const caller of callers)
          for (const values of records)
            assert.equal(decideInMemory(text, collection(), values, caller.auth, false), undefined, text);
        continue;
      }
      for (const caller of callers) {
        const res = await server.request('GET', '/api/collections/mr_items/records?perPage=100&key=a', {
          token: caller.token,
          headers: { 'x-key': 'A' },
        });
        const visible =
          res.status === 200 ? new Set(res.body.items.map((r: { id: string }) => r.id)) : new Set();
        // A rule that names an owner field lets a signed-in caller see only records whose field is their id.
        const ownerField = ownerFieldOf(text, collection());
        if (ownerField && caller.token) {
          owned++;
          for (const values of records)
            if (typeof values[ownerField] === 'string' && values[ownerField] !== caller.auth.record?.id)
              assert.ok(!visible.has(values.id), `rule ${text}, caller ${caller.name}, ${values.id}`);
        }
        for (const values of records) {
          const auth: AuthContext = {
            ...caller.auth,
            request: { method: 'GET', query: { key: 'a' }, headers: { x_key: 'A' }, context: 'default' },
          };
          const memory = decideInMemory(text, collection(), values, auth, false);
          compared++;
          if (memory === undefined) continue;
          decided++;
          assert.equal(
            memory,
            visible.has(values.id),
            `rule ${text}, caller ${caller.name}, record ${JSON.stringify(values)}`,
          );
        }
      }
    }
    // owner/id/title = @request.auth.id (both ways round), and the and-ed forms, for each signed-in caller.
    assert.ok(owned >= 2 * 8, `${owned} owner checks`);
    for (const text of [
      'owner = @request.auth.id || n > 1',
      'owner:lower = @request.auth.id',
      'n = @request.auth.id',
    ])
      assert.equal(ownerFieldOf(text, collection()), undefined, text);
    // The point is to spare the database the common rules: the owner rule is always decided in memory.
    assert.ok(decided > compared / 5, `${decided} of ${compared} decided`);
    for (const caller of callers)
      for (const values of records)
        assert.notEqual(
          decideInMemory('owner = @request.auth.id', collection(), values, caller.auth, false),
          undefined,
        );
  });
});
