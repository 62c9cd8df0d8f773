import type { Database } from '../db/index.ts';
import { ApiError } from '../errors/index.ts';
import type { Collection, CollectionStore, RuleName } from '../schema/index.ts';
import { ruleOf } from './access.ts';
import { inOneTransaction } from './batch.ts';
import type { RecordsContext } from './context.ts';
import { createRecordsContext } from './context.ts';
import { deleteRecord, truncateRecords } from './delete.ts';
import { checkExpand, type ExpandTree, expandRecords, parseExpand } from './expand.ts';
import { ExpandBudget } from './expand-budget.ts';
import { bindFileCleanup } from './file-store.ts';
import { createRecordHooks, type RecordHooks } from './hooks.ts';
import { findRecord, listRecords, ruleAllows, viewRecord } from './read.ts';
import { ruleScope } from './rules.ts';
import type {
  AuthContext,
  ListQuery,
  ListResult,
  PasswordGuard,
  PasswordHasher,
  RecordValues,
} from './types.ts';
import { checkVisibility, type VisibilityCheck } from './visibility.ts';
import { createRecord, updateRecord, type WriteOptions } from './write.ts';

export { canManage, requireRule, ruleOf } from './access.ts';
export type { ExpandTree } from './expand.ts';
export type { Upload, Uploads } from './files.ts';
export {
  checkFiles,
  DEFAULT_MAX_FILE_SIZE,
  fileKey,
  maxFileSize,
  storedFileName,
  thumbsPrefix,
} from './files.ts';
export type { RecordHooks } from './hooks.ts';
export { ownerFieldOf } from './memory-rule.ts';
export { isOwner } from './serialize.ts';
export type {
  AuthContext,
  ListQuery,
  ListResult,
  PasswordGuard,
  PasswordHasher,
  RecordEvent,
  RecordValues,
  RequestDetails,
} from './types.ts';
export { GUEST } from './types.ts';
export type { VisibilityCheck } from './visibility.ts';
export type { WriteOptions } from './write.ts';
export { newTokenKey } from './write.ts';

/** The writes (and the reads they need) that `RecordService.transaction` runs together. */
export type RecordOperations = Pick<RecordService, 'create' | 'update' | 'remove' | 'find' | 'expand'>;

/** The record use cases, each taking the collection, its input and who asks. */
export interface RecordService {
  readonly hooks: RecordHooks;
  list(
    collection: Collection,
    query: ListQuery,
    auth: AuthContext,
  ): Promise<ListResult<Record<string, unknown>>>;
  view(collection: Collection, id: string, auth: AuthContext): Promise<Record<string, unknown>>;
  /**
   * `options.beforeWrite` runs once the caller is allowed and the body valid, before anything is written;
   * `options.uploads` are the files sent with the body (stored only if the write goes through).
   */
  create(
    collection: Collection,
    body: unknown,
    auth: AuthContext,
    options?: WriteOptions,
  ): Promise<Record<string, unknown>>;
  update(
    collection: Collection,
    id: string,
    body: unknown,
    auth: AuthContext,
    options?: WriteOptions,
  ): Promise<Record<string, unknown>>;
  remove(collection: Collection, id: string, auth: AuthContext): Promise<void>;
  /** Deletes every record of the collection (cascades included), in one transaction. */
  truncate(collection: Collection, auth: AuthContext): Promise<void>;
  /**
   * Runs `work` in one transaction: its writes, each checked as it would be alone, commit together or not
   * at all, and each sees the ones before it. The `after*` hooks run once it has committed.
   */
  transaction<T>(work: (operations: RecordOperations) => Promise<T>): Promise<T>;
  /** Stored values (incl. hidden fields and hashes) for other layers, e.g. auth; no access checks. */
  find(collection: Collection, id: string): Promise<RecordValues | undefined>;
  /** Finds one record by a field value (auth identities); no access checks. */
  findBy(
    collection: Collection,
    field: string,
    value: string,
    caseInsensitive?: boolean,
  ): Promise<RecordValues | undefined>;
  /**
   * Adds `expand` (the `expand` query parameter) to record JSON the caller already may see, in place.
   * Related records the caller may not view are left out.
   */
  expand(
    collection: Collection,
    records: Record<string, unknown>[],
    expand: ExpandTree | undefined,
    auth: AuthContext,
  ): Promise<void>;
  /**
   * Parses an `expand` parameter. Names that are not relations are ignored (as in PocketBase); more than
   * Plinth's bound of relation paths is a 400.
   */
  parseExpand(collection: Collection, expand: string | undefined): ExpandTree | undefined;
  /**
   * True if the stored record `id` meets one of the collection's rules for the caller (`""` always, `null`
   * never unless superuser). Used where a rule gates something other than a record route (`authRule`).
   */
  meetsRule(collection: Collection, rule: RuleName, id: string, auth: AuthContext): Promise<boolean>;
  /** The record JSON the given caller may see; `manages` shows a private email (auth collections). */
  toJson(
    collection: Collection,
    values: RecordValues,
    auth: AuthContext,
    manages?: boolean,
  ): Record<string, unknown>;
  /**
   * Answers many access questions about one record, as the given values, at once (realtime: one event,
   * many subscribers), with one statement per 64 questions that need the database and none for the others.
   */
  checkVisibility(
    collection: Collection,
    values: RecordValues,
    checks: readonly VisibilityCheck[],
  ): Promise<boolean[]>;
}

