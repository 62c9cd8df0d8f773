import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { scratch, transfer } from './helpers/transfer.ts';

const SU = { collection: null, record: null, isSuperuser: true };

async function rows(app: App, name: string, filter = ''): Promise<Record<string, unknown>[]> {
  const c = app.collections.get(name);
  return (await app.records.list(c, { filter, sort: 'id', perPage: 1000, skipTotal: true }, SU)).items;
}

async function count(app: App, name: string): Promise<number> {
  return (await app.records.list(app.collections.get(name), { perPage: 1 }, SU)).totalItems;
}

/** Every field type a row can carry (files are named but not imported). */
function kindsFields(targetId: string) {
  return [
    { name: 'title', type: 'text', required: true },
    { name: 'body', type: 'editor' },
    { name: 'n', type: 'number' },
    { name: 'ok', type: 'bool' },
    { name: 'mail', type: 'email' },
    { name: 'site', type: 'url' },
    { name: 'day', type: 'date' },
    { name: 'one', type: 'select', values: ['a', 'b', 'c'], maxSelect: 1 },
    { name: 'many', type: 'select', values: ['a', 'b', 'c'], maxSelect: 3 },
    { name: 'ref', type: 'relation', collectionId: targetId, maxSelect: 1 },
    { name: 'refs', type: 'relation', collectionId: targetId, maxSelect: 5 },
    { name: 'meta', type: 'json' },
    { name: 'spot', type: 'geoPoint' },
    { name: 'doc', type: 'file', maxSelect: 1 },
    { name: 'created', type: 'autodate', onCreate: true },
    { name: 'updated', type: 'autodate', onCreate: true, onUpdate: true },
  ];
}

/** A row as it should survive a round trip: everything but the server-set and file fields. */
function comparable(row: Record<string, unknown>): Record<string, unknown> {
  const { collectionId: _a, collectionName: _b, created: _c, updated: _d, doc: _e, ...rest } = row;
  return rest;
}

