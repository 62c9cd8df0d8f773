import type { FastifyInstance } from 'fastify';
import { type AuthService, createAuthService, createPasswords, loadSigningKeys } from './auth/index.ts';
import { type Bus, createMemoryBus } from './bus/index.ts';
import type { Config } from './config/index.ts';
import { createDatabase, type Database, runMigrations } from './db/index.ts';
import { buildServer } from './http/index.ts';
import type { Logger } from './log/index.ts';
import { checkRule, queryDialect } from './query/index.ts';
import { createRecordService, type RecordService } from './records/index.ts';
import {
  type CollectionStore,
  checkForeignTables,
  createCollectionStore,
  SYSTEM_MIGRATIONS,
} from './schema/index.ts';

/** A wired Plinth: every service, the HTTP server, and one way to shut it all down. */
export interface App {
  config: Config;
  db: Database;
  collections: CollectionStore;
  records: RecordService;
  auth: AuthService;
  /** Cross-node events; in memory on one node (the cluster issue adds Redis behind the same interface). */
  bus: Bus;
  server: FastifyInstance;
  /** Stops accepting requests, lets in-flight ones finish, then closes the database. */
  close(): Promise<void>;
}

/** The composition root: the one place that builds and connects the layers. */
export async function createApp(config: Config, log: Logger): Promise<App> {
  const db = createDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteSynchronous: config.sqliteSynchronous,
    log,
  });
  try {
    await checkForeignTables(db);
    await runMigrations(db, SYSTEM_MIGRATIONS);
    const dialect = queryDialect(db.dialect);
    const collections = await createCollectionStore(db, {
      checkRule: (collection, rule, lookup) => checkRule(rule, collection, lookup, dialect),
    });
    await collections.reload();
    const passwords = createPasswords();
    const records = createRecordService({ db, collections, passwords });
    const keys = await loadSigningKeys(config.dataDir);
    const auth = createAuthService({ collections, records, passwords, keys });
    const bus = createMemoryBus((err, topic) => log.error({ err, topic }, 'bus handler failed'));
    const server = await buildServer({ config, collections, records, auth }, log);
    let closing: Promise<void> | undefined;
    return {
      config,
      db,
      collections,
      records,
      auth,
      bus,
      server,
      close() {
        closing ??= server
          .close()
          .then(() => bus.close())
          .then(() => db.close())
          .finally(() => log.flush());
        return closing;
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}
