import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FilterError } from './errors.ts';
import { compileMemoryFilter, type MemoryColumn } from './memory.ts';

// The collections list filter (PocketBase: search.NewSimpleFieldResolver over `_collections`, run by SQLite).
const COLUMNS: Record<string, MemoryColumn> = { id: 'text', name: 'text', type: 'text', system: 'bool' };
const rows = [
  { id: 'pbc_1', name: 'demo1', type: 'base', system: false },
  { id: 'pbc_2', name: 'Demo_2', type: 'auth', system: false },
  { id: 'pbc_3', name: '_superusers', type: 'auth', system: true },
  { id: 'pbc_4', name: 'posts', type: 'base', system: false },
];
const names = (filter: string) => rows.filter(compileMemoryFilter(filter, COLUMNS)).map((r) => r.name);

describe('in-memory filters', () => {
  it('matches ~ as a case-insensitive contains, with _ and % escaped unless % is given', () => {
    assert.deepEqual(names("name~'demo'"), ['demo1', 'Demo_2']);
    assert.deepEqual(names("name~'o_2'"), ['Demo_2']);
    assert.deepEqual(names("name~'d%1'"), ['demo1']);
    assert.deepEqual(names("name!~'demo'"), ['_superusers', 'posts']);
  });

  it('compares text exactly and booleans as 1 and 0', () => {
    assert.deepEqual(names('type="auth"'), ['Demo_2', '_superusers']);
    assert.deepEqual(names('system=true'), ['_superusers']);
    assert.deepEqual(names('system=1'), ['_superusers']);
    assert.deepEqual(names("system='1'"), ['_superusers']);
    assert.deepEqual(names('system=false && type="base"'), ['demo1', 'posts']);
    assert.deepEqual(names('name="DEMO1"'), []);
    assert.deepEqual(names("id>'pbc_2' || name='demo1'"), ['demo1', '_superusers', 'posts']);
  });

  it('treats null as the empty value and TRUE/NULL in any case as literals', () => {
    assert.deepEqual(names('name=null'), []);
    assert.deepEqual(names('name!=NULL && system=TRUE'), ['_superusers']);
    assert.deepEqual(names("''=null"), ['demo1', 'Demo_2', '_superusers', 'posts']);
  });

  it('matches a pattern with many % in linear time (no backtracking regex)', () => {
    const started = Date.now();
    const long = [{ id: 'x', name: 'a'.repeat(63), type: 'base', system: false }];
    const filter = `name~'${'%a'.repeat(1000)}%b'`;
    assert.deepEqual(long.filter(compileMemoryFilter(filter, COLUMNS)), []);
    assert.ok(Date.now() - started < 1000);
  });

  it('refuses names it does not know, modifiers, functions and request paths', () => {
    for (const filter of [
      "invalidfield~'demo2'",
      "name:lower='x'",
      'fields.name="x"',
      '@request.auth.id="x"',
      "@collection.users.id='x'",
      "strftime('%Y')='2024'",
      'toString="x"',
      '@nosuchmacro="x"',
    ]) {
      assert.throws(() => compileMemoryFilter(filter, COLUMNS), FilterError, filter);
    }
  });
});
