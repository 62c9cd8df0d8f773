import type { AnyTrx, Database, Executor } from '../db/index.ts';
import type { Collection } from './collection.ts';
import { applyTableSync, type SyncLog } from './sync.ts';
import { viewReads, viewTableKind } from './view-collection.ts';
import { inferViewFields } from './view-fields.ts';
import { parseViewQuery, ViewQueryError } from './view-query.ts';
import { createViewSql, dropViewSql, viewSelectSql } from './view-sql.ts';

/**
 * Runs a view's SELECT once and returns up to `limit` rows, checking that it works on this engine and
 * that the ids it gives are non-empty and unique (as PocketBase's dry run does). In a PostgreSQL transaction
 * it runs under a savepoint, so that a failing query does not abort the transaction.
 */
export async function sampleView(
  db: Database,
  executor: Executor,
  c: Collection,
  limit = 10,
  inTransaction = false,
): Promise<Record<string, unknown>[]> {
  const select = `SELECT * FROM (${viewSelectSql(db.dialect, c)}) AS _dv LIMIT ${Math.floor(limit)}`;
  let rows: Record<string, unknown>[];
  // Only PostgreSQL aborts a transaction on a failed statement (and MySQL's DDL has ended it already).
  const savepoint = inTransaction && db.dialect.transactionalDdl && db.dialect.name === 'postgres';
  if (savepoint) await db.run(executor, 'SAVEPOINT plinth_view_check', []);
  try {
    rows = await db.run(executor, select, []);
  } catch (err) {
    if (savepoint) await db.run(executor, 'ROLLBACK TO SAVEPOINT plinth_view_check', []);
    // An outage or a timeout is not the query's fault: it keeps its own answer (503...).
    const kind = db.dialect.translateError(err)?.kind;
    if (kind === 'unavailable' || kind === 'timeout' || kind === 'full') throw err;
    throw new ViewQueryError(errorText(err));
  }
  if (savepoint) await db.run(executor, 'RELEASE SAVEPOINT plinth_view_check', []);
  const ids = new Set<string>();
  for (const row of rows) {
    const id = row.id === null || row.id === undefined ? '' : String(row.id);
    if (id === '') throw new ViewQueryError('the query could return records with empty or invalid ids');
    if (ids.has(id)) throw new ViewQueryError('the query could return records with non-unique ids');
    ids.add(id);
  }
  return rows;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message.replace(/\s+/g, ' ').slice(0, 500) : 'the query failed';
}

/**
 * The views that read `name`, directly or through other views, in an order they can be created in
 * (each after the views it reads).
 */
export function dependentViews(name: string, all: Collection[]): Collection[] {
  const views = all.filter((c) => c.type === 'view' && c.name.toLowerCase() !== name.toLowerCase());
  const reads = new Map(views.map((v) => [v.id, viewReads(v)]));

  const affected = new Set([name.toLowerCase()]);
  const found: Collection[] = [];
  let grew = true;
  while (grew) {
    grew = false;
    for (const v of views) {
      if (found.includes(v) || ![...reads.get(v.id)!].some((t) => affected.has(t))) continue;
      found.push(v);
      affected.add(v.name.toLowerCase());
      grew = true;
    }
  }
  return inCreationOrder(found);
}

/** The views in an order they can be created in: each after the views (of the list) it reads. */
export function inCreationOrder(views: Collection[]): Collection[] {
  const reads = new Map(views.map((v) => [v.id, viewReads(v)]));
  const waitsFor = (v: Collection, done: Collection[]) =>
    [...reads.get(v.id)!].some((t) =>
      views.some((o) => o !== v && o.name.toLowerCase() === t && !done.includes(o)),
    );
  const ordered: Collection[] = [];
  while (ordered.length < views.length) {
    const next = views.find((v) => !ordered.includes(v) && !waitsFor(v, ordered));
    // A cycle cannot be saved (a view is created after what it reads); keep the rest in their order.
    if (!next) return [...ordered, ...views.filter((v) => !ordered.includes(v))];
    ordered.push(next);
  }
  return ordered;
}

/** Drops the views (dependents last created first); the log recreates them on undo (MySQL). */
export async function dropViews(trx: AnyTrx, db: Database, views: Collection[], log: SyncLog): Promise<void> {
  for (const v of [...views].reverse())
    await applyTableSync(
      trx,
      {
        steps: [{ sql: [dropViewSql(db.dialect, v.name)], undo: [createViewSql(db.dialect, v)] }],
        cleanup: [],
      },
      log,
    );
}

/**
 * Creates the views again over the changed schema, with their fields inferred anew; `save` stores a view
 * whose fields changed. A view that no longer works is a ViewQueryError naming it.
 */
export async function recreateViews(
  trx: AnyTrx,
  db: Database,
  views: Collection[],
  find: (name: string) => Collection | undefined,
  save: (before: Collection, after: Collection) => Promise<void>,
  log: SyncLog,
): Promise<void> {
  for (const v of views) {
    try {
      const parsed = parseViewQuery(String(v.options.viewQuery ?? ''), viewTableKind(find));
      const fields = inferViewFields(parsed, find, v.fields);
      const after = { ...v, fields };
      await sampleView(db, trx, after, 1, true);
      await applyTableSync(
        trx,
        {
          steps: [{ sql: [createViewSql(db.dialect, after)], undo: [dropViewSql(db.dialect, v.name)] }],
          cleanup: [],
        },
        log,
      );
      if (JSON.stringify(fields) !== JSON.stringify(v.fields)) await save(v, after);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      throw new ViewQueryError(`the view collection "${v.name}" depends on it: ${err.message}`);
    }
  }
}
