import { createHash } from 'node:crypto';
import { CompiledQuery, sql } from 'kysely';
import {
  type AnyTrx,
  BOUNDED_TEXT_CHARS,
  type ColumnKind,
  type ColumnSpec,
  type IndexSpec,
  type SqlDialect,
} from '../db/index.ts';
import type { Collection } from './collection.ts';
import { columnSpecs, kindOf, sameStorage } from './column-types.ts';
import { type FieldDef, fieldType } from './fields/index.ts';
import { parseIndex } from './indexes.ts';
import { createViewSql, dropViewSql } from './view-sql.ts';

/** One step of a table sync: its statements, and those that reverse it once it has run. */
export interface SyncStep {
  sql: string[];
  undo: string[];
}

/**
 * The DDL of a table sync. `steps` can each be reversed (dropped tables and columns are only moved aside,
 * lossy conversions keep a copy); `cleanup` drops what was moved aside, once every change of the
 * transaction has succeeded. So a failure at any step leaves something to undo, never something lost.
 */
export interface SyncPlan {
  steps: SyncStep[];
  cleanup: string[];
}

/** One statement that reverses part of a schema change: SQL in the engine's own syntax, and its parameters. */
export interface UndoStatement {
  sql: string;
  params: readonly unknown[];
}

/**
 * What the schema changes of one transaction did, for engines whose DDL commits as it runs (MySQL):
 * `undo` reverses each done step (newest last), `cleanup` runs once they all succeeded. `journal`, where
 * given, persists the log before each step runs (schema-journal.ts), so that a crash in the middle of the
 * change can be undone at the next start.
 */
export interface SyncLog {
  undo: UndoStatement[][];
  cleanup: string[];
  journal?: (trx: AnyTrx, log: SyncLog, phase: 'undo' | 'cleanup') => Promise<void>;
}

export const newSyncLog = (journal?: SyncLog['journal']): SyncLog => ({
  undo: [],
  cleanup: [],
  ...(journal ? { journal } : {}),
});

const raw = (statements: readonly string[]): UndoStatement[] =>
  statements.map((text) => ({ sql: text, params: [] }));

/** Runs statements in order in the caller's transaction. */
async function runStatements(trx: AnyTrx, statements: readonly UndoStatement[]): Promise<void> {
  for (const s of statements) await trx.executeQuery(CompiledQuery.raw(s.sql, [...s.params]));
}

function columns(c: Collection): ColumnSpec[] {
  return [...columnSpecs(c).values()];
}

/** The collection's indexes, parsed, each column with its kind. */
export function indexSpecs(c: Collection): IndexSpec[] {
  const kinds = new Map(c.fields.map((f) => [f.name, kindOf(f)]));
  return c.indexes.flatMap((text) => {
    const spec = parseIndex(text, c.name);
    if (typeof spec === 'string') return [];
    return [{ ...spec, columns: spec.columns.map((col) => ({ ...col, kind: kinds.get(col.name) })) }];
  });
}

/** A name for a column or table set aside during a sync, unique per id and short enough for every engine. */
function scratchName(prefix: string, id: string): string {
  const name = `${prefix}${id}`;
  return name.length <= 63 ? name : `${prefix}${createHash('sha1').update(id).digest('hex').slice(0, 32)}`;
}

/**
 * An index in terms of field ids, so that it compares equal across renames of its table and columns.
 * A field that is renamed or changes kind makes the index differ (its DDL names the column).
 */
function indexIdentity(spec: IndexSpec, c: Collection, stable: (f: FieldDef) => boolean): string | undefined {
  const byName = new Map(c.fields.map((f) => [f.name, f]));
  const ids: string[] = [];
  for (const name of [...spec.columns.map((col) => col.name), ...(spec.where ?? []).map((w) => w.column)]) {
    const f = byName.get(name);
    if (!f || !stable(f)) return undefined;
    ids.push(f.id);
  }
  return JSON.stringify([
    spec.name,
    spec.unique,
    spec.columns.map((col) => [col.nocase, col.desc]),
    (spec.where ?? []).map((w) => [w.op, w.value]),
    ids,
  ]);
}