describe(`plinth export and import on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  let app: App;
  const files = scratch();
  before(async () => {
    server = await startServer();
    app = server.app;
    const target = await app.collections.create({
      name: 'target',
      type: 'base',
      fields: [{ name: 'name', type: 'text' }],
    });
    for (const name of ['kinds', 'kinds_jsonl', 'kinds_csv'])
      await app.collections.create({ name, type: 'base', fields: kindsFields(target.id) });
    await app.collections.create({
      name: 'people',
      type: 'base',
      fields: [
        { name: 'name', type: 'text', required: true },
        { name: 'age', type: 'number', onlyInt: true },
        { name: 'member', type: 'bool' },
        { name: 'code', type: 'text' },
      ],
      indexes: ["CREATE UNIQUE INDEX idx_people_code ON people (code) WHERE code != ''"],
    });
    const t = app.collections.get('target');
    const refs = [];
    for (let i = 0; i < 3; i++) refs.push((await app.records.create(t, { name: `t${i}` }, SU)).id);
    const kinds = app.collections.get('kinds');
    const samples = [
      { title: 'plain' },
      {
        title: 'quotes " and, commas\nand lines',
        body: '<p>héllo 😀</p>',
        n: -12.5,
        ok: true,
        mail: 'a@example.com',
        site: 'https://example.com/x?y=1',
        day: '2024-02-29 12:34:56.789Z',
        one: 'b',
        many: ['a', 'c'],
        ref: refs[0],
        refs: [refs[1], refs[2]],
        meta: { s: 'x,"y"', nested: [1, 'two', null] },
        spot: { lon: 13.4, lat: 52.5 },
      },
      { title: '  edge spaces  ', meta: 'just a string', n: 3 },
      { title: 'json array', meta: [1, 2, 3], many: ['b'] },
    ];
    for (const s of samples) await app.records.create(kinds, s, SU);
  });
  after(async () => {
    await server?.close();
    files.done();
  });

  for (const format of ['jsonl', 'csv'] as const) {
    it(`round-trips every field type through ${format}`, async () => {
      const file = files.path(`kinds.${format}`);
      const exported = await transfer(app, 'export', ['kinds', '--out', file, '--quiet']);
      assert.equal(exported.code, 0, exported.err);
      const imported = await transfer(app, 'import', [`kinds_${format}`, file, '--quiet']);
      assert.equal(imported.code, 0, imported.err);
      assert.match(imported.out, /imported 4 rows into kinds_/);
      assert.match(imported.err, /"doc" is a file field: files are not imported/);
      assert.deepEqual(
        (await rows(app, `kinds_${format}`)).map(comparable),
        (await rows(app, 'kinds')).map(comparable),
      );
    });
  }

  it('writes CSV with a header row, RFC 4180 quoting and lists as JSON text', async () => {
    const { code, out } = await transfer(app, 'export', [
      'kinds',
      '--format',
      'csv',
      '--fields',
      'title,many,meta',
      '--filter',
      'n < 0',
    ]);
    assert.equal(code, 0);
    assert.equal(
      out,
      'title,many,meta\r\n"quotes "" and, commas\nand lines","[""a"",""c""]","{""s"":""x,\\""y\\"""",""nested"":[1,""two"",null]}"\r\n',
    );
  });

  it('pages by id past the largest page, in id order, with no row twice', async () => {
    const lines = ['name,age'];
    for (let i = 0; i < 1050; i++) lines.push(`p${i},${i}`);
    const file = files.write('many.csv', `${lines.join('\n')}\n`);
    const imported = await transfer(app, 'import', ['people', file, '--batch', '1000', '--quiet']);
    assert.equal(imported.code, 0, imported.err);
    const out = files.path('people.jsonl');
    assert.equal((await transfer(app, 'export', ['people', '--out', out, '--quiet'])).code, 0);
    const ids = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).id as string);
    assert.equal(ids.length, 1050);
    assert.deepEqual(
      ids,
      [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    await app.records.truncate(app.collections.get('people'), SU);
  });

  it('renames, drops, defaults and casts columns', async () => {
    const file = files.write('mapped.csv', 'Full Name,years,junk,flag\nAda,36,x,yes\nBob,,y,no\n');
    const run = await transfer(app, 'import', [
      'people',
      file,
      '--map',
      'Full Name:name,years:age,flag:member',
      '--drop',
      'junk',
      '--default',
      'age=41',
      '--cast',
      'member:bool',
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.err);
    const got = (await rows(app, 'people')).map((r) => [r.name, r.age, r.member]).sort();
    assert.deepEqual(got, [
      ['Ada', 36, true],
      ['Bob', 41, false],
    ]);
    await app.records.truncate(app.collections.get('people'), SU);
  });

  it('dry-runs: writes nothing and reports every row it would refuse, by line, with field errors', async () => {
    const file = files.write(
      'dry.jsonl',
      [
        '{"name":"ok1","age":1}',
        '{"age":2}',
        '{"name":"ok2","age":2.5}',
        '{"name":"dup","code":"X"}',
        '{"name":"dup again","code":"X"}',
      ].join('\n'),
    );
    const run = await transfer(app, 'import', ['people', file, '--dry-run', '--quiet']);
    assert.equal(run.code, 1);
    assert.match(
      run.err,
      /line 2: Failed to create record\.\n {2}name: validation_required: Cannot be blank\./,
    );
    assert.match(run.err, /line 3: Failed to create record\.\n {2}age: validation_only_int_constraint/);
    assert.match(run.err, /line 5: .*\n {2}code: validation_not_unique/);
    assert.match(run.out, /would import 2 rows into people .*; 3 rows would fail; nothing was written/);
    assert.equal(await count(app, 'people'), 0);
  });

  it('stops at a failing batch with nothing of it written, then resumes after the last committed batch', async () => {
    const good = (i: number) => `{"name":"r${i}","code":"c${i}"}`;
    const body = [good(1), good(2), good(3), '{"name":""}', good(5), good(6)];
    const file = files.write('stop.jsonl', body.join('\n'));
    const first = await transfer(app, 'import', ['people', file, '--batch', '2', '--quiet']);
    assert.equal(first.code, 1);
    assert.match(first.err, /line 4: Failed to create record\.\n {2}name: validation_required/);
    assert.match(first.err, /nothing of lines 3-4 was written/);
    assert.match(first.err, /2 rows are in people \(input through line 2\)\. .*--resume/);
    assert.deepEqual((await rows(app, 'people')).map((r) => r.name).sort(), ['r1', 'r2']);
    // Running it again from the top would duplicate lines 1-2: refused without --resume.
    const again = await transfer(app, 'import', ['people', file, '--quiet']);
    assert.equal(again.code, 1);
    assert.match(again.err, /stopped after line 2 .*add --resume/);
    body[3] = good(4);
    files.write('stop.jsonl', body.join('\n'));
    const resumed = await transfer(app, 'import', ['people', file, '--batch', '2', '--resume', '--quiet']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.match(resumed.err, /resuming after line 2/);
    assert.deepEqual((await rows(app, 'people')).map((r) => r.name).sort(), [
      'r1',
      'r2',
      'r3',
      'r4',
      'r5',
      'r6',
    ]);
    const done = await transfer(app, 'import', ['people', file, '--resume', '--quiet']);
    assert.match(done.err, /nothing to resume/);
    await app.records.truncate(app.collections.get('people'), SU);
  });

  it('resumes after a crash between a commit and its state write without writing the batch twice', async () => {
    const file = files.write(
      'crash.csv',
      'id,name\naaaaaaaaaaaaaa1,one\naaaaaaaaaaaaaa2,two\naaaaaaaaaaaaaa3,three\n',
    );
    const people = app.collections.get('people');
    // The first batch (lines 2-3) committed, then the process died before recording it.
    for (const [id, name] of [
      ['aaaaaaaaaaaaaa1', 'one'],
      ['aaaaaaaaaaaaaa2', 'two'],
    ])
      await app.records.create(people, { id, name }, SU);
    const state = {
      version: 1,
      collection: 'people',
      committedLine: 0,
      imported: 0,
      skipped: 0,
      pending: { toLine: 3, probeId: 'aaaaaaaaaaaaaa2', rows: 2, skipped: 0 },
    };
    files.write('crash.csv.import-state.json', JSON.stringify(state));
    const run = await transfer(app, 'import', ['people', file, '--resume', '--quiet']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /resuming after line 3 \(2 rows already imported\)/);
    assert.deepEqual(
      (await rows(app, 'people')).map((r) => r.name),
      ['one', 'two', 'three'],
    );
    await app.records.truncate(people, SU);
  });

  it('skips refused rows with --skip-invalid and keeps the rest of their batch', async () => {
    const file = files.write(
      'skip.jsonl',
      '{"name":"a"}\n{"name":""}\n{"name":"c"}\n{"name":"d","age":"x"}\n',
    );
    const run = await transfer(app, 'import', ['people', file, '--skip-invalid', '--quiet']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /line 2: .*\n {2}name: validation_required/);
    assert.match(run.err, /line 4: .*\n {2}age: validation_invalid_value/);
    assert.match(run.out, /imported 2 rows into people .*; 2 rows skipped/);
    assert.deepEqual((await rows(app, 'people')).map((r) => r.name).sort(), ['a', 'c']);
    await app.records.truncate(app.collections.get('people'), SU);
  });

  it('exports every collection with --all: definitions and one file per collection', async () => {
    const dir = files.path('all');
    const run = await transfer(app, 'export', ['--all', '--out', dir, '--quiet']);
    assert.equal(run.code, 0, run.err);
    const defs = JSON.parse(readFileSync(`${dir}/collections.json`, 'utf8')) as { name: string }[];
    assert.ok(['kinds', 'people', 'target'].every((n) => defs.some((d) => d.name === n)));
    assert.equal(readFileSync(`${dir}/target.jsonl`, 'utf8').trim().split('\n').length, 3);
  });
});
