import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Collection } from './collection.ts';
import { columnSpecs, MAX_BOUNDED_COLUMNS } from './column-types.ts';
import { field, idField } from './defaults.ts';
import type { FieldDef } from './fields/index.ts';

const collection = (fields: FieldDef[]) =>
  ({ id: 'c', name: 't', fields: [idField(), ...fields] }) as Collection;
const bounded = (c: Collection) => [...columnSpecs(c).values()].filter((s) => s.bounded).map((s) => s.name);

describe('which text columns are bounded', () => {
  it('bounds dates, single selects with short options and user text with a max up to 255', () => {
    const c = collection([
      field('date', 'd'),
      field('autodate', 'created', { onCreate: true }),
      field('select', 's', { values: ['a', 'b'], maxSelect: 1 }),
      field('select', 'many', { values: ['a', 'b'], maxSelect: 2 }),
      field('select', 'longOption', { values: ['x'.repeat(256)], maxSelect: 1 }),
      field('text', 'short', { max: 255 }),
      field('text', 'long', { max: 256 }),
      field('text', 'unlimited', { max: 0 }),
      field('text', 'sys', { max: 10, system: true }),
      field('email', 'e'),
      field('editor', 'ed'),
      field('number', 'n'),
    ]);
    assert.deepEqual(bounded(c), ['d', 'created', 's', 'short']);
  });

  it('counts characters, not UTF-16 units, in select options', () => {
    const c = collection([field('select', 's', { values: ['😀'.repeat(255)], maxSelect: 1 })]);
    assert.deepEqual(bounded(c), ['s']);
  });

  it('past the cap, bounds the dates alone, then nothing', () => {
    const dates = (n: number) => Array.from({ length: n }, (_, i) => field('date', `d${i}`));
    const texts = (n: number) => Array.from({ length: n }, (_, i) => field('text', `t${i}`, { max: 10 }));
    assert.equal(bounded(collection([...dates(20), ...texts(20)])).length, 40);
    const mixed = bounded(collection([...dates(20), ...texts(MAX_BOUNDED_COLUMNS)]));
    assert.deepEqual(
      mixed,
      dates(20).map((f) => f.name),
    );
    assert.deepEqual(bounded(collection(dates(MAX_BOUNDED_COLUMNS + 1))), []);
  });
});