/** The indexes of `before` to drop and of `after` to create; an index that stays the same stays put. */
function indexChanges(
  dialect: SqlDialect,
  before: Collection,
  after: Collection,
): { dropped: IndexSpec[]; created: IndexSpec[] } {
  const afterById = new Map(after.fields.map((f) => [f.id, f]));
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  const beforeSpecs = columnSpecs(before);
  const afterSpecs = columnSpecs(after);
  // A column whose storage changes (kind, or bound on MySQL) takes its indexes down and up again.
  const unchanged = (f: FieldDef, other: Map<string, FieldDef>) => {
    const o = other.get(f.id);
    const a = beforeSpecs.get(f.id);
    const b = afterSpecs.get(f.id);
    return o !== undefined && o.name === f.name && !!a && !!b && sameStorage(a, b, dialect.boundedText);
  };
  const identities = (c: Collection, other: Map<string, FieldDef>) =>
    new Set(indexSpecs(c).flatMap((i) => indexIdentity(i, c, (f) => unchanged(f, other)) ?? []));
  const inBefore = identities(before, afterById);
  const inAfter = identities(after, beforeById);
  const isKept = (i: IndexSpec, c: Collection, other: Map<string, FieldDef>) => {
    const identity = indexIdentity(i, c, (f) => unchanged(f, other));
    return identity !== undefined && inBefore.has(identity) && inAfter.has(identity);
  };
  return {
    dropped: indexSpecs(before).filter((i) => !isKept(i, before, afterById)),
    created: indexSpecs(after).filter((i) => !isKept(i, after, beforeById)),
  };
}

const step = (statements: string[], undo: string[]): SyncStep => ({ sql: statements, undo });

/** A view holds no data: it is dropped and created again from its query. */
function viewPlan(
  dialect: SqlDialect,
  before: Collection | undefined,
  after: Collection | undefined,
): SyncPlan {
  const steps: SyncStep[] = [];
  if (before) steps.push(step([dropViewSql(dialect, before.name)], [createViewSql(dialect, before)]));
  if (after) steps.push(step([createViewSql(dialect, after)], [dropViewSql(dialect, after.name)]));
  return { steps, cleanup: [] };
}

function createPlan(dialect: SqlDialect, after: Collection): SyncPlan {
  return {
    // Dropping the table takes its indexes along.
    steps: [
      step(dialect.createTableSql(after.name, columns(after)), dialect.dropTableSql(after.name)),
      ...indexSpecs(after).map((i) => step(dialect.createIndexSql(i), [])),
    ],
    cleanup: [],
  };
}

function dropPlan(dialect: SqlDialect, before: Collection): SyncPlan {
  const trash = scratchName('_del_', before.id);
  return {
    // Indexes first: their names must be free for other tables of the same change.
    steps: [
      ...indexSpecs(before).map((i) => step(dialect.dropIndexSql(i), dialect.createIndexSql(i))),
      step(dialect.renameTableSql(before.name, trash), dialect.renameTableSql(trash, before.name)),
    ],
    cleanup: dialect.dropTableSql(trash),
  };
}

function renameTableSteps(dialect: SqlDialect, from: string, to: string, id: string): SyncStep[] {
  if (from === to) return [];
  if (from.toLowerCase() !== to.toLowerCase())
    return [step(dialect.renameTableSql(from, to), dialect.renameTableSql(to, from))];
  // SQLite refuses a rename that only changes case: go through a temporary name.
  const tmp = scratchName('_tmp_', id);
  return [
    step(dialect.renameTableSql(from, tmp), dialect.renameTableSql(tmp, from)),
    step(dialect.renameTableSql(tmp, to), dialect.renameTableSql(to, tmp)),
  ];
}

/**
 * The DDL that turns the table of `before` into the table of `after` (either may be undefined for create
 * and drop). Fields are matched by id, so a renamed field keeps its data. Indexes that change, or whose
 * columns are renamed or converted, are dropped first and recreated last; the rest stay.
 */
export function planTableSync(
  dialect: SqlDialect,
  before: Collection | undefined,
  after: Collection | undefined,
): SyncPlan {
  if (before?.type === 'view' || after?.type === 'view') return viewPlan(dialect, before, after);
  if (!before && after) return createPlan(dialect, after);
  if (before && !after) return dropPlan(dialect, before);
  if (!before || !after) return { steps: [], cleanup: [] };

  const afterById = new Map(after.fields.map((f) => [f.id, f]));
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  const { dropped, created } = indexChanges(dialect, before, after);

  const steps: SyncStep[] = [];
  const cleanup: string[] = [];
  for (const i of dropped) steps.push(step(dialect.dropIndexSql(i), dialect.createIndexSql(i)));
  steps.push(...renameTableSteps(dialect, before.name, after.name, after.id));
  const table = after.name;
  const rename = (from: string, to: string) =>
    step(dialect.renameColumnSql(table, from, to), dialect.renameColumnSql(table, to, from));

  // Removed fields are moved aside (their names are free at once) and dropped in the cleanup.
  for (const old of before.fields) {
    if (afterById.has(old.id)) continue;
    const trash = scratchName('_del_', old.id);
    steps.push(rename(old.name, trash));
    cleanup.push(...dialect.dropColumnSql(table, trash));
  }
  // Renames go through temporary names so that swapping two fields' names works.
  const renamed = after.fields.filter((f) => beforeById.has(f.id) && beforeById.get(f.id)!.name !== f.name);
  for (const f of renamed) steps.push(rename(beforeById.get(f.id)!.name, scratchName('_tmp_', f.id)));
  for (const f of renamed) steps.push(rename(scratchName('_tmp_', f.id), f.name));

  const beforeSpecs = columnSpecs(before);
  const afterSpecs = columnSpecs(after);
  for (const f of after.fields) {
    const spec = afterSpecs.get(f.id)!;
    const oldSpec = beforeSpecs.get(f.id);
    if (!oldSpec) {
      steps.push(step(dialect.addColumnSql(table, spec), dialect.dropColumnSql(table, f.name)));
      continue;
    }
    steps.push(...storageSteps(dialect, table, f, { ...oldSpec, name: f.name }, spec, cleanup));
  }
  for (const i of created) steps.push(step(dialect.createIndexSql(i), dialect.dropIndexSql(i)));
  return { steps, cleanup };
}

