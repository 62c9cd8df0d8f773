import { sql } from 'kysely';
import { type AnyTrx, type Database, joinedTransaction } from '../db/index.ts';
import type { CollectionChange, CollectionStore } from '../schema/index.ts';
import { compareFiles, firstLine, listMigrationFiles, loadMigration, MigrationError } from './files.ts';
import { collectionSource } from './templates.ts';
import { type AppMigration, type MigrationApi, type MigrationScope, superuserRecords } from './types.ts';

/**
 * Applied app migrations: a table of their own, apart from `_migrations` (Plinth's system migrations),
 * so that no file name can pass for a system migration and history-sync can never remove one.
 */
export const APP_MIGRATIONS_TABLE = '_appMigrations';

/** What the runner needs from the app: narrow, so it holds no state of its own beyond a counter. */
export interface MigrationRunnerDeps {
  db: Database;
  /** The app's store: re-read after each migration, and told of the changes it made. */
  collections: CollectionStore;
  dir: string;
  /** Builds the services of one migration on the database joined to its transaction. */
  scope(joined: Database): Promise<MigrationScope>;
}

/** Runs and records app migrations; every method takes the schema lock per migration. */
export interface MigrationRunner {
  /**
   * Applies every file not yet applied, in name order; answers the files applied. `onDone` hears of each
   * as it commits (a later one may fail: those stay applied).
   */
  up(onDone?: (file: string) => void): Promise<string[]>;
  /** Reverts the last `n` applied, newest first; answers the files reverted. */
  down(n: number, onDone?: (file: string) => void): Promise<string[]>;
  /** Applied files, oldest first. */
  applied(): Promise<string[]>;
  /** Removes the records of applied files that no longer exist; answers them. */
  historySync(): Promise<string[]>;
  /** Records a file as applied without running it (the state it describes is already the database's). */
  markApplied(file: string): Promise<void>;
  /** True while a migration runs: its collection changes are not the API's (automigrate skips them). */
  readonly running: boolean;
}

/**
 * Made once per app: `serve` and `plinth migrate` use it, automigrate reads `running` and `markApplied`.
 */
