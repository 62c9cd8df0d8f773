import type { FastifyInstance } from 'fastify';
import {
  type AuthService,
  createAuthService,
  createPasswordGuard,
  createPasswords,
  createThrottle,
  loadKeyRing,
} from './auth/index.ts';
import { type Bus, createMemoryBus } from './bus/index.ts';
import type { Config } from './config/index.ts';
import { createDatabase, type Database, runMigrations } from './db/index.ts';
import { buildServer } from './http/index.ts';
import type { Logger } from './log/index.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import { checkRule, queryDialect } from './query/index.ts';
import { createRecordService, type RecordService } from './records/index.ts';
import {
  type CollectionStore,
  checkForeignTables,
  createCollectionStore,
  createSettingsStore,
  type SettingsStore,
  SYSTEM_MIGRATIONS,
} from './schema/index.ts';

/** A wired Plinth: every service, the HTTP server, and one way to shut it all down. */
export interface App {
  config: Config;
  db: Database;
  collections: CollectionStore;
  records: RecordService;
  auth: AuthService;
  settings: SettingsStore;
  mailer: Mailer;
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
    const settings = await createSettingsStore(db, config.appUrl);
    // One throttle: sign-ins and `oldPassword` checks share each identity's budget.
    const throttle = createThrottle();
    const passwordGuard = createPasswordGuard(throttle, () => settings.get());
    const records = createRecordService({ db, collections, passwords, passwordGuard });
    const mailer = createMailer(() => {
      const { smtp, meta } = settings.get();
      return { smtp, sender: { name: meta.senderName, address: meta.senderAddress } };
    });
    const keys = await loadKeyRing(db, config.dataDir);
    const bus = createMemoryBus((err, topic) => log.error({ err, topic }, 'bus handler failed'));
    const auth = createAuthService({
      db,
      collections,
      records,
      passwords,
      keys,
      bus,
      settings,
      mailer,
      log,
      throttle,
    });
    const server = await buildServer({ config, collections, records, auth, settings }, log);
    let closing: Promise<void> | undefined;
    return {
      config,
      db,
      collections,
      records,
      auth,
      settings,
      mailer,
      bus,
      server,
      close() {
        closing ??= server
          .close()
          .then(() => auth.close())
          .then(() => mailer.close())
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
