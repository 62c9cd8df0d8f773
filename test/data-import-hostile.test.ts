import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { readState } from '../src/cli/import-state.ts';
import { BIN, ROOT, runCli } from './helpers/process.ts';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { scratch, transfer } from './helpers/transfer.ts';

const SU = { collection: null, record: null, isSuperuser: true };

describe(`plinth import on hostile input on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  let app: App;
  const files = scratch();
  const count = async () =>
    (await app.records.list(app.collections.get('notes'), { perPage: 1 }, SU)).totalItems;
  before(async () => {
    server = await startServer();
    app = server.app;
    await app.collections.create({
      name: 'notes',
      type: 'base',
      fields: [
        { name: 'title', type: 'text', required: true },
        { name: 'slug', type: 'text' },
      ],
      indexes: ["CREATE UNIQUE INDEX idx_notes_slug ON notes (slug) WHERE slug != ''"],
    });
    await app.records.create(
      app.collections.get('notes'),
      { id: 'existing0000001', title: 'kept', slug: 'taken' },
      SU,
    );
  });
  after(async () => {
    await server?.close();
    files.done();
  });

  const cases: { name: string; file: string; data: string | Buffer; error: RegExp }[] = [
    {
      name: 'a quote inside an unquoted cell',
      file: 'q1.csv',
      data: 'title,slug\nok,a\nbro"ken,b\n',
      error: /line 3: a quote inside unquoted cell 1/,
    },
    {
      name: 'text after a closing quote',
      file: 'q2.csv',
      data: 'title,slug\n"a"b,c\n',
      error: /line 2: text after the closing quote of cell 1/,
    },
    {
      name: 'a quote never closed',
      file: 'q3.csv',
      data: 'title,slug\nok,a\n"open,b\nmore,c\n',
      error: /line 3: a quoted cell that is never closed/,
    },
    {
      name: 'a ragged row',
      file: 'r.csv',
      data: 'title,slug\nok,a,extra\n',
      error: /line 2: 3 cells, but the header row has 2/,
    },
    {
      name: 'Latin-1 bytes',
      file: 'l1.csv',
      data: Buffer.concat([Buffer.from('title,slug\nok,a\ncaf'), Buffer.from([0xe9]), Buffer.from(',b\n')]),
      error: /line 3: invalid UTF-8/,
    },
    {
      name: 'a UTF-16 file',
      file: 'u16.csv',
      data: Buffer.from('\ufefftitle,slug\nok,a\n', 'utf16le'),
      error: /line 1: the file is UTF-16/,
    },
    {
      name: 'UTF-16 without its mark',
      file: 'u16n.jsonl',
      data: Buffer.from('{"title":"x"}\n', 'utf16le'),
      error: /line 1: a NUL byte/,
    },
    {
      name: 'an unknown column',
      file: 'u.csv',
      data: 'title,colour\nok,red\n',
      error: /line 1: column "colour" is not a field of notes; use --drop colour or --map colour:FIELD/,
    },
    {
      name: 'a line that is not JSON',
      file: 'j.jsonl',
      data: '{"title":"a"}\n{"title": nope}\n',
      error: /line 2: invalid JSON/,
    },
    {
      name: 'a JSON line that is not an object',
      file: 'a.jsonl',
      data: '{"title":"a"}\n[1,2]\n',
      error: /line 2: not a JSON object/,
    },
    { name: 'an empty CSV file', file: 'e.csv', data: '', error: /the file is empty/ },
  ];
  for (const c of cases) {
    it(`refuses ${c.name}, naming the line, and writes nothing`, async () => {
      const before = await count();
      const run = await transfer(app, 'import', ['notes', files.write(c.file, c.data), '--quiet']);
      assert.equal(run.code, 1, run.out);
      assert.match(run.err, c.error);
      assert.equal(await count(), before);
    });
  }

  it('keeps a UTF-8 byte order mark out of the first column name', async () => {
    const run = await transfer(app, 'import', [
      'notes',
      files.write('bom.csv', '\ufefftitle,slug\nwith bom,bom\n'),
      '--quiet',
    ]);
    assert.equal(run.code, 0, run.err);
    await app.records.remove(
      app.collections.get('notes'),
      (await app.records.findBy(app.collections.get('notes'), 'slug', 'bom'))!.id as string,
      SU,
    );
  });

  it('reports a 10 MB single line as the field error the API gives, by line, with nothing written', async () => {
    const line = JSON.stringify({ title: 'x'.repeat(10 * 1024 * 1024) });
    const run = await transfer(app, 'import', [
      'notes',
      files.write('big.jsonl', `{"title":"fine"}\n${line}\n`),
      '--quiet',
    ]);
    assert.equal(run.code, 1);
    assert.match(run.err, /line 2: Failed to create record\.\n {2}title: validation_max_text_constraint/);
    assert.equal(await count(), 1);
  });

  it('refuses rows that would break a unique index or reuse an existing id, by line and field', async () => {
    const data = 'id,title,slug\n,fresh,new-1\n,clash,taken\nexisting0000001,same id,other\n';
    const run = await transfer(app, 'import', [
      'notes',
      files.write('clash.csv', data),
      '--dry-run',
      '--quiet',
    ]);
    assert.equal(run.code, 1);
    assert.match(run.err, /line 3: Failed to create record\.\n {2}slug: validation_not_unique/);
    assert.match(run.err, /line 4: Failed to create record\.\n {2}id: validation_not_unique/);
    assert.equal(await count(), 1);
  });

  it('answers an unknown flag or a bad value with a usage error', async () => {
    const unknown = await transfer(app, 'import', ['notes', 'x.csv', '--frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /^plinth import: Unknown option '--frobnicate'/);
    const batch = await transfer(app, 'import', ['notes', 'x.csv', '--batch', '0']);
    assert.equal(batch.code, 1);
    assert.match(batch.err, /--batch must be a whole number from 1 to 10000/);
    const noField = await transfer(app, 'import', ['notes', 'x.csv', '--default', 'colour=red']);
    assert.match(noField.err, /--default colour: notes has no field "colour"/);
    const badCast = await transfer(app, 'import', ['notes', 'x.csv', '--cast', 'title:date']);
    assert.match(badCast.err, /--cast wants FIELD:TYPE with TYPE one of string, number, bool, json/);
    const missing = await transfer(app, 'import', ['notes', files.path('missing.csv')]);
    assert.match(missing.err, /cannot read .*missing\.csv: ENOENT/);
    const nowhere = await transfer(app, 'export', ['notes', '--out', files.path('no/such/dir.jsonl')]);
    assert.equal(nowhere.code, 1);
    assert.match(nowhere.err, /^plinth export: ENOENT: no such file or directory, open /);
  });

  it('runs as the plinth command: exit codes, one-line errors, no stack, nothing half-written', {
    skip:
      TEST_ENGINE !== 'sqlite' &&
      'the exit codes and messages do not depend on the engine; the checks above run in-process on every engine',
  }, async () => {
    const db = ['--dir', server.dataDir, ...(app.config.databaseUrl ? ['--db', app.config.databaseUrl] : [])];
    const out = files.path('cli.csv');
    const exported = await runCli(['export', 'notes', '--out', out, ...db]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(existsSync(out) && !existsSync(`${out}.partial`));
    const broken = await runCli([
      'import',
      'notes',
      files.write('cli-bad.csv', 'title\n"x\n'),
      '--dry-run',
      ...db,
    ]);
    assert.equal(broken.code, 1);
    assert.equal(
      broken.stderr.trim(),
      'line 2: a quoted cell that is never closed (the file ends inside it)',
    );
    const badFilter = await runCli([
      'export',
      'notes',
      '--filter',
      'nope ~',
      '--out',
      files.path('f.jsonl'),
      ...db,
    ]);
    assert.equal(badFilter.code, 1);
    assert.match(badFilter.stderr, /^plinth export: .*filter/i);
    assert.ok(!existsSync(files.path('f.jsonl')) && !existsSync(files.path('f.jsonl.partial')));
    assert.doesNotMatch(`${broken.stderr}${badFilter.stderr}`, /\n\s+at /);
  });
});

describe(`plinth import killed mid-way on ${TEST_ENGINE}`, () => {
  let server: TestServer;
  const files = scratch();
  before(async () => {
    server = await startServer();
    await server.app.collections.create({
      name: 'bulk',
      type: 'base',
      fields: [{ name: 'k', type: 'text' }],
    });
  });
  after(async () => {
    await server?.close();
    files.done();
  });

  it('resumes after SIGKILL with every row once', async () => {
    const total = 3000;
    const file = files.write(
      'bulk.csv',
      `k\n${Array.from({ length: total }, (_, i) => `k${i}`).join('\n')}\n`,
    );
    const db = [
      '--dir',
      server.dataDir,
      ...(server.app.config.databaseUrl ? ['--db', server.app.config.databaseUrl] : []),
    ];
    const child = spawn(process.execPath, [BIN, 'import', 'bulk', file, '--batch', '50', '--quiet', ...db], {
      cwd: ROOT,
    });
    const exited = once(child, 'exit');
    const statePath = `${file}.import-state.json`;
    // Killed once some batches are in: wherever it is (mid-batch, between a commit and its state write).
    while (child.exitCode === null && !(existsSync(statePath) && readState(statePath)!.committedLine > 500))
      await new Promise((r) => setTimeout(r, 10));
    child.kill('SIGKILL');
    await exited;
    assert.ok(existsSync(statePath), 'the import finished before it could be killed');
    const resumed = await runCli(['import', 'bulk', file, '--resume', '--quiet', ...db]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const c = server.app.collections.get('bulk');
    const list = await server.app.records.list(c, { perPage: 1, filter: '' }, SU);
    assert.equal(list.totalItems, total);
    const distinct = await server.app.db.run<{ n: number | string }>(
      server.app.db.kysely,
      'SELECT COUNT(DISTINCT k) AS n FROM bulk',
      [],
    );
    assert.equal(Number(distinct[0]!.n), total);
  });
});
