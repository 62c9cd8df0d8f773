import type { Compilable } from 'kysely';
import { type AnyTrx, BOUNDED_TEXT_CHARS, type Database, type Executor } from '../db/index.ts';
import { ApiError, badRequest, type ErrorData, notFound } from '../errors/index.ts';
import { Hook } from '../hooks/index.ts';
import { createSemaphore, isPlainObject, type SecretBox } from '../lib/index.ts';
import {
  AUTH_RULE_NAMES,
  type Collection,
  type CollectionRow,
  collectionFromRow,
  collectionToRow,
  RULE_NAMES,
} from './collection.ts';
import {
  keepProviderSecrets,
  keepTokenSecrets,
  openCollectionSecrets,
  resealCollectionSecrets,
  sealCollectionSecrets,
} from './collection-secrets.ts';
import { checkImportList, importError, importFailure, prepareImport } from './import.ts';
import { describeImport, destructiveImport, type ImportPlan } from './import-plan.ts';
import { parseIndex } from './indexes.ts';
import { clearJournal, writeJournal } from './schema-journal.ts';
import {
  applyTableSync,
  findOverlongField,
  findViolatedIndex,
  finishSync,
  loggedStep,
  newSyncLog,
  planTableSync,
  type SyncLog,
  type UndoStatement,
  undoSync,
} from './sync.ts';
import { buildCollection, type ValidationContext } from './validate-collection.ts';
import { invalidViewQuery, temporaryView, viewTableKind } from './view-collection.ts';
import { dependentViews, dropViews, inCreationOrder, recreateViews, sampleView } from './view-deps.ts';
import { inferViewFields } from './view-fields.ts';
import { parseViewQuery, ViewQueryError } from './view-query.ts';

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
  /**
   * PocketBase's import. With `guard`, the import is first described (import-plan.ts) in its transaction,
   * and refused with a 400 naming the data it would destroy unless `guard.allowDestructive`; the plan is
   * answered. Without it, PocketBase's behaviour: destructive steps apply unasked.
   */
  importCollections(
    collections: unknown,
    deleteMissing: boolean,
    guard?: { allowDestructive: boolean },
  ): Promise<ImportPlan | undefined>;
  /** What `importCollections` would do, checked the same way, with the data each destructive step loses. */
  previewImport(collections: unknown, deleteMissing: boolean): Promise<ImportPlan>;
  /**
   * Checks a view query and runs it once without saving anything: the fields a view collection would
   * get, a temporary collection holding them, and up to 10 of its rows (stored values).
   */
  dryRunView(query: string): Promise<{ collection: Collection; rows: Record<string, unknown>[] }>;
  /** Re-reads definitions from the database. */
  reload(): Promise<void>;
  /** Fires after each committed change (records layer drops its prepared queries). */
  readonly changed: Hook<CollectionChange>;
}

/** Every definition, by id and by lower-cased name: the cache, or what a schema change read in its transaction. */
interface Schema {
  byId: Map<string, Collection>;
  byName: Map<string, Collection>;
}

function schemaOf(all: Collection[]): Schema {
  return {
    byId: new Map(all.map((c) => [c.id, c])),
    byName: new Map(all.map((c) => [c.name.toLowerCase(), c])),
  };
}

function findIn(s: Schema, idOrName: string): Collection | undefined {
  return s.byId.get(idOrName) ?? s.byName.get(idOrName.toLowerCase());
}

function getIn(s: Schema, idOrName: string): Collection {
  const c = findIn(s, idOrName);
  if (!c) throw notFound('Missing collection context.');
  return c;
}

/**
 * Checks a rule expression against a collection (as it is about to be saved) and the other collections;
 * answers an error message, or undefined when the rule compiles. Supplied by the app (the query layer
 * compiles rules; the schema layer cannot depend on it).
 */
export type RuleChecker = (
  collection: Collection,
  rule: string,
  lookup: (idOrName: string) => Collection | undefined,
) => string | undefined;

