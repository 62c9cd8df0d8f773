import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { runCli } from './helpers/process.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { scratch, transfer } from './helpers/transfer.ts';

const SU = { collection: null, record: null, isSuperuser: true };

/**
 * Definitions as `collections.json` holds them (fields with ids, so that applying them again matches):
 * `P_a` (name required) and `P_b`, which points at `P_a`.
 */
function defs(p = 'hostile', extra: object[] = []) {
  return [
    {
      id: `pbc_${p}_a`,
      name: `${p}_a`,
      type: 'base',
      fields: [{ id: 'text_name', name: 'name', type: 'text', required: true }],
    },
    {
      id: `pbc_${p}_b`,
      name: `${p}_b`,
      type: 'base',
      fields: [{ id: 'rel_a', name: 'a', type: 'relation', collectionId: `pbc_${p}_a`, maxSelect: 1 }],
    },
    ...extra,
  ];
}

const GOOD_A = '{"id":"aaaaaaaaaaaaaa1","name":"one"}\n{"id":"aaaaaaaaaaaaaa2","name":"two"}\n';
const GOOD_B = '{"id":"bbbbbbbbbbbbbb1","a":"aaaaaaaaaaaaaa2"}\n';

describe(`plinth import --all on hostile directories on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  let app: App;
  const files = scratch();
  let n = 0;
  /** A fresh directory holding `collections.json` (text or a list) and the given files. */
  const dir = (definitions: unknown, data: Record<string, string> = {}): string => {
    const path = files.path(`d${n++}`);
    mkdirSync(path);
    writeFileSync(
      join(path, 'collections.json'),
      typeof definitions === 'string' ? definitions : JSON.stringify(definitions),
    );
    for (const [name, text] of Object.entries(data)) writeFileSync(join(path, name), text);
    return path;
  };
  before(async () => {
    server = await startServer();
    app = server.app;
  });
  after(async () => {
    await server?.close();
    files.done();
  });

  const refused: { name: string; make: () => string; args?: string[]; error: RegExp }[] = [
    { name: 'a directory that is not there', make: () => files.path('nowhere'), error: /is not a directory/ },
    {
      name: 'a directory without collections.json',
      make: () => {
        const d = dir([]);
        return join(d, 'sub');
      },
      error: /is not a directory/,
    },
    {
      name: 'collections.json that is not JSON',
      make: () => dir('[{"id":'),
      error: /collections\.json is not JSON/,
    },
    {
      name: 'collections.json that is not a list',
      make: () => dir({ a: 1 }),
      error: /is not a list of collections/,
    },
    {
      name: 'a collection name with a path in it',
      make: () => dir([{ id: 'x', name: '../../etc/passwd', type: 'base', fields: [] }]),
      error: /collection 1: the name must be letters, digits and _ only/,
    },
    {
      name: 'a missing file',
      make: () => dir(defs(), { 'hostile_a.jsonl': GOOD_A }),
      error: /hostile_b\.jsonl is missing/,
    },
    {
      name: 'a file of an unknown collection',
      make: () =>
        dir(defs(), { 'hostile_a.jsonl': GOOD_A, 'hostile_b.jsonl': GOOD_B, 'ghost.csv': 'x\n1\n' }),
      error: /ghost\.csv: collections\.json has no base or auth collection "ghost" for it/,
    },
    {
      name: 'a file of a collection with its extension in capitals',
      make: () => dir(defs(), { 'hostile_a.jsonl': GOOD_A, 'hostile_b.JSONL': GOOD_B }),
      error: /hostile_b\.JSONL: name it hostile_b\.jsonl/,
    },
    {
      name: 'two files for one collection',
      make: () =>
        dir(defs(), { 'hostile_a.jsonl': GOOD_A, 'hostile_a.csv': 'name\nx\n', 'hostile_b.jsonl': GOOD_B }),
      error: /both hostile_a\.jsonl and hostile_a\.csv are in .*: keep one/,
    },
    {
      name: 'a file that is a symlink',
      make: () => {
        const d = dir(defs(), { 'hostile_a.jsonl': GOOD_A });
        symlinkSync('/etc/passwd', join(d, 'hostile_b.jsonl'));
        return d;
      },
      error: /hostile_b\.jsonl is not a regular file/,
    },
    {
      name: 'the same collection twice',
      make: () => dir([...defs(), defs()[0]], { 'hostile_a.jsonl': GOOD_A, 'hostile_b.jsonl': GOOD_B }),
      error: /collections\.json names "hostile_a" twice/,
    },
    {
      name: 'a cycle of required relations',
      make: () =>
        dir(
          [
            {
              id: 'pbc_hostile_c',
              name: 'hostile_c',
              type: 'base',
              fields: [{ name: 'me', type: 'relation', collectionId: 'pbc_hostile_c', required: true }],
            },
          ],
          { 'hostile_c.jsonl': '' },
        ),
      error: /required relations form a cycle \(hostile_c\.me → hostile_c\)/,
    },
    {
      name: 'a per-file flag',
      make: () => dir(defs(), { 'hostile_a.jsonl': GOOD_A, 'hostile_b.jsonl': GOOD_B }),
      args: ['--map', 'x:y'],
      error: /--map applies to one collection, not --all/,
    },
  ];
  for (const c of refused)
    it(`refuses ${c.name} before anything is written`, async () => {
      const run = await transfer(app, 'import', ['--all', c.make(), '--quiet', ...(c.args ?? [])]);
      assert.equal(run.code, 1, run.out);
      assert.match(run.err, /^plinth import: /);
      assert.match(run.err, c.error);
      assert.equal(app.collections.find('hostile_a'), undefined);
      assert.equal(app.collections.find('hostile_c'), undefined);
    });

  it('stops at a broken line with the rows before its batch in, and resumes once it is fixed', async () => {
    const d = dir(defs(), {
      'hostile_a.jsonl': `${GOOD_A}{"id":"aaaaaaaaaaaaaa3","name":\n`,
      'hostile_b.jsonl': GOOD_B,
    });
    const run = await transfer(app, 'import', ['--all', d, '--quiet', '--batch', '2']);
    assert.equal(run.code, 1);
    assert.match(run.err, /line 3: /);
    assert.match(run.err, /stopped at hostile_a; 0 collections before it are in/);
    const a = app.collections.get('hostile_a');
    assert.equal((await app.records.list(a, { perPage: 1 }, SU)).totalItems, 2);
    writeFileSync(join(d, 'hostile_a.jsonl'), `${GOOD_A}{"id":"aaaaaaaaaaaaaa3","name":"three"}\n`);
    const resumed = await transfer(app, 'import', ['--all', d, '--quiet', '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.equal((await app.records.list(a, { perPage: 1 }, SU)).totalItems, 3);
    const b = await app.records.list(app.collections.get('hostile_b'), {}, SU);
    assert.deepEqual(
      b.items.map((r) => r.a),
      ['aaaaaaaaaaaaaa2'],
    );
  });

  it('skips refused rows with --skip-invalid, and the rows that point at them', async () => {
    const d = dir(defs('skip'), {
      'skip_a.jsonl': '{"id":"aaaaaaaaaaaaaa1","name":""}\n{"id":"aaaaaaaaaaaaaa2","name":"two"}\n',
      'skip_b.jsonl':
        '{"id":"bbbbbbbbbbbbbb1","a":"aaaaaaaaaaaaaa1"}\n{"id":"bbbbbbbbbbbbbb2","a":"aaaaaaaaaaaaaa2"}\n',
    });
    // A dry run checks rows against collections that exist: they are made first, as a dry run does not.
    await app.collections.importCollections(defs('skip'), false);
    const dry = await transfer(app, 'import', ['--all', d, '--quiet', '--dry-run']);
    assert.equal(dry.code, 1);
    assert.match(dry.err, /line 1: .*\n {2}name: validation_required/);
    // A dry run writes no rows of hostile_a, so hostile_b's relation to them is not checked.
    assert.match(dry.out, /would import 1 rows into skip_a .*; 1 rows would fail/);
    assert.match(dry.out, /would import 2 rows into skip_b/);
    const run = await transfer(app, 'import', ['--all', d, '--quiet', '--skip-invalid']);
    assert.equal(run.code, 0, run.err);
    assert.match(run.err, /line 1: .*\n {2}name: validation_required/);
    assert.match(run.err, /line 1: .*\n {2}a: validation_missing_rel_records/);
    assert.match(run.out, /imported 1 rows into skip_a .*; 1 rows skipped/);
    assert.match(run.out, /imported 1 rows into skip_b .*; 1 rows skipped/);
  });

  it('stops in the second pass at a relation to a record that is nowhere, and resumes it', async () => {
    const tree = [
      {
        id: 'pbc_tree',
        name: 'tree',
        type: 'base',
        fields: [
          { id: 'text_label', name: 'label', type: 'text' },
          { id: 'rel_parent', name: 'parent', type: 'relation', collectionId: 'pbc_tree', maxSelect: 1 },
        ],
      },
    ];
    const rows = (parent: string) =>
      `{"id":"node00000000001","label":"root","parent":""}\n{"id":"node00000000002","label":"leaf","parent":"${parent}"}\n`;
    const d = dir(tree, { 'tree.jsonl': rows('nowhere00000000') });
    const run = await transfer(app, 'import', ['--all', d, '--quiet']);
    assert.equal(run.code, 1);
    assert.match(run.out, /imported 2 rows into tree/);
    assert.match(run.err, /line 2: .*\n {2}parent: validation_missing_rel_records/);
    assert.match(run.err, /stopped at tree; every collection's rows are in/);
    writeFileSync(join(d, 'tree.jsonl'), rows('node00000000001'));
    const resumed = await transfer(app, 'import', ['--all', d, '--quiet', '--resume']);
    assert.equal(resumed.code, 0, resumed.err);
    assert.doesNotMatch(resumed.out, /imported \d+ rows into tree/, 'the rows are not written again');
    assert.match(resumed.out, /linked 1 rows of tree/);
    const list = await app.records.list(app.collections.get('tree'), { sort: 'id' }, SU);
    assert.deepEqual(
      list.items.map((r) => [r.id, r.parent]),
      [
        ['node00000000001', ''],
        ['node00000000002', 'node00000000001'],
      ],
    );
  });

  it('runs as the plinth command: exit code 1, one line, no stack', {
    skip:
      TEST_ENGINE !== 'sqlite' &&
      'the exit codes and messages do not depend on the engine; the checks above run in-process on every engine',
  }, async () => {
    const db = ['--dir', server.dataDir, ...(app.config.databaseUrl ? ['--db', app.config.databaseUrl] : [])];
    const d = dir(defs(), { 'hostile_a.jsonl': GOOD_A, 'hostile_b.jsonl': GOOD_B, 'ghost.jsonl': '' });
    const run = await runCli(['import', '--all', d, ...db]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr.trim(),
      /^plinth import: .*ghost\.jsonl: collections\.json has no .* "ghost" for it$/,
    );
    const usage = await runCli(['import', '--all', d, 'extra', ...db]);
    assert.equal(usage.code, 1);
    assert.equal(usage.stderr.trim(), 'plinth import: usage: plinth import --all DIR [options]');
  });
});
