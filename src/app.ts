import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import {
  type AuthService,
  createAuthService,
  createPasswordGuard,
  createPasswords,
  createThrottle,
  loadKeyRing,
  SESSIONS_REVOKED_TOPIC,
} from './auth/index.ts';
import {
  applyPendingRestore,
  applyPendingServerRestore,
  type BackupService,
  createBackupService,
  RESTORED_TOPIC,
  startBackupSchedule,
} from './backups/index.ts';
import { type Bus, createMemoryBus, createRedisBus, type WorkerBus, withSiblings } from './bus/index.ts';
import { type Config, loadEncryptionKeys, prepareDataDir, sqliteFile } from './config/index.ts';
import { createDatabase, type Database, outageError, runMigrations, type WriteLock } from './db/index.ts';
import { buildServer, type ReadinessCheck, rememberSuccess, type SharedMetrics } from './http/index.ts';
import { addressList, createSecretBox, JobStats } from './lib/index.ts';
import type { Logger } from './log/index.ts';
import {
  createLogReader,
  createLogWriter,
  LOGS_MIGRATIONS,
  type LogWriter,
  sqlSink,
  workerSink,
} from './logs/index.ts';
import { createMailer, type Mailer } from './mail/index.ts';
import { bindAutomigrate, createMigrationRunner, type MigrationRunner } from './migrations/index.ts';
import { checkRule, queryDialect } from './query/index.ts';
import { createRealtime, type Realtime } from './realtime/index.ts';
import { createRecordService, type RecordService } from './records/index.ts';
import {
  type CollectionStore,
  checkForeignTables,
  createCollectionStore,
  createSettingsStore,
  recoverSchemaChange,
  type SettingsStore,
  SYSTEM_MIGRATIONS,
  TABLE_MIGRATIONS,
} from './schema/index.ts';
import { createLocalStorage, createSwitchingStorage } from './storage/index.ts';

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
  /** Realtime streams of this node; `publish` sends a custom topic's message to every node's subscribers. */
  realtime: Realtime;
  server: FastifyInstance;
  /** App migrations (docs/migrations.md): `serve` applies pending ones before it listens. */
  migrations: MigrationRunner;
  /** Backups of this server's data (docs/backups.md). */
  backups: BackupService;
  /** The stored request logs' writer (entries are written about once a second; `flush` writes them now). */
  logs: LogWriter;
  /**
   * Stops accepting requests, lets in-flight ones finish for up to `config.shutdownTimeout` seconds
   * (then closes the connections that remain), then closes the database.
   */
  close(): Promise<void>;
}

/** How long a storage check that passed counts for readiness (it writes a file or asks S3). */
const STORAGE_CHECK_MS = 5000;

/** What a process of `plinth serve --workers N` brings to the app it runs. */
export interface AppOptions {
  /**
   * The bus to the other workers through the primary process (src/bus/ipc.ts), used when no Redis is
   * configured; it shares the counters too. Without it, and without Redis, the app is a node alone.
   */
  workerBus?: (onError: (err: unknown, topic: string) => void) => WorkerBus;
  /**
   * Finish a restore staged in the data dir before opening the database (default true). Only the first
   * worker does: it starts alone, while the others, started later on the same data dir, would take a
   * restore that a running worker is staging for one a crash left behind, and undo it.
   */
  finishRestore?: boolean;
  /** SQLite: the write lock the workers take in turn through the primary (src/bus/ipc.ts). */
  writeLock?: WriteLock;
  /** `/metrics` for every worker, gathered through the primary (src/cli/worker-metrics.ts). */
  sharedMetrics?: SharedMetrics;
}

