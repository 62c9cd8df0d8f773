import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkLayers, findImports } from './check-layers.ts';

const check = (file: string, source: string) => checkLayers({ [file]: source });

test('allowed cross-layer import through index.ts passes', () => {
  assert.deepEqual(check('src/records/crud.ts', "import { q } from '../query/index.ts';\n"), {
    errors: [],
    warnings: [],
  });
  assert.deepEqual(check('src/app.ts', "import { serve } from './http/index.ts';\n").errors, []);
});

test('forbidden import is reported with file, line and layers', () => {
  const { errors } = check('src/db/pool.ts', "// header\n\nimport { x } from '../records/index.ts';\n");
  assert.deepEqual(errors, [
    'src/db/pool.ts:3 imports ../records/index.ts (layer db may not import layer records)',
  ]);
  assert.equal(check('src/lib/a.ts', "import '../errors/index.ts';").errors.length, 1);
  assert.equal(check('src/http/a.ts', "import '../cli/index.ts';").errors.length, 1);
});

test('same-folder imports are always fine, including internals', () => {
  const result = check('src/lib/sub/a.ts', "import { b } from '../b.ts';\nimport './c.ts';\n");
  assert.deepEqual(result, { errors: [], warnings: [] });
});

test('deep import into another folder is a warning, not an error', () => {
  const { errors, warnings } = check('src/schema/fields.ts', "import { pool } from '../db/pool.ts';");
  assert.deepEqual(errors, []);
  assert.deepEqual(warnings, [
    'src/schema/fields.ts:1 imports ../db/pool.ts (reaches into db internals; import src/db/index.ts instead)',
  ]);
});

test('node: builtins and npm packages are always fine', () => {
  const src = "import fs from 'node:fs';\nimport { Kysely } from 'kysely';\nimport pino from 'pino';\n";
  assert.deepEqual(check('src/lib/a.ts', src), { errors: [], warnings: [] });
});

test('export ... from is checked', () => {
  const { errors } = check(
    'src/errors/index.ts',
    "export { x } from './x.ts';\nexport * from '../log/index.ts';\n",
  );
  assert.deepEqual(errors, [
    'src/errors/index.ts:2 imports ../log/index.ts (layer errors may not import layer log)',
  ]);
});

test('dynamic import() is checked', () => {
  const { errors } = check(
    'src/hooks/run.ts',
    "async function f() {\n  await import('../db/index.ts');\n}\n",
  );
  assert.deepEqual(errors, [
    'src/hooks/run.ts:2 imports ../db/index.ts (layer hooks may not import layer db)',
  ]);
});

test('imports of test/, bench/, ui/ or outside src/ fail', () => {
  const { errors } = check(
    'src/cli/main.ts',
    "import '../../test/helpers.ts';\nimport '../../ui/x.ts';\nimport '../../package.json';\n",
  );
  assert.deepEqual(errors, [
    'src/cli/main.ts:1 imports ../../test/helpers.ts (layer cli may not import layer test)',
    'src/cli/main.ts:2 imports ../../ui/x.ts (layer cli may not import layer ui)',
    'src/cli/main.ts:3 imports ../../package.json (import leaves src/)',
  ]);
});

test('imports inside comments and strings are ignored; multi-line imports are found', () => {
  const src = [
    "// import '../records/index.ts';",
    "/* import x from '../auth/index.ts'; */",
    'const s = \'import("../auth/index.ts")\'; // http://example',
    'import {',
    '  a,',
    "} from '../b.ts';",
    "import type { T } from './t.ts';",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text under test, not a template
    'const plugin = await import(`./plugins/${name}.ts`);',
  ].join('\n');
  assert.deepEqual(findImports(src), [
    { specifier: '../b.ts', line: 6 },
    { specifier: './t.ts', line: 7 },
  ]);
});

test('unknown folders are warned about but do not fail', () => {
  const { errors, warnings } = check('src/misc/a.ts', "import '../auth/index.ts';");
  assert.deepEqual(errors, []);
  assert.equal(warnings.length, 1);
});
