import type { AnyTrx, Database, Executor } from '../db/index.ts';
import { ApiError, badRequest, type ErrorData, notFound } from '../errors/index.ts';
import { Hook } from '../hooks/index.ts';
import { isPlainObject } from '../lib/index.ts';
import { type Collection, type CollectionRow, collectionFromRow, collectionToRow } from './collection.ts';
import { parseIndex } from './indexes.ts';
import { applyTableSync, planTableSync } from './sync.ts';
import { buildCollection, type ValidationContext } from './validate-collection.ts';

export interface CollectionChange {
  before?: Collection;
  after?: Collection;
}

/**
 * The collections: an in-memory cache of every definition (read on every request) and the use cases that
 * change them, each in one transaction with its table sync.
 */
export interface CollectionStore {
  list(): Collection[];
  find(idOrName: string): Collection | undefined;
  /** Like find, but a missing collection is a 404. */
  get(idOrName: string): Collection;
  create(input: unknown): Promise<Collection>;
  update(idOrName: string, input: unknown): Promise<Collection>;
  remove(idOrName: string): Promise<void>;
  importCollections(collections: unknown, deleteMissing: boolean): Promise<void>;
  /** Re-reads definitions from the database. */
  reload(): Promise<void>;
  /** Fires after each committed change (records layer drops its prepared queries). */
  readonly changed: Hook<CollectionChange>;
}

export async function createCollectionStore(db: Database): Promise<CollectionStore> {
  let byId = new Map<string, Collection>();
  let byName = new Map<string, Collection>();
  const changed = new Hook<CollectionChange>();

  function index(all: Collection[]) {
    byId = new Map(all.map((c) => [c.id, c]));
    byName = new Map(all.map((c) => [c.name.toLowerCase(), c]));
  }

  async function reload(executor: Executor = db.kysely) {
    const rows = (await executor
      .selectFrom('_collections')
      .selectAll()
      .orderBy('created')
      .execute()) as CollectionRow[];
    index(rows.map(collectionFromRow));
  }

  const find = (idOrName: string) => byId.get(idOrName) ?? byName.get(idOrName.toLowerCase());
  const get = (idOrName: string) => {
    const c = find(idOrName);
    if (!c) throw notFound('Missing collection context.');
    return c;
  };

  async function foreignTables(trx: AnyTrx): Promise<Set<string>> {
    const rows = await db.run<{ name: string }>(trx, db.dialect.listTablesSql(), []);
    const known = new Set(byName.keys());
    for (const c of byId.values()) for (const name of indexNamesOf(c)) known.add(name.toLowerCase());
    return new Set(rows.map((r) => r.name.toLowerCase()).filter((n) => !known.has(n)));
  }

  function context(pool: Map<string, Collection>, foreign: Set<string>): ValidationContext {
    const names = () => new Map([...pool.values()].map((c) => [c.name.toLowerCase(), c]));
    return {
      findById: (id) => pool.get(id),
      findByName: (name) => names().get(name.toLowerCase()),
      collectionExists: (id) => pool.has(id),
      isForeignTable: (name) => foreign.has(name.toLowerCase()),
    };
  }

  function validate(
    input: unknown,
    existing: Collection | undefined,
    ctx: ValidationContext,
    pool: Map<string, Collection>,
  ): Collection {
    if (!isPlainObject(input)) throw badRequest('Invalid request body.');
    const result = buildCollection(input, existing, ctx);
    if ('errors' in result)
      throw badRequest(
        existing ? 'Failed to update collection.' : 'Failed to create collection.',
        result.errors,
      );
    const clash = indexNameClash(result.collection, pool, ctx.isForeignTable);
    if (clash) throw badRequest('Failed to save collection.', clash);
    return result.collection;
  }

  /** Writes the definition and syncs the table, in the caller's transaction. */
  async function persist(trx: AnyTrx, before: Collection | undefined, after: Collection | undefined) {
    if (after && before)
      await trx.updateTable('_collections').set(collectionToRow(after)).where('id', '=', before.id).execute();
    else if (after) await trx.insertInto('_collections').values(collectionToRow(after)).execute();
    else if (before) await trx.deleteFrom('_collections').where('id', '=', before.id).execute();
    try {
      await applyTableSync(trx, planTableSync(db.dialect, before, after));
    } catch (err) {
      const t = db.dialect.translateError(err);
      if (t?.kind === 'unique')
        throw badRequest('Failed to save collection.', {
          indexes: {
            code: 'validation_invalid_index',
            message: 'A unique index cannot be created: existing records have duplicate values.',
          },
        });
      throw err;
    }
  }

  /**
   * Runs a schema change in one transaction. The cache is refreshed inside it, so the next change (they
   * queue on the connection) starts from this one's result; if anything fails, it is re-read from what
   * was committed.
   */
  async function mutate(changes: (trx: AnyTrx) => Promise<CollectionChange[]>): Promise<CollectionChange[]> {
    let done: CollectionChange[];
    try {
      done = await db.transaction(async (trx) => {
        const result = await changes(trx);
        await reload(trx);
        return result;
      });
    } catch (err) {
      await reload();
      throw err;
    }
    for (const change of done) await changed.trigger(change);
    return done;
  }

  return {
    list: () => [...byId.values()],
    find,
    get,
    async create(input) {
      const [change] = await mutate(async (trx) => {
        const ctx = context(byId, await foreignTables(trx));
        const after = validate(input, undefined, ctx, byId);
        await persist(trx, undefined, after);
        return [{ after }];
      });
      return change!.after!;
    },
    async update(idOrName, input) {
      get(idOrName);
      const [change] = await mutate(async (trx) => {
        const before = get(idOrName);
        const ctx = context(byId, await foreignTables(trx));
        const after = validate(input, before, ctx, byId);
        await persist(trx, before, after);
        return [{ before, after }];
      });
      return change!.after!;
    },
    async remove(idOrName) {
      get(idOrName);
      await mutate(async (trx) => {
        const before = get(idOrName);
        if (before.system) throw badRequest('System collections cannot be deleted.');
        const referrer = referencedBy(before, [...byId.values()]);
        if (referrer)
          throw badRequest(
            `The collection is referenced by a relation field of ${referrer}; remove that field first.`,
          );
        await persist(trx, before, undefined);
        return [{ before }];
      });
    },
    async importCollections(collections, deleteMissing) {
      if (!Array.isArray(collections) || collections.length === 0 || collections.length > 1000) {
        throw badRequest('Failed to import collections.', {
          collections: { code: 'validation_required', message: 'Must be a non-empty list of collections.' },
        });
      }
      await mutate(async (trx) => importAll(trx, collections, deleteMissing));
    },
    reload,
    changed,
  };

  async function importAll(
    trx: AnyTrx,
    list: unknown[],
    deleteMissing: boolean,
  ): Promise<CollectionChange[]> {
    // Every imported collection counts as existing, so relations may point at each other in any order;
    // with deleteMissing, the collections to delete are gone already (their names are free again).
    const incoming = new Set<string>();
    for (const item of list) {
      if (!isPlainObject(item)) continue;
      const id = item.id ? String(item.id) : byName.get(String(item.name ?? '').toLowerCase())?.id;
      if (id) incoming.add(id);
    }
    const pool = new Map(byId);
    if (deleteMissing) for (const c of byId.values()) if (!c.system && !incoming.has(c.id)) pool.delete(c.id);
    const ctx = {
      ...context(pool, await foreignTables(trx)),
      collectionExists: (id: string) => pool.has(id) || incoming.has(id),
    };
    const changes: CollectionChange[] = [];
    const errors: ErrorData = {};
    const seen = new Set<string>();
    for (const [i, item] of list.entries()) {
      const existing = isPlainObject(item)
        ? (byId.get(String(item.id ?? '')) ??
          (item.id ? undefined : byName.get(String(item.name ?? '').toLowerCase())))
        : undefined;
      try {
        const after = validate(item, existing, ctx, pool);
        pool.set(after.id, after);
        seen.add(after.id);
        changes.push({ before: existing, after });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        errors[String(i)] = {
          code: 'collections_import_validate_failure',
          message: err.message,
          ...(Object.keys(err.data).length ? { params: err.data } : {}),
        } as ErrorData[string];
      }
    }
    if (Object.keys(errors).length)
      throw badRequest('Failed to import collections.', { collections: errors });
    if (deleteMissing) {
      for (const c of byId.values()) if (!seen.has(c.id) && !c.system) changes.push({ before: c });
    }
    for (const { before, after } of changes) {
      const referrer = !after && before ? referencedBy(before, [...pool.values()]) : undefined;
      if (referrer)
        throw badRequest('Failed to import collections.', {
          collections: {
            code: 'collections_import_failure',
            message: `${before!.name} is referenced by a relation field of ${referrer}.`,
          },
        });
    }
    // Deletes first (frees names), then creates/updates in the given order.
    for (const ch of changes.filter((c) => !c.after)) await persist(trx, ch.before, undefined);
    for (const ch of changes.filter((c) => c.after)) await persist(trx, ch.before, ch.after);
    return changes;
  }
}