export async function createCollectionStore(
  db: Database,
  options: { checkRule?: RuleChecker; secrets?: SecretBox } = {},
): Promise<CollectionStore> {
  const { secrets } = options;
  // OAuth2 client secrets are encrypted in `_collections` and plain in the cache (collection-secrets.ts).
  const toRow = (c: Collection) => collectionToRow(sealCollectionSecrets(c, secrets));
  if (secrets) await resealCollectionSecrets(db, secrets);
  let cache = schemaOf([]);
  const changed = new Hook<CollectionChange>();
  // Schema changes of this process queue here (in call order, holding no connection while they wait);
  // the database's schema lock serializes them with other processes and nodes.
  const serial = createSemaphore(1);
  let reads = 0;
  let published = 0;

  async function readSchema(executor: Executor): Promise<Schema> {
    const rows = (await executor
      .selectFrom('_collections')
      .selectAll()
      .orderBy('created')
      .orderBy('id')
      .execute()) as CollectionRow[];
    return schemaOf(rows.map((row) => openCollectionSecrets(collectionFromRow(row), secrets)));
  }

  /** Re-reads the committed definitions into the cache; a read overtaken by a later one is dropped. */
  async function reload() {
    const ticket = ++reads;
    const fresh = await readSchema(db.kysely);
    if (ticket < published) return;
    published = ticket;
    cache = fresh;
  }

  const find = (idOrName: string) => findIn(cache, idOrName);
  const get = (idOrName: string) => getIn(cache, idOrName);

  async function foreignTables(trx: AnyTrx, s: Schema): Promise<Set<string>> {
    const rows = await db.run<{ name: string }>(trx, db.dialect.listTablesSql(), []);
    const known = new Set(s.byName.keys());
    for (const c of s.byId.values()) for (const name of indexNamesOf(c)) known.add(name.toLowerCase());
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

  /** Rule expressions that do not compile against the schema being saved, as field errors. */
  function checkRules(c: Collection, ctx: ValidationContext): ErrorData | undefined {
    const check = options.checkRule;
    if (!check) return undefined;
    const errors: ErrorData = {};
    const lookup = (idOrName: string) =>
      idOrName === c.id || idOrName.toLowerCase() === c.name.toLowerCase()
        ? c
        : (ctx.findById(idOrName) ?? ctx.findByName(idOrName));
    for (const key of [...RULE_NAMES, ...(c.type === 'auth' ? AUTH_RULE_NAMES : [])]) {
      const text = key === 'authRule' || key === 'manageRule' ? c.options[key] : c[key];
      if (typeof text !== 'string' || text.trim() === '') continue;
      const message = check(c, text, lookup);
      if (message) errors[key] = { code: 'validation_invalid_rule', message };
    }
    const mfaRule = c.type === 'auth' ? (c.options.mfa as { rule?: unknown } | undefined)?.rule : undefined;
    if (typeof mfaRule === 'string' && mfaRule.trim() !== '') {
      const message = check(c, mfaRule, lookup);
      if (message) errors.mfa = { rule: { code: 'validation_invalid_rule', message } };
    }
    return Object.keys(errors).length ? errors : undefined;
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
    const ruleErrors = checkRules(result.collection, ctx);
    if (ruleErrors)
      throw badRequest(
        existing ? 'Failed to update collection.' : 'Failed to create collection.',
        ruleErrors,
      );
    return keepTokenSecrets(keepProviderSecrets(result.collection, existing), existing);
  }

  /**
   * Writes the definition and syncs the table, in the caller's transaction; `log` records how to undo
   * both where DDL commits as it runs (MySQL), which also checks new unique indexes before any DDL.
   */
  async function persist(
    trx: AnyTrx,
    before: Collection | undefined,
    after: Collection | undefined,
    log: SyncLog,
    s?: Schema,
  ) {
    if (after?.type === 'view') await checkViewRuns(trx, before, after);
    // Views reading this collection are dropped first (engines refuse to change what a view uses) and
    // created again over the new definition.
    const dependents = before && s ? dependentViews(before.name, [...s.byId.values()]) : [];
    await dropViews(trx, db, dependents, log);
    const duplicates = () =>
      badRequest('Failed to save collection.', {
        indexes: {
          code: 'validation_invalid_index',
          message: 'A unique index cannot be created: existing records have duplicate values.',
        },
      });
    if (
      before &&
      after &&
      !db.dialect.transactionalDdl &&
      (await findViolatedIndex(trx, db.dialect, before, after))
    )
      throw duplicates();
    const tooLong = (field: string) =>
      badRequest('Failed to save collection.', {
        fields: {
          code: 'validation_values_too_long',
          message: `Existing records hold values of "${field}" longer than ${BOUNDED_TEXT_CHARS} characters, which this database stores bounded at that length: shorten them first.`,
        },
      });
    const overlong =
      before && after && !db.dialect.transactionalDdl
        ? await findOverlongField(trx, db.dialect, before, after)
        : undefined;
    if (overlong) throw tooLong(overlong);
    const rows = () => trx.updateTable('_collections');
    if (after && before) {
      const undo = undoBy(rows().set(toRow(before)).where('id', '=', before.id));
      await loggedStep(trx, log, undo, () => rows().set(toRow(after)).where('id', '=', before.id).execute());
    } else if (after) {
      const undo = undoBy(trx.deleteFrom('_collections').where('id', '=', after.id));
      await loggedStep(trx, log, undo, () => trx.insertInto('_collections').values(toRow(after)).execute());
    } else if (before) {
      const undo = undoBy(trx.insertInto('_collections').values(toRow(before)));
      await loggedStep(trx, log, undo, () =>
        trx.deleteFrom('_collections').where('id', '=', before.id).execute(),
      );
    }
    try {
      await applyTableSync(trx, planTableSync(db.dialect, before, after), log);
    } catch (err) {
      const failure = db.dialect.translateError(err);
      if (failure?.kind === 'unique') throw duplicates();
      // A record written with a longer value after the check above (MySQL refuses to bound the column).
      if (failure?.kind === 'tooLong') throw tooLong(failure.columns?.[0] ?? 'a field');
      throw err;
    }
    if (!dependents.length || !s) return;
    const names = new Map([...s.byId.values()].map((c) => [c.name.toLowerCase(), c]));
    if (before) names.delete(before.name.toLowerCase());
    if (after) names.set(after.name.toLowerCase(), after);
    try {
      await recreateViews(trx, db, dependents, (n) => names.get(n.toLowerCase()), saver(trx, log), log);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      throw badRequest(`Failed to save collection: ${err.message}`.slice(0, 600));
    }
  }

  /** The statement `query` would run, kept to reverse a step (and journaled on MySQL). */
  const undoBy = (query: Compilable): UndoStatement[] => {
    const compiled = query.compile();
    return [{ sql: compiled.sql, params: compiled.parameters }];
  };

  /** Stores a view whose inferred fields changed when it was rebuilt. */
  function saver(trx: AnyTrx, log: SyncLog) {
    const rows = () => trx.updateTable('_collections');
    return async (before: Collection, after: Collection) => {
      const undo = undoBy(rows().set(toRow(before)).where('id', '=', before.id));
      await loggedStep(trx, log, undo, () => rows().set(toRow(after)).where('id', '=', before.id).execute());
    };
  }

  /** A view's query must run on this engine and give usable ids before the view is created. */
  async function checkViewRuns(trx: AnyTrx, before: Collection | undefined, after: Collection) {
    try {
      await sampleView(db, trx, after, 10, true);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      throw badRequest(before ? 'Failed to update collection.' : 'Failed to create collection.', {
        viewQuery: invalidViewQuery(err.message),
      });
    }
  }

  /**
   * Runs a schema change in one transaction holding the schema lock. It validates against the definitions
   * read inside that transaction, so it always starts from the latest committed schema (whoever wrote it);
   * the cache is re-read once the transaction has ended, committed or not (MySQL's DDL commits as it goes).
   */
  async function mutate(
    changes: (trx: AnyTrx, s: Schema, log: SyncLog) => Promise<CollectionChange[]>,
  ): Promise<CollectionChange[]> {
    const done = await serial(async () => {
      try {
        return await db.transaction(
          async (trx) => {
            // Where DDL commits as it runs (MySQL), each step is journaled first (schema-journal.ts).
            const log = newSyncLog(
              db.dialect.transactionalDdl ? undefined : (t, l, phase) => writeJournal(db, t, l, phase),
            );
            const journaled = () => log.journal && (log.undo.length > 0 || log.cleanup.length > 0);
            try {
              const result = await changes(trx, await readSchema(trx), log);
              await finishSync(trx, log);
              if (journaled()) await clearJournal(db, trx);
              return result;
            } catch (err) {
              // Elsewhere the rollback undoes it all; MySQL committed each DDL statement as it ran.
              if (db.dialect.transactionalDdl) throw err;
              // Undone in full: the journal goes. Not in full: it stays, and the next start tries again.
              const undone = await undoSync(trx, log, err).catch((e: unknown) => e);
              if (!(undone instanceof AggregateError) && journaled()) await clearJournal(db, trx, true);
              throw undone;
            }
          },
          { schemaLock: true },
        );
      } finally {
        await reload();
      }
    });
    for (const change of done) await changed.trigger(change);
    return done;
  }

  return {
    list: () => [...cache.byId.values()],
    find,
    get,
    async create(input) {
      const [change] = await mutate(async (trx, s, log) => {
        const ctx = context(s.byId, await foreignTables(trx, s));
        const after = validate(input, undefined, ctx, s.byId);
        await persist(trx, undefined, after, log, s);
        return [{ after }];
      });
      return change!.after!;
    },
    async update(idOrName, input) {
      get(idOrName);
      const [change] = await mutate(async (trx, s, log) => {
        const before = getIn(s, idOrName);
        const ctx = context(s.byId, await foreignTables(trx, s));
        const after = validate(input, before, ctx, s.byId);
        await persist(trx, before, after, log, s);
        return [{ before, after }];
      });
      return change!.after!;
    },
    async remove(idOrName) {
      get(idOrName);
      await mutate(async (trx, s, log) => {
        const before = getIn(s, idOrName);
        if (before.system) throw badRequest('System collections cannot be deleted.');
        const referrer = referencedBy(before, [...s.byId.values()]);
        if (referrer)
          throw badRequest(
            `The collection is referenced by a relation field of ${referrer}; remove that field first.`,
          );
        await persist(trx, before, undefined, log, s);
        return [{ before }];
      });
    },
    async importCollections(collections, deleteMissing, guard) {
      const list = checkImportList(collections);
      let plan: ImportPlan | undefined;
      await mutate(async (trx, s, log) => {
        const resolved = await resolveImport(trx, s, list, deleteMissing);
        if (guard) {
          // Counted in the change's own transaction, under the schema lock: what it will destroy.
          plan = await describeImport(resolved.changes, (text) => db.run(trx, text, []), db.dialect);
          if (plan.destructive.length && !guard.allowDestructive) throw destructiveImport(plan);
        }
        return applyImport(trx, s, log, resolved);
      });
      return plan;
    },
    async previewImport(collections, deleteMissing) {
      const list = checkImportList(collections);
      // Read only: the definitions as committed now, checked as the import would check them.
      const { changes } = await db.transaction(async (trx) =>
        resolveImport(trx, await readSchema(trx), list, deleteMissing),
      );
      return describeImport(changes, (text) => db.query(text, []), db.dialect);
    },
    async dryRunView(query) {
      const parsed = parseViewQuery(query, viewTableKind(find));
      const collection = temporaryView(query, inferViewFields(parsed, find));
      return { collection, rows: await sampleView(db, db.kysely, collection, 10) };
    },
    reload,
    changed,
  };

  async function applyImport(
    trx: AnyTrx,
    s: Schema,
    log: SyncLog,
    { changes, pool }: { changes: CollectionChange[]; pool: Map<string, Collection> },
  ): Promise<CollectionChange[]> {
    // Deletes first (frees names), then creates/updates in the given order.
    // Every view is dropped first (engines refuse to change what a view reads) and the ones the import
    // does not replace are rebuilt last; imported views are created after the collections they may read.
    const existingViews = inCreationOrder([...s.byId.values()].filter((c) => c.type === 'view'));
    await dropViews(trx, db, existingViews, log);
    const writes = changes.filter((c) => c.after);
    const views = inCreationOrder(writes.filter((c) => c.after!.type === 'view').map((c) => c.after!));
    const ordered = [
      ...writes.filter((c) => c.after!.type !== 'view'),
      ...views.map((v) => writes.find((c) => c.after === v)!),
    ];
    for (const ch of changes.filter((c) => !c.after)) await persist(trx, ch.before, undefined, log);
    for (const ch of ordered) await persist(trx, ch.before, ch.after, log);
    const untouched = existingViews.filter((v) => !changes.some((c) => (c.before ?? c.after)?.id === v.id));
    const names = new Map([...pool.values()].map((c) => [c.name.toLowerCase(), c]));
    try {
      await recreateViews(trx, db, untouched, (n) => names.get(n.toLowerCase()), saver(trx, log), log);
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      throw importError(`Failed to import the collections configuration: ${err.message.slice(0, 500)}`);
    }
    return changes;
  }

  /** What an import would change, every collection checked as the import checks it; nothing is written. */
  async function resolveImport(
    trx: AnyTrx,
    s: Schema,
    list: Record<string, unknown>[],
    deleteMissing: boolean,
  ): Promise<{ changes: CollectionChange[]; pool: Map<string, Collection> }> {
    const items = prepareImport(list, s.byId, s.byName, deleteMissing);
    // Every imported collection counts as existing, so relations may point at each other in any order;
    // with deleteMissing, the collections to delete are gone already (their names are free again).
    const incoming = new Set(
      items.map((it) => it.existing?.id ?? it.input.id).filter((id) => typeof id === 'string'),
    );
    const kept = new Set(items.flatMap((it) => (it.existing ? [it.existing.id] : [])));
    const pool = new Map(s.byId);
    if (deleteMissing) for (const c of s.byId.values()) if (!c.system && !kept.has(c.id)) pool.delete(c.id);
    const ctx = {
      ...context(pool, await foreignTables(trx, s)),
      collectionExists: (id: string) => pool.has(id) || incoming.has(id),
    };
    const changes: CollectionChange[] = [];
    // Views are checked after the collections they may read.
    const isView = (it: (typeof items)[number]) => (it.existing?.type ?? it.input.type) === 'view';
    for (const { input, existing } of [...items.filter((it) => !isView(it)), ...items.filter(isView)]) {
      let after: Collection;
      try {
        after = validate(input, existing, ctx, pool);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        throw importFailure(
          existing ? { ...input, name: input.name ?? existing.name, id: existing.id } : input,
          err.data,
        );
      }
      pool.set(after.id, after);
      changes.push({ before: existing, after });
    }
    if (deleteMissing) {
      for (const c of s.byId.values()) if (!kept.has(c.id) && !c.system) changes.push({ before: c });
    }
    for (const { before, after } of changes) {
      const referrer = !after && before ? referencedBy(before, [...pool.values()]) : undefined;
      if (referrer)
        throw importError(
          `Failed to import the collections configuration: ${before!.name} is referenced by a relation field of ${referrer}.`,
        );
    }
    return { changes, pool };
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
