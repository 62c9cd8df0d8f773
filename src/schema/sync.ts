import { sql } from 'kysely';
import type { AnyTrx, ColumnSpec, SqlDialect } from '../db/index.ts';
import type { Collection } from './collection.ts';
import { fieldType } from './fields/index.ts';
import { parseIndex } from './indexes.ts';

function columns(c: Collection): ColumnSpec[] {
  return c.fields.map((f) => ({ name: f.name, kind: f.name === 'id' ? 'id' : fieldType(f.type).column(f) }));
}

function indexStatements(dialect: SqlDialect, c: Collection): string[] {
  return c.indexes.flatMap((text) => {
    const spec = parseIndex(text, c.name);
    return typeof spec === 'string' ? [] : dialect.createIndexSql(spec);
  });
}

function indexNames(c: Collection): string[] {
  return c.indexes.flatMap((text) => {
    const spec = parseIndex(text, c.name);
    return typeof spec === 'string' ? [] : [spec.name];
  });
}

/**
 * The DDL that turns the table of `before` into the table of `after` (either may be undefined for create
 * and drop). Fields are matched by id, so a renamed field keeps its data. Indexes are dropped first
 * (a column in an index cannot be dropped) and recreated last.
 */
export function planTableSync(
  dialect: SqlDialect,
  before: Collection | undefined,
  after: Collection | undefined,
): string[] {
  if (!before && after)
    return [...dialect.createTableSql(after.name, columns(after)), ...indexStatements(dialect, after)];
  if (before && !after) return dialect.dropTableSql(before.name);
  if (!before || !after) return [];

  const steps: string[] = [];
  const changedIndexes = before.name !== after.name || before.indexes.join('\n') !== after.indexes.join('\n');
  if (changedIndexes)
    for (const name of indexNames(before)) steps.push(...dialect.dropIndexSql(name, before.name));
  if (before.name.toLowerCase() === after.name.toLowerCase() && before.name !== after.name) {
    // SQLite refuses a rename that only changes case: go through a temporary name.
    steps.push(...dialect.renameTableSql(before.name, `_tmp_${after.id}`));
    steps.push(...dialect.renameTableSql(`_tmp_${after.id}`, after.name));
  } else if (before.name !== after.name) steps.push(...dialect.renameTableSql(before.name, after.name));
  const table = after.name;

  const afterById = new Map(after.fields.map((f) => [f.id, f]));
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  for (const old of before.fields) {
    if (!afterById.has(old.id)) steps.push(...dialect.dropColumnSql(table, old.name));
  }
  // Renames go through temporary names so that swapping two fields' names works.
  const renamed = after.fields.filter((f) => beforeById.has(f.id) && beforeById.get(f.id)!.name !== f.name);
  for (const f of renamed)
    steps.push(...dialect.renameColumnSql(table, beforeById.get(f.id)!.name, `_tmp_${f.id}`));
  for (const f of renamed) steps.push(...dialect.renameColumnSql(table, `_tmp_${f.id}`, f.name));
  for (const f of after.fields) {
    const old = beforeById.get(f.id);
    const kind = f.name === 'id' ? 'id' : fieldType(f.type).column(f);
    if (!old) {
      steps.push(...dialect.addColumnSql(table, { name: f.name, kind }));
      continue;
    }
    const oldKind = old.name === 'id' ? 'id' : fieldType(old.type).column(old);
    if (oldKind !== kind) steps.push(...dialect.convertColumnSql(table, f.name, oldKind, kind));
  }
  if (changedIndexes) steps.push(...indexStatements(dialect, after));
  return steps;
}

/** Runs the planned statements inside the caller's transaction. */
export async function applyTableSync(trx: AnyTrx, statements: string[]): Promise<void> {
  for (const statement of statements) await sql.raw(statement).execute(trx);
}
