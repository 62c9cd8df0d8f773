// A schema change applies whole or not at all, on every engine. SQLite and PostgreSQL roll DDL back with
// the transaction; MySQL/MariaDB commit each DDL statement, so there the change is undone step by step.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startServer, type TestServer } from './helpers/server.ts';

let server: TestServer;
let counter = 0;
const uniq = (prefix: string) => `${prefix}_${Date.now().toString(36)}${++counter}`;

before(async () => {
  server = await startServer();
});

after(async () => {
  await server?.close();
});

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked key by key.
type Body = Record<string, any>;

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Body }> {
  return server.request(method, path, { body, token: server.adminToken });
}

async function ok(method: string, path: string, body?: unknown): Promise<Body> {
  const res = await call(method, path, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Tables and indexes as the engine lists them, and the columns a `SELECT *` of `table` shows. */
async function physical(table: string): Promise<{ names: string[]; columns: string[] }> {
  const { db } = server.app;
  const names = await db.run<{ name: string }>(db.kysely, db.dialect.listTablesSql(), []);
  const rows = await db.run<Record<string, unknown>>(
    db.kysely,
    `SELECT * FROM ${db.dialect.quote(table)} LIMIT 1`,
    [],
  );
  return {
    names: names.map((r) => r.name.toLowerCase()).sort(),
    columns: Object.keys(rows[0] ?? {}).sort(),
  };
}

async function records(name: string, sort = 'title'): Promise<Body[]> {
  const list = await ok('GET', `/api/collections/${name}/records?perPage=100&sort=${sort}`);
  return list.items;
}

describe('failed schema changes', () => {
  test('a change that fails half-way leaves table, indexes, data and the definition as they were', async () => {
    const name = uniq('atomic');
    const c = await ok('POST', '/api/collections', {
      name,
      listRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'code', type: 'text' },
        { name: 'tags', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
        { name: 'note', type: 'text' },
      ],
      indexes: [
        `CREATE UNIQUE INDEX idx_${name}_code ON ${name} (code COLLATE NOCASE)`,
        `CREATE INDEX idx_${name}_title ON ${name} (title)`,
      ],
    });
    await ok('POST', `/api/collections/${name}/records`, {
      title: 'one',
      code: 'c1',
      tags: ['a', 'b'],
      note: 'n1',
    });
    await ok('POST', `/api/collections/${name}/records`, {
      title: 'two',
      code: 'c2',
      tags: ['c', 'b'],
      note: 'n2',
    });
    const definition = await ok('GET', `/api/collections/${c.id}`);
    const data = await records(name);
    const tables = await physical(name);

    // Every kind of step, then a unique index that only fails once `tags` holds one value per record
    // (both keep their last, 'b'): no check can see that before the DDL runs.
    const renamed = uniq('atomic_renamed');
    const change = {
      name: renamed,
      fields: [
        ...c.fields
          .filter((f: Body) => f.name !== 'note')
          .map((f: Body) =>
            f.name === 'title' ? { ...f, name: 'headline' } : f.name === 'tags' ? { ...f, maxSelect: 1 } : f,
          ),
        { name: 'score', type: 'number' },
        { name: 'added', type: 'text' },
      ],
      indexes: [
        `CREATE UNIQUE INDEX idx_${name}_code ON ${renamed} (code)`,
        `CREATE INDEX idx_${name}_headline ON ${renamed} (headline)`,
        `CREATE UNIQUE INDEX idx_${name}_tags ON ${renamed} (tags)`,
      ],
    };
    const res = await call('PATCH', `/api/collections/${c.id}`, change);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.data.indexes, JSON.stringify(res.body));

    assert.deepEqual(await ok('GET', `/api/collections/${c.id}`), definition);
    assert.equal((await call('GET', `/api/collections/${renamed}`)).status, 404);
    assert.deepEqual(await records(name), data);
    assert.deepEqual(await physical(name), tables);
    // The old unique index still holds, case-insensitively; the old layout still takes writes.
    const dup = await call('POST', `/api/collections/${name}/records`, { title: 'three', code: 'C1' });
    assert.equal(dup.status, 400, JSON.stringify(dup.body));
    assert.equal(dup.body.data.code?.code, 'validation_not_unique');
    await ok('POST', `/api/collections/${name}/records`, {
      title: 'three',
      code: 'c3',
      tags: ['c', 'a'],
      note: 'n3',
    });

    // Nothing was left behind: once the data allows it, the same change succeeds.
    const two = data.find((r) => r.title === 'two')!;
    await ok('PATCH', `/api/collections/${name}/records/${two.id}`, { tags: ['c'] });
    const changed = await ok('PATCH', `/api/collections/${c.id}`, change);
    assert.equal(changed.indexes.length, 3);
    const after = await ok('GET', `/api/collections/${renamed}/records?perPage=100&sort=headline`);
    assert.deepEqual(
      after.items.map((r: Body) => [r.headline, r.code, r.tags, r.score, r.added]),
      [
        ['one', 'c1', 'b', 0, ''],
        ['three', 'c3', 'a', 0, ''],
        ['two', 'c2', 'c', 0, ''],
      ],
    );
    const clash = await call('POST', `/api/collections/${renamed}/records`, { headline: 'four', tags: 'b' });
    assert.equal(clash.body.data?.tags?.code, 'validation_not_unique', JSON.stringify(clash.body));
  });

  test('an import that fails on a later collection leaves the earlier ones, and deleted ones, as they were', async () => {
    const keepName = uniq('imp_keep');
    const keep = await ok('POST', '/api/collections', {
      name: keepName,
      listRule: '',
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${keepName}_title ON ${keepName} (title)`],
    });
    await ok('POST', `/api/collections/${keepName}/records`, { title: 'kept' });
    const goneName = uniq('imp_gone');
    const gone = await ok('POST', '/api/collections', {
      name: goneName,
      listRule: '',
      fields: [{ name: 'title', type: 'text' }],
      indexes: [`CREATE UNIQUE INDEX idx_${goneName}_title ON ${goneName} (title)`],
    });
    await ok('POST', `/api/collections/${goneName}/records`, { title: 'still here' });
    const failName = uniq('imp_fail');
    const fail = await ok('POST', '/api/collections', {
      name: failName,
      listRule: '',
      fields: [
        { name: 'title', type: 'text' },
        { name: 'tags', type: 'select', values: ['a', 'b'], maxSelect: 2 },
      ],
    });
    await ok('POST', `/api/collections/${failName}/records`, { title: 'x', tags: ['a', 'b'] });
    await ok('POST', `/api/collections/${failName}/records`, { title: 'y', tags: ['b'] });
    const everything = (await ok('GET', '/api/collections?perPage=500')).items;
    const tables = await physical(keepName);

    const others = everything.filter((c: Body) => ![keep.id, gone.id, fail.id].includes(c.id));
    const res = await call('PUT', '/api/collections/import', {
      deleteMissing: true,
      collections: [
        ...others,
        // Renamed, with a field renamed and its index's name reused by a new collection below.
        {
          ...keep,
          name: uniq('imp_keep_renamed'),
          fields: keep.fields.map((f: Body) => (f.name === 'title' ? { ...f, name: 'heading' } : f)),
          indexes: [],
        },
        {
          name: uniq('imp_new'),
          type: 'base',
          fields: [{ name: 'title', type: 'text' }],
          indexes: [`CREATE UNIQUE INDEX idx_${goneName}_title ON x (title)`],
        },
        {
          ...fail,
          fields: fail.fields.map((f: Body) => (f.name === 'tags' ? { ...f, maxSelect: 1 } : f)),
          indexes: [`CREATE UNIQUE INDEX idx_${failName}_tags ON ${failName} (tags)`],
        },
      ],
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));

    const now = (await ok('GET', '/api/collections?perPage=500')).items;
    assert.deepEqual(now, everything);
    assert.deepEqual(await physical(keepName), tables);
    assert.deepEqual(
      (await records(keepName)).map((r) => r.title),
      ['kept'],
    );
    assert.deepEqual(
      (await records(goneName)).map((r) => r.title),
      ['still here'],
    );
    assert.deepEqual(
      (await records(failName)).map((r) => r.tags),
      [['a', 'b'], ['b']],
    );
    const dup = await call('POST', `/api/collections/${goneName}/records`, { title: 'still here' });
    assert.equal(dup.body.data?.title?.code, 'validation_not_unique', JSON.stringify(dup.body));
  });

  test('an index follows its field when two fields swap names', async () => {
    const name = uniq('swap');
    const c = await ok('POST', '/api/collections', {
      name,
      listRule: '',
      fields: [
        { name: 'a', type: 'text' },
        { name: 'b', type: 'text' },
      ],
      indexes: [`CREATE UNIQUE INDEX idx_${name}_a ON ${name} (a)`],
    });
    await ok('POST', `/api/collections/${name}/records`, { a: 'x', b: 'same' });
    await ok('POST', `/api/collections/${name}/records`, { a: 'y', b: 'same' });
    // The index text still says (a): it now means the field called a, which held b's values.
    const swapped = c.fields.map((f: Body) =>
      f.name === 'a' ? { ...f, name: 'b' } : f.name === 'b' ? { ...f, name: 'a' } : f,
    );
    const res = await call('PATCH', `/api/collections/${c.id}`, { fields: swapped });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.ok(res.body.data.indexes, JSON.stringify(res.body));
    const list = await records(name, 'a');
    await ok('PATCH', `/api/collections/${name}/records/${list[1]!.id}`, { b: 'other' });
    await ok('PATCH', `/api/collections/${c.id}`, { fields: swapped });
    const dup = await call('POST', `/api/collections/${name}/records`, { a: 'same', b: 'x' });
    assert.equal(dup.body.data?.a?.code, 'validation_not_unique', JSON.stringify(dup.body));
    await ok('POST', `/api/collections/${name}/records`, { a: 'new', b: 'x' });
  });
});
