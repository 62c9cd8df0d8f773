import type { Database } from '../db/index.ts';
import type { Collection, CollectionStore } from '../schema/index.ts';
import type { FileStorage } from '../storage/index.ts';
import { createFanoutStats, type FanoutStats } from './fanout-stats.ts';
import type { RecordHooks } from './hooks.ts';
import { type PreparedCollection, prepareCollection } from './prepared.ts';
import type { PasswordGuard, PasswordHasher } from './types.ts';

/** What the record use cases share: their dependencies and the per-collection prepared SQL. */
export interface RecordsContext {
  db: Database;
  collections: CollectionStore;
  passwords: PasswordHasher;
  passwordGuard?: PasswordGuard;
  hooks: RecordHooks;
  prepared(collection: Collection): PreparedCollection;
  /** The planner-side bound on clients' filters through lists, with its statistics. */
  fanout: FanoutStats;
  /** Where file fields' files go; `onError` hears of a cleanup that failed after its write committed. */
  files: { storage: FileStorage; onError(err: unknown, key: string): void };
  /** Within a batch: what to undo outside the database (stored uploads) if the transaction fails. */
  onRollback?: (() => Promise<void>)[];
}

export function createRecordsContext(deps: Omit<RecordsContext, 'prepared' | 'fanout'>): RecordsContext {
  // Keyed by the collection object: the store replaces the object on every change, so a stale entry
  // can never be used, and the change hook frees it.
  let cache = new WeakMap<Collection, PreparedCollection>();
  deps.collections.changed.bind((_change, next) => {
    cache = new WeakMap();
    return next();
  });
  return {
    ...deps,
    fanout: createFanoutStats(deps.db, deps.collections),
    prepared(collection) {
      let p = cache.get(collection);
      if (!p) {
        p = prepareCollection(deps.db, collection);
        cache.set(collection, p);
      }
      return p;
    },
  };
}
