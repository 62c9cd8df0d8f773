import type { ListQuery, ListResult, RecordService, RecordValues } from '../records/index.ts';
import type { Collection, CollectionStore } from '../schema/index.ts';

/**
 * What a migration's `up` and `down` are given. Everything in it runs inside the migration's one
 * transaction (see docs/migrations.md for what that makes atomic on each engine).
 */
export interface MigrationApi {
  /** The engine the migration runs on, for the rare SQL that must differ. */
  readonly engine: 'sqlite' | 'postgres' | 'mysql';
  /** The collections store: the same validation and table sync as the API's collection routes. */
  readonly collections: Pick<
    CollectionStore,
    'list' | 'find' | 'get' | 'create' | 'update' | 'remove' | 'importCollections'
  >;
  /** Records, acting as a superuser (rules do not apply; field validation does). */
  readonly records: MigrationRecords;
  /**
   * Runs one SQL statement with `?` placeholders and answers its rows (none for a write). Raw SQL is
   * the migration's own business: the collections cache does not see tables it creates.
   */
  sql(text: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
}

/** The record use cases a migration needs, taking a collection by name or id, as a superuser. */
export interface MigrationRecords {
  list(collection: string, query?: ListQuery): Promise<ListResult<Record<string, unknown>>>;
  /** Stored values (hidden fields included), or undefined. */
  find(collection: string, id: string): Promise<RecordValues | undefined>;
  create(collection: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  update(collection: string, id: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
  remove(collection: string, id: string): Promise<void>;
}

/**
 * The shape of a migration file's default export: `up` applies the change, `down` reverts it. A file
 * written for Plinth ends `export default { ... } satisfies AppMigration;`.
 */
export interface AppMigration {
  up(m: MigrationApi): Promise<void> | void;
  down(m: MigrationApi): Promise<void> | void;
}

/**
 * The services of one migration's transaction, built by the app on a database joined to that
 * transaction (a collections store and a records service of their own, so that nothing waits on the
 * transaction it is part of).
 */
export interface MigrationScope {
  collections: CollectionStore;
  records: RecordService;
}

/** The records service as a superuser, taking collections by name or id from `collections`. */
export function superuserRecords(records: RecordService, collections: CollectionStore): MigrationRecords {
  const auth = { collection: null, record: null, isSuperuser: true };
  const get = (name: string): Collection => collections.get(name);
  return {
    list: (c, query = {}) => records.list(get(c), query, auth),
    find: (c, id) => records.find(get(c), id),
    create: (c, body) => records.create(get(c), body, auth),
    update: (c, id, body) => records.update(get(c), id, body, auth),
    remove: (c, id) => records.remove(get(c), id, auth),
  };
}