export function createRecordService(deps: {
  db: Database;
  collections: CollectionStore;
  passwords: PasswordHasher;
  passwordGuard?: PasswordGuard;
  files: RecordsContext['files'];
}): RecordService {
  const hooks = createRecordHooks();
  const ctx = createRecordsContext({ ...deps, hooks });
  bindFileCleanup(ctx, hooks);
  return {
    hooks,
    list: (c, q, a) => listRecords(ctx, c, q, a),
    view: (c, id, a) => viewRecord(ctx, c, id, a),
    create: (c, body, a, options) => createRecord(ctx, c, body, a, options),
    update: (c, id, body, a, options) => updateRecord(ctx, c, id, body, a, options),
    remove: (c, id, a) => deleteRecord(ctx, c, id, a),
    truncate: (c, a) => truncateRecords(ctx, c, a),
    find: (c, id) => findRecord(ctx, deps.db.kysely, c, id),
    async findBy(c, field, value, caseInsensitive = false) {
      // No stored value holds U+0000 (fields refuse it), and PostgreSQL cannot even be asked about one.
      if (!c.fields.some((f) => f.name === field) || value.includes('\u0000')) return undefined;
      const q = deps.db.dialect.quote;
      const fold = deps.db.dialect.foldCaseSql;
      const where = caseInsensitive ? `${fold(q(field))} = ${fold('?')}` : `${q(field)} = ?`;
      const rows = await deps.db.run<Record<string, unknown>>(
        deps.db.kysely,
        `SELECT * FROM ${q(c.name)} WHERE ${where} LIMIT 1`,
        [value],
      );
      return rows[0] ? ctx.prepared(c).shape.fromRow(rows[0]) : undefined;
    },
    toJson: (c, values, a, manages) => ctx.prepared(c).shape.toJson(values, a, manages),
    checkVisibility: (c, values, checks) => checkVisibility(ctx, c, values, checks),
    async meetsRule(c, rule, id, a) {
      if (!a.isSuperuser && ruleOf(c, rule) === null) return false;
      try {
        return await ruleAllows(ctx, deps.db.kysely, c, id, ruleScope(ctx, c, rule, a), a);
      } catch (err) {
        if (err instanceof ApiError && err.status === 403) return false;
        throw err;
      }
    },
    parseExpand(c, expand) {
      const tree = parseExpand(expand);
      if (tree) checkExpand(ctx, c, tree);
      return tree;
    },
    expand: (c, records, tree, a) => expandJson(ctx, c, records, tree, a),
    transaction: (work) =>
      inOneTransaction(ctx, (tx) =>
        work({
          create: (c, body, a, options) => createRecord(tx, c, body, a, options),
          update: (c, id, body, a, options) => updateRecord(tx, c, id, body, a, options),
          remove: (c, id, a) => deleteRecord(tx, c, id, a),
          find: (c, id) => findRecord(tx, tx.db.kysely, c, id),
          expand: (c, records, tree, a) => expandJson(tx, c, records, tree, a),
        }),
      ),
  };
}

async function expandJson(
  ctx: RecordsContext,
  collection: Collection,
  records: Record<string, unknown>[],
  tree: ExpandTree | undefined,
  auth: AuthContext,
): Promise<void> {
  if (!tree) return;
  const items = records.map((json) => ({ values: json, json }));
  await expandRecords(ctx, collection, items, tree, auth, new ExpandBudget(records));
}