/**
 * The steps that change how a kept column is stored. A conversion between kinds works on unbounded text
 * (LONGTEXT on MySQL), so a bounded column is unbounded first and bounded again after.
 */
function storageSteps(
  dialect: SqlDialect,
  table: string,
  f: FieldDef,
  from: ColumnSpec,
  to: ColumnSpec,
  cleanup: string[],
): SyncStep[] {
  if (sameStorage(from, to, dialect.boundedText)) return [];
  const retype = (a: ColumnSpec, b: ColumnSpec) =>
    step(dialect.retypeColumnSql(table, b), dialect.retypeColumnSql(table, a));
  if (from.kind === to.kind) return [retype(from, to)];
  const loose = (c: ColumnSpec): ColumnSpec => ({ name: c.name, kind: c.kind });
  const bounds = dialect.boundedText;
  return [
    ...(bounds && from.bounded ? [retype(from, loose(from))] : []),
    ...convertSteps(dialect, table, f, from.kind, to.kind, cleanup),
    ...(bounds && to.bounded ? [retype(loose(to), to)] : []),
  ];
}

/**
 * A single value to a list loses nothing and converts back exactly; a list to its last value is lossy, so
 * the old values are copied aside first and restored by the undo.
 */
function convertSteps(
  dialect: SqlDialect,
  table: string,
  f: FieldDef,
  from: ColumnKind,
  to: ColumnKind,
  cleanup: string[],
): SyncStep[] {
  const convert = dialect.convertColumnSql(table, f.name, from, to);
  const back = dialect.convertColumnSql(table, f.name, to, from);
  if (from === 'text' && to === 'jsonArray') return [step(convert, back)];
  const q = dialect.quote;
  const copy = scratchName('_bak_', f.id);
  cleanup.push(...dialect.dropColumnSql(table, copy));
  return [
    step(dialect.addColumnSql(table, { name: copy, kind: from }), dialect.dropColumnSql(table, copy)),
    step([`UPDATE ${q(table)} SET ${q(copy)} = ${q(f.name)}`], []),
    step(convert, [...back, `UPDATE ${q(table)} SET ${q(f.name)} = ${q(copy)}`]),
  ];
}

/**
 * Runs a plan in the caller's transaction. With a log, each done step's undo is recorded and the cleanup
 * is left to the caller (after every change of the transaction); without one, the cleanup runs now.
 */
export async function applyTableSync(trx: AnyTrx, plan: SyncPlan, log?: SyncLog): Promise<void> {
  const run = async (statements: string[]) => {
    for (const statement of statements) await sql.raw(statement).execute(trx);
  };
  for (const s of plan.steps) {
    if (log && s.undo.length) await loggedStep(trx, log, raw(s.undo), () => run(s.sql));
    else await run(s.sql);
  }
  if (log) log.cleanup.push(...plan.cleanup);
  else await run(plan.cleanup);
}

/**
 * Runs one step of a schema change with its undo recorded (and journaled) before it runs. On MySQL a DDL
 * statement commits the transaction, and every statement after it commits on its own (autocommit is back
 * on): a step whose undo were recorded after it ran could be committed with no undo for a crash to find.
 * A step that fails keeps no undo (one statement is all or nothing).
 */
export async function loggedStep(
  trx: AnyTrx,
  log: SyncLog,
  undo: UndoStatement[],
  step: () => Promise<unknown>,
): Promise<void> {
  log.undo.push(undo);
  await log.journal?.(trx, log, 'undo');
  try {
    await step();
  } catch (err) {
    log.undo.pop();
    throw err;
  }
}

/** Runs the cleanup of every plan applied under `log`: from here on the change is kept, crash or not. */
export async function finishSync(trx: AnyTrx, log: SyncLog): Promise<void> {
  if (log.cleanup.length) await log.journal?.(trx, log, 'cleanup');
  for (const statement of log.cleanup) await sql.raw(statement).execute(trx);
}