export function createMigrationRunner(deps: MigrationRunnerDeps): MigrationRunner {
  const { db, dir } = deps;
  const q = db.dialect.quote;
  const table = q(APP_MIGRATIONS_TABLE);
  let running = 0;

  async function ensureTable() {
    await db.transaction(
      (trx) =>
        sql
          .raw(
            `CREATE TABLE IF NOT EXISTS ${table} (${q('file')} VARCHAR(255) PRIMARY KEY NOT NULL, ${q('applied')} BIGINT NOT NULL)${db.dialect.tableOptions}`,
          )
          .execute(trx),
      { schemaLock: true },
    );
  }

  async function appliedRows(): Promise<{ file: string; applied: number }[]> {
    await ensureTable();
    const rows = await db.kysely.selectFrom(APP_MIGRATIONS_TABLE).select(['file', 'applied']).execute();
    return rows
      .map((r) => ({ file: String(r.file), applied: Number(r.applied) }))
      .sort((a, b) => a.applied - b.applied || compareFiles(a.file, b.file));
  }

  const isApplied = async (trx: AnyTrx, file: string) =>
    !!(await trx.selectFrom(APP_MIGRATIONS_TABLE).select('file').where('file', '=', file).executeTakeFirst());

  /**
   * Runs one step of one file in a transaction holding the schema lock (nodes starting together run it
   * once: the others find it recorded once they get the lock). The changes its collections store made
   * reach the app's store after the commit, or not at all.
   */
  async function step(file: string, migration: AppMigration, direction: 'up' | 'down'): Promise<boolean> {
    const changes: CollectionChange[] = [];
    running++;
    try {
      return await db.transaction(
        async (trx) => {
          if ((await isApplied(trx, file)) !== (direction === 'down')) return false;
          const joined = joinedTransaction(db, trx);
          const scope = await deps.scope(joined);
          scope.collections.changed.bind((change, next) => {
            changes.push(change);
            return next();
          });
          try {
            await migration[direction](api(joined, scope));
          } catch (err) {
            throw new MigrationError(`migration ${file} (${direction}) failed: ${firstLine(err)}`, {
              cause: err,
            });
          }
          if (direction === 'up')
            await trx.insertInto(APP_MIGRATIONS_TABLE).values({ file, applied: Date.now() }).execute();
          else await trx.deleteFrom(APP_MIGRATIONS_TABLE).where('file', '=', file).execute();
          return true;
        },
        { schemaLock: true },
      );
    } catch (err) {
      // Rolled back with the transaction, or (MySQL/MariaDB, whose DDL committed) reversed here.
      const undone = db.dialect.transactionalDdl ? undefined : await reverse(changes).catch((e: Error) => e);
      if (undone instanceof Error)
        throw new MigrationError(
          `${(err as Error).message}; undoing its collection changes failed too: ${firstLine(undone)}`,
          { cause: err },
        );
      changes.length = 0;
      throw err;
    } finally {
      await deps.collections.reload();
      // Only changes that stand are announced (caches, other nodes, sessions of a changed auth secret).
      for (const change of changes) await deps.collections.changed.trigger(change);
      running--;
    }
  }

  /**
   * Where DDL commits as it runs, the collection changes of a failed migration are reversed newest first
   * (a deleted collection comes back empty: its rows are gone). Raw SQL is not reversed.
   */
  async function reverse(changes: CollectionChange[]): Promise<void> {
    if (!changes.length) return;
    await db.transaction(
      async (trx) => {
        const { collections } = await deps.scope(joinedTransaction(db, trx));
        for (const { before, after } of [...changes].reverse()) {
          if (!before) await collections.remove(after!.id);
          else if (after) await collections.update(before.id, collectionSource(before));
          else await collections.create(collectionSource(before));
        }
      },
      { schemaLock: true },
    );
  }

  return {
    get running() {
      return running > 0;
    },
    async up(onDone) {
      const done = new Set((await appliedRows()).map((r) => r.file));
      const pending = listMigrationFiles(dir).filter((f) => !done.has(f));
      // Every pending file loads before any runs: a broken one stops the run before it has begun.
      const loaded = [];
      for (const file of pending) loaded.push({ file, migration: await loadMigration(dir, file) });
      const applied: string[] = [];
      for (const { file, migration } of loaded)
        if (await step(file, migration, 'up')) {
          applied.push(file);
          onDone?.(file);
        }
      return applied;
    },
    async down(n, onDone) {
      const rows = (await appliedRows()).reverse().slice(0, n);
      const files = new Set(listMigrationFiles(dir));
      const missing = rows.find((r) => !files.has(r.file));
      if (missing)
        throw new MigrationError(
          `applied migration ${missing.file} has no file in ${dir}: restore it, or run \`plinth migrate history-sync\` to forget it`,
        );
      const loaded = [];
      for (const { file } of rows) loaded.push({ file, migration: await loadMigration(dir, file) });
      const reverted: string[] = [];
      for (const { file, migration } of loaded)
        if (await step(file, migration, 'down')) {
          reverted.push(file);
          onDone?.(file);
        }
      return reverted;
    },
    async applied() {
      return (await appliedRows()).map((r) => r.file);
    },
    async historySync() {
      const files = new Set(listMigrationFiles(dir));
      const gone = (await appliedRows()).map((r) => r.file).filter((f) => !files.has(f));
      if (gone.length)
        await db.transaction((trx) =>
          trx.deleteFrom(APP_MIGRATIONS_TABLE).where('file', 'in', gone).execute(),
        );
      return gone;
    },
    async markApplied(file) {
      await ensureTable();
      await db.transaction(async (trx) => {
        if (!(await isApplied(trx, file)))
          await trx.insertInto(APP_MIGRATIONS_TABLE).values({ file, applied: Date.now() }).execute();
      });
    },
  };
}

function api(joined: Database, scope: MigrationScope): MigrationApi {
  return {
    engine: joined.dialect.name,
    collections: scope.collections,
    records: superuserRecords(scope.records, scope.collections),
    sql: (text, params = []) => joined.run<Record<string, unknown>>(joined.kysely, text, params),
  };
}