/** The composition root: the one place that builds and connects the layers. */
export async function createApp(config: Config, log: Logger, options: AppOptions = {}): Promise<App> {
  const warn = (message: string) => log.warn(message);
  const restored = options.finishRestore === false ? false : await finishRestore(config, log);
  prepareDataDir(config, warn);
  const keyring = loadEncryptionKeys(config, warn);
  const secrets = createSecretBox(keyring.current, keyring.older);
  const db = createDatabase({
    url: config.databaseUrl,
    dataDir: config.dataDir,
    sqliteSynchronous: config.sqliteSynchronous,
    sqliteGroupCommit: config.sqliteGroupCommit,
    sqliteInlineBudgetMs: config.sqliteInlineReads ? undefined : 0,
    sqliteWriteLock: options.writeLock,
    queryTimeoutMs: config.queryTimeout,
    log,
  });
  try {
    await checkForeignTables(db);
    await runMigrations(db, SYSTEM_MIGRATIONS);
    // MariaDB/MySQL: a schema change a crash cut short is undone (or finished) before anything reads it.
    const recovery = await recoverSchemaChange(db);
    if (recovery.outcome !== 'none')
      log.warn(recovery, `a schema change interrupted by a crash was ${recovery.outcome} at start`);
    await runMigrations(db, TABLE_MIGRATIONS);
    const dialect = queryDialect(db.dialect);
    const storeOptions = {
      checkRule: (collection, rule, lookup) => checkRule(rule, collection, lookup, dialect),
      secrets,
    } satisfies Parameters<typeof createCollectionStore>[1];
    const collections = await createCollectionStore(db, storeOptions);
    await collections.reload();
    const passwords = createPasswords();
    const settings = await createSettingsStore(db, config.appUrl, secrets);
    const mailer = createMailer(() => {
      const { smtp, meta } = settings.get();
      // PocketBase's empty `authMethod` means PLAIN.
      const authMethod = smtp.authMethod || 'PLAIN';
      return {
        smtp: { ...smtp, authMethod },
        sender: { name: meta.senderName, address: meta.senderAddress },
      };
    });
    const keys = await loadKeyRing(db, config.dataDir, secrets);
    const onBusError = (err: unknown, topic: string) => log.error({ err, topic }, 'bus handler failed');
    // A worker of `plinth serve --workers N`: the other workers of this machine, through the primary.
    const siblings = options.workerBus?.(onBusError);
    const redis = config.redisUrl
      ? createRedisBus({
          url: config.redisUrl,
          prefix: config.redisPrefix,
          onError: onBusError,
          onStatus: reportRedis(log, () => resync()),
          fallbackCounters: siblings?.counters,
        })
      : undefined;
    // With Redis, workers are nodes of their own to it, and reach each other without it while it is down.
    const shared = redis && siblings ? withSiblings(redis, siblings) : (redis ?? siblings);
    const bus: Bus = shared ?? createMemoryBus(onBusError);
    // One throttle: sign-ins and `oldPassword` checks share each identity's budget, on every node.
    const throttle = createThrottle(shared?.counters);
    const passwordGuard = createPasswordGuard(throttle, () => settings.get());
    // The data dir, or the bucket of the `s3` settings while they are enabled (switched without a restart).
    const storage = createSwitchingStorage(
      await createLocalStorage(join(config.dataDir, 'storage')),
      () => settings.get().s3,
    );
    const files = {
      storage,
      onError: (err: unknown, key: string) => log.error({ err, key }, 'removing a stored file failed'),
    };
    const records = createRecordService({ db, collections, passwords, passwordGuard, files });
    // A migration's own store and records service, on the database joined to its transaction.
    const migrations = createMigrationRunner({
      db,
      collections,
      dir: config.migrationsDir,
      async scope(joined) {
        const store = await createCollectionStore(joined, storeOptions);
        await store.reload();
        const deps = { db: joined, collections: store, passwords, passwordGuard, files };
        return { collections: store, records: createRecordService(deps) };
      },
    });
    if (config.automigrate)
      bindAutomigrate({ collections, runner: migrations, dir: config.migrationsDir, log });
    const resync = shareChanges(bus, collections, settings, (err) =>
      log.error({ err }, 'reloading a change from another node failed'),
    );
    // The background jobs' runs, for /metrics (scheduled backups, sweeps).
    const jobs = new JobStats();
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
      secrets,
      avatars: { spoolDir: join(config.dataDir, '.uploads'), allow: addressList(config.fetchAllowPrivate) },
      jobs,
    });
    const realtime = createRealtime({
      records,
      collections,
      bus,
      limits: {
        maxClientsPerIp: config.realtimeMaxClientsPerIp,
        maxSubscriptions: config.realtimeMaxSubscriptions,
        bufferBytes: config.realtimeBufferBytes,
        idleTimeout: config.realtimeIdleTimeout,
        heartbeat: config.realtimeHeartbeat,
      },
      onError: (err) => log.error({ err }, 'realtime delivery failed'),
    });
    // Signed out, revoked or changed password: streams bound to those sessions fall back to guests.
    bus.subscribe(SESSIONS_REVOKED_TOPIC, (ids) => {
      if (Array.isArray(ids)) realtime.endSessions(ids.filter((id): id is string => typeof id === 'string'));
    });
    // Readiness: what this node needs to serve traffic. Storage costs a write or an S3 request: a success
    // counts for STORAGE_CHECK_MS, whatever the number of probes, unless the `s3` settings change.
    const readiness: ReadinessCheck[] = [{ name: 'database', run: () => sql`select 1`.execute(db.kysely) }];
    if (redis) readiness.push({ name: 'redis', run: () => redis.ping() });
    readiness.push({
      name: 'storage',
      run: rememberSuccess(
        () => storage.check(),
        STORAGE_CHECK_MS,
        () => settings.get().s3,
      ),
    });
    // Request logs: on SQLite a file of their own beside data.db (their writes never wait on the app's),
    // on the server engines a table of the same database.
    const logsDb =
      db.dialect.name === 'sqlite'
        ? createDatabase({
            url: `sqlite:${join(config.dataDir, 'auxiliary.db')}`,
            dataDir: config.dataDir,
            sqliteSynchronous: 'NORMAL',
            queryTimeoutMs: config.queryTimeout,
            sqliteReaders: 1,
            log,
          })
        : db;
    await runMigrations(logsDb, LOGS_MIGRATIONS);
    const logWriter = createLogWriter({
      db: logsDb,
      sink: logsDb === db ? sqlSink(db) : workerSink(join(config.dataDir, 'auxiliary.db')),
      log,
      maxDays: () => settings.get().logs.maxDays,
      jobs,
    });
    const logs = { reader: createLogReader(logsDb), addRequest: logWriter.addRequest };
    const outage = (err: unknown) => outageError(db.dialect, err);
    const backups = createBackupService({
      dataDir: config.dataDir,
      engine: db.dialect.name,
      sqliteFile: db.dialect.name === 'sqlite' ? sqliteFile(config) : undefined,
      databaseUrl: db.dialect.name === 'sqlite' ? undefined : config.databaseUrl,
      // Files on S3 stay there: the archive references them instead of copying the bucket.
      storageDir: () => (settings.get().s3.enabled ? undefined : join(config.dataDir, 'storage')),
      s3: () => settings.get().backups.s3,
      plinthVersion: '0.1.0',
    });
    shareRestores(bus, backups, restored, resync, () => redis?.connected ?? true, log);
    // `backups.cron`: checked once a minute; one node of a cluster runs each scheduled backup.
    const stopSchedule = startBackupSchedule({
      db,
      backups,
      settings: () => settings.get().backups,
      log,
      jobs,
      onFailure: mailBackupFailure(auth, log),
    });
    const server = await buildServer(
      {
        config,
        collections,
        records,
        auth,
        settings,
        realtime,
        outage,
        sharedCounters: shared?.counters,
        storage,
        logs,
        backups,
        engine: {
          name: db.dialect.name,
          poolStats: db.poolStats,
          watchDurableWaits: db.watchDurableWaits,
        },
        jobs,
        sharedMetrics: options.sharedMetrics,
      },
      log,
      readiness,
    );
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
      realtime,
      server,
      migrations,
      backups,
      logs: logWriter,
      close() {
        // The HTTP drain has a deadline (shutdownTimeout); the database closes last.
        // Streams end first: they would hold the drain until its deadline, and clients move to another node.
        realtime.close();
        stopSchedule();
        closing ??= server.drain
          .close(config.shutdownTimeout * 1000)
          .then(() => auth.close())
          .then(() => mailer.close())
          .then(() => bus.close())
          .then(() => storage.close())
          .then(() => logWriter.close())
          .then(() => (logsDb === db ? undefined : logsDb.close()))
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

/**
 * Collections and settings are cached on each node: a change made on one node makes the others read them
 * again (schema and rules in force everywhere within the bus's delay). Each message names the node it
 * came from, which ignores its own. Answers the function to call when changes may have been missed (Redis
 * was down): it reads both again and tells the other nodes to do the same.
 */
function shareChanges(
  bus: Bus,
  collections: CollectionStore,
  settings: SettingsStore,
  onError: (err: unknown) => void,
): () => void {
  const node = randomUUID();
  const share = (topic: string, reload: () => Promise<void>) => {
    bus.subscribe(topic, (from) => {
      if (from !== node) reload().catch(onError);
    });
    return () => bus.publish(topic, node).catch(onError);
  };
  const collectionsChanged = share('collections.changed', () => collections.reload());
  const settingsChanged = share('settings.changed', () => settings.reload());
  const reloadBoth = () => {
    collections.reload().catch(onError);
    settings.reload().catch(onError);
  };
  // Read at start before the subscriptions were in force: a change another node made in between would be
  // missed until the next one (a worker that came up late kept a rule another node had already changed
  // back). So both are read again once the bus hears its topics.
  const heard = () => bus.subscribed?.() ?? Promise.resolve();
  if (!bus.local) void heard().then(reloadBoth);
  collections.changed.bind((_change, next) => {
    collectionsChanged();
    return next();
  });
  settings.changed.bind((_settings, next) => {
    settingsChanged();
    return next();
  });
  // Both ways: this node may have missed others' changes, and they may have missed this node's.
  return () => {
    void heard().then(reloadBoth);
    collectionsChanged();
    settingsChanged();
  };
}

/**
 * A restore staged before a restart (or cut short by a crash) is finished before the database opens
 * (docs/backups.md). Answers whether restored data was swapped in. On the server engines a swap that fails
 * leaves the old data in use and the app starts on it; a database out of reach leaves the staging for the
 * next start.
 */
async function finishRestore(config: Config, log: Logger): Promise<boolean> {
  const url = config.databaseUrl;
  if (!url || !/^(postgres|postgresql|mysql|mariadb):/.test(url)) {
    const outcome = applyPendingRestore(config.dataDir, sqliteFile(config));
    if (outcome !== 'none') log.warn(`a staged restore was ${outcome} at start`);
    return outcome === 'applied';
  }
  const { outcome, error } = await applyPendingServerRestore(url, config.dataDir).catch((err: Error) => ({
    outcome: 'unreachable' as const,
    error: err,
  }));
  if (outcome === 'failed')
    log.error({ err: error }, 'a staged restore could not be swapped in: the old data is still in use');
  else if (outcome === 'unreachable')
    log.error({ err: error }, 'finishing a staged restore failed; it is tried again at the next start');
  else if (outcome !== 'none') log.warn(`a staged restore was ${outcome} at start`);
  return outcome === 'applied';
}

/**
 * After a restore every cache (collections, settings, sessions, signing keys, realtime subscriptions) was
 * read from data that is gone. The node that swapped the data in reopened, and tells the others to reopen
 * too: a whole reopen, like PocketBase's restart, rather than a list of caches to keep up to date. A node
 * that cannot reopen itself (an app not run by `plinth serve`) reads collections and settings again.
 */
function shareRestores(
  bus: Bus,
  backups: BackupService,
  restored: boolean,
  resync: () => void,
  canPublish: () => boolean,
  log: Logger,
): void {
  const node = randomUUID();
  bus.subscribe(RESTORED_TOPIC, (from) => {
    if (from === node) return;
    log.warn('another node restored a backup: reopening on the restored data');
    if (backups.onRestart) backups.onRestart();
    else resync();
  });
  if (!restored) return;
  // Redis publishes nothing while it connects (no offline queue): the announcement waits for it, for a
  // while, instead of being lost right after the start.
  const started = Date.now();
  const announce = () => {
    if (!canPublish() && Date.now() - started < ANNOUNCE_WAIT_MS) {
      setTimeout(announce, 50).unref();
      return;
    }
    bus.publish(RESTORED_TOPIC, node).catch((err) => log.error({ err }, 'announcing a restore failed'));
  };
  announce();
}

/** How long a node that restored waits for Redis to tell the others (then they keep their caches). */
const ANNOUNCE_WAIT_MS = 30_000;

/**
 * What the log says about Redis. Losing it and getting it back are both warnings, so that an operator who
 * reads only warnings sees when an outage ended, not only that it began. Once it is back, `back` runs:
 * changes other nodes made meanwhile were announced to nobody.
 */
function reportRedis(
  log: Logger,
  back: () => void,
): (event: 'up' | 'down' | 'not-sent', detail: string) => void {
  let lost = false;
  let unsent = false;
  return (event, detail) => {
    if (event === 'down') {
      lost = true;
      unsent = false;
      log.warn(`Redis unreachable (${detail}): this node works alone until it is back`);
    } else if (event === 'not-sent') {
      // Once per outage: every write would say it again.
      if (!unsent)
        log.warn(`changes on this node do not reach the other nodes while Redis is down (${detail})`);
      unsent = true;
    } else if (lost) {
      lost = false;
      log.warn(`Redis reachable again (${detail}): changes reach the other nodes`);
      back();
    } else log.info(`Redis connected (${detail}): changes reach the other nodes`);
  };
}

/** PocketBase mails every superuser when a scheduled backup fails; so does Plinth (besides the log line). */
export function mailBackupFailure(auth: AuthService, log: Logger) {
  return async (key: string, err: Error): Promise<void> => {
    try {
      const details = `The scheduled backup ${key} failed: ${err.message}`;
      const { failed } = await auth.alertSuperusers('scheduled backup failed', details);
      if (failed.length) log.warn({ failed }, 'could not mail the failed backup alert');
    } catch (alertErr) {
      log.warn({ err: alertErr }, 'could not mail the failed backup alert');
    }
  };
}