function referencedBy(target: Collection, all: Collection[]): string | undefined {
  for (const c of all) {
    if (c.id === target.id) continue;
    if (c.fields.some((f) => f.type === 'relation' && f.collectionId === target.id)) return c.name;
  }
  return undefined;
}

function indexNamesOf(c: Collection): string[] {
  return (c.indexes ?? []).flatMap((text) => {
    const spec = parseIndex(text, c.name);
    return typeof spec === 'string' ? [] : [spec.name];
  });
}

/**
 * Tables and indexes share one namespace in SQLite and PostgreSQL schemas: an index name must not be
 * another collection's index, a collection or a foreign table, and a collection must not be named like
 * another collection's index.
 */
function indexNameClash(
  c: Collection,
  pool: Map<string, Collection>,
  isForeignTable: (name: string) => boolean,
): ErrorData | undefined {
  const taken = new Set<string>();
  const tables = new Set([c.name.toLowerCase()]);
  for (const other of pool.values()) {
    if (other.id === c.id) continue;
    tables.add(other.name.toLowerCase());
    for (const name of indexNamesOf(other)) taken.add(name.toLowerCase());
  }
  const errors: ErrorData = {};
  if (taken.has(c.name.toLowerCase()))
    errors.name = {
      code: 'validation_collection_name_exists',
      message: 'Another collection has an index with this name.',
    };
  const indexErrors: ErrorData = {};
  c.indexes.forEach((text, i) => {
    const spec = parseIndex(text, c.name);
    if (typeof spec === 'string') return;
    const name = spec.name.toLowerCase();
    if (taken.has(name)) {
      indexErrors[String(i)] = {
        code: 'validation_duplicated_index_name',
        message: 'Another collection has an index with this name.',
      };
    } else if (tables.has(name) || isForeignTable(name)) {
      indexErrors[String(i)] = {
        code: 'validation_duplicated_index_name',
        message: 'A table has this name.',
      };
    }
  });
  if (Object.keys(indexErrors).length) errors.indexes = indexErrors;
  return Object.keys(errors).length ? errors : undefined;
}