/**
 * Reverses what `log` recorded, newest first. Every undo is attempted; if one fails the schema may be
 * half-changed, which is reported with the original error.
 */
export async function undoSync(trx: AnyTrx, log: SyncLog, err: unknown): Promise<never> {
  const failures: unknown[] = [];
  for (const undo of [...log.undo].reverse()) {
    try {
      await runStatements(trx, undo);
    } catch (e) {
      failures.push(e);
    }
  }
  if (failures.length)
    throw new AggregateError([err, ...failures], 'A failed schema change could not be fully undone.');
  throw err;
}

/**
 * For engines whose DDL commits as it runs: the name of a unique index of `after` that the rows of
 * `before` already violate, found before any DDL runs (so the common failure needs no undo). Indexes
 * over a converted column are left to the DDL itself (and its undo).
 */
export async function findViolatedIndex(
  trx: AnyTrx,
  dialect: SqlDialect,
  before: Collection,
  after: Collection,
): Promise<string | undefined> {
  for (const index of indexChanges(dialect, before, after).created) {
    if (!index.unique) continue;
    const query = duplicateQuery(dialect, index, before, after);
    if (!query) continue;
    const result = await trx.executeQuery<{ n: unknown }>(
      CompiledQuery.raw(dialect.nativeSql(query.sql), query.params),
    );
    if (result.rows.some((r) => Number(r.n) > 1)) return index.name;
  }
  return undefined;
}

/**
 * For engines that store bounded text apart (MySQL): the name of a kept text field of `after` that becomes
 * bounded while a row of `before` holds a longer value (its `max` or its options were lowered), found
 * before any DDL runs. Such a column cannot be narrowed without losing data: the change is refused.
 */
export async function findOverlongField(
  trx: AnyTrx,
  dialect: SqlDialect,
  before: Collection,
  after: Collection,
): Promise<string | undefined> {
  if (!dialect.boundedText) return undefined;
  const beforeSpecs = columnSpecs(before);
  const q = dialect.quote;
  for (const [id, spec] of columnSpecs(after)) {
    const old = beforeSpecs.get(id);
    if (!spec.bounded || !old || old.bounded || old.kind !== 'text') continue;
    const result = await trx.executeQuery(
      CompiledQuery.raw(
        `SELECT 1 AS ${q('n')} FROM ${q(before.name)} WHERE CHAR_LENGTH(${q(old.name)}) > ${BOUNDED_TEXT_CHARS} LIMIT 1`,
        [],
      ),
    );
    if (result.rows.length) return spec.name;
  }
  return undefined;
}

/**
 * A query over the table of `before` that returns a row with `n` > 1 when the index would find duplicates:
 * kept columns by their old names, new columns as their zero value (the same on every row); undefined
 * when that cannot be known beforehand (a converted column) or no row is covered.
 */
function duplicateQuery(
  dialect: SqlDialect,
  index: IndexSpec,
  before: Collection,
  after: Collection,
): { sql: string; params: unknown[] } | undefined {
  const q = dialect.quote;
  const afterByName = new Map(after.fields.map((f) => [f.name, f]));
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  const resolve = (name: string): { column: string } | { zero: unknown } | undefined => {
    const f = afterByName.get(name);
    if (!f) return undefined;
    const old = beforeById.get(f.id);
    if (!old) return { zero: fieldType(f.type).zero(f) };
    return kindOf(old) === kindOf(f) ? { column: q(old.name) } : undefined;
  };
  const conditions: string[] = [];
  const params: unknown[] = [];
  for (const w of index.where ?? []) {
    const r = resolve(w.column);
    if (!r) return undefined;
    if ('column' in r) {
      conditions.push(`${r.column} ${w.op} ?`);
      params.push(w.value);
      continue;
    }
    const zero = typeof r.zero === 'boolean' ? Number(r.zero) : r.zero;
    if (typeof zero !== typeof w.value) return undefined;
    if ((zero === w.value) !== (w.op === '=')) return undefined; // no row is covered
  }
  const keys: string[] = [];
  for (const c of index.columns) {
    const r = resolve(c.name);
    if (!r) return undefined;
    if (!('column' in r)) {
      if (r.zero === null) return undefined; // NULL everywhere: no row is covered
      continue;
    }
    conditions.push(`${r.column} IS NOT NULL`);
    const text = c.kind === 'text' || c.kind === 'id';
    keys.push(c.nocase && text ? dialect.foldCaseSql(r.column) : r.column);
  }
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  const table = q(before.name);
  if (!keys.length) return { sql: `SELECT COUNT(*) AS ${q('n')} FROM ${table}${where}`, params };
  return {
    sql: `SELECT COUNT(*) AS ${q('n')} FROM ${table}${where} GROUP BY ${keys.join(', ')} HAVING COUNT(*) > 1 LIMIT 1`,
    params,
  };
}
