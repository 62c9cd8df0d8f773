import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { createApp } from '../app.ts';
import {
  ArchiveError,
  applyPendingRestore,
  applyPendingServerRestore,
  BackupBusyError,
  type Manifest,
  parseServerUrl,
  RESTORED_TOPIC,
  readManifest,
  STORED_KEY,
  stageRestore,
  stageServerRestore,
  swapFailure,
  type VerifyTarget,
  verifyArchive,
} from '../backups/index.ts';
import { createRedisBus } from '../bus/index.ts';
import { type Config, sqliteFile } from '../config/index.ts';
import { createLogger } from '../log/index.ts';
import { createProgress } from './progress.ts';

/**
 * `plinth backup [NAME]`, `plinth backup verify FILE`, `plinth restore FILE`. Archive problems end with
 * one clear line and exit 1, never a stack trace; a restore that fails leaves the data as it was.
 */
export async function backupCommand(
  command: string,
  args: string[],
  config: Config,
  logLevel?: string,
): Promise<number> {
  try {
    if (command === 'restore') return await restore(config, args);
    if (args[0] === 'verify') return await verify(args, config);
    return await create(config, args, logLevel);
  } catch (err) {
    if (err instanceof ArchiveError || err instanceof BackupBusyError) {
      process.stderr.write(`\nplinth: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function create(config: Config, args: string[], logLevel?: string): Promise<number> {
  const name = args[0] ?? `plinth_backup_${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}.zip`;
  if (args.length > 1 || !STORED_KEY.test(name)) {
    process.stderr.write('plinth: usage: plinth backup [NAME.zip] | plinth backup verify FILE\n');
    return 2;
  }
  const app = await createApp(config, createLogger(logLevel ?? 'warn'));
  try {
    if ((await app.backups.size(name)) !== undefined)
      throw new ArchiveError(`A backup named ${name} already exists.`);
    const bar = createProgress('backup:', { unit: 'bytes' });
    const manifest = await app.backups.create(name, bar.update);
    bar.finish();
    const records = Object.values(manifest.counts).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `Backup written: ${join(app.backups.dir, name)} (${records} records, ${manifest.files.length - 1} files)\n`,
    );
    return 0;
  } finally {
    await app.close();
  }
}

/** Unpacks into a scratch folder of the system's temp dir and checks everything a restore would. */
async function verify(args: string[], config: Config): Promise<number> {
  const file = args[1];
  if (!file || args.length > 2) {
    process.stderr.write('plinth: usage: plinth backup verify FILE\n');
    return 2;
  }
  if (!existsSync(file)) throw new ArchiveError(`No such file: ${file}`);
  const { manifest } = await readManifest(file);
  const scratch = await mkdtemp(join(tmpdir(), 'plinth-verify-'));
  try {
    const bar = createProgress('verify:', { unit: 'bytes' });
    await verifyArchive(file, scratch, verifyTarget(manifest.engine, config), bar.update);
    bar.finish();
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const records = Object.values(manifest.counts).reduce((a, b) => a + b, 0);
  process.stdout.write(
    `${basename(file)}: OK — ${manifest.engine} backup of ${manifest.createdAt}, ${Object.keys(manifest.counts).length} collections, ${records} records, ${manifest.files.length - 1} files; every hash, count and the schema checksum match.\n`,
  );
  return 0;
}

/** Where a verify loads a server engine's dump: a scratch database on the server `--db` names. */
function verifyTarget(engine: Manifest['engine'], config: Config): VerifyTarget {
  if (engine === 'sqlite') return { engine };
  const server =
    config.databaseUrl && /^(postgres|postgresql|mysql|mariadb):/.test(config.databaseUrl)
      ? parseServerUrl(config.databaseUrl)
      : undefined;
  if (server?.engine !== engine)
    throw new ArchiveError(
      `Verifying a ${engine} backup loads it into a scratch database: pass --db with a ${engine} URL.`,
    );
  return { engine, server };
}

const total = (m: Manifest) => Object.values(m.counts).reduce((a, b) => a + b, 0);

/**
 * Verifies the archive into the data dir's staging folder (and, on PostgreSQL or MariaDB, a scratch
 * database), then swaps it in. On SQLite the server must be stopped; on the server engines running nodes
 * lose their connections and reconnect to the restored data, and are told on Redis to reopen.
 */
async function restore(config: Config, args: string[]): Promise<number> {
  const [given] = args;
  if (!given || args.length > 1) {
    process.stderr.write('plinth: usage: plinth restore FILE\n');
    return 2;
  }
  const stored = join(config.dataDir, 'backups', given);
  const file = existsSync(given)
    ? resolve(given)
    : STORED_KEY.test(given) && existsSync(stored)
      ? stored
      : undefined;
  if (!file) throw new ArchiveError(`No such file: ${given}`);
  const db = sqliteFile(config);
  const bar = createProgress('restore:', { unit: 'bytes' });
  if (!db && config.databaseUrl) {
    const manifest = await stageServerRestore(config.databaseUrl, config.dataDir, file, bar.update);
    bar.finish();
    const applied = await applyPendingServerRestore(config.databaseUrl, config.dataDir);
    if (applied.error) throw swapFailure(applied.error);
    process.stdout.write(
      `Restored ${basename(file)} (${total(manifest)} records) into the database of --db\n`,
    );
    if (config.redisUrl) await announceRestore(config);
    return 0;
  }
  if (!db) throw new ArchiveError('This database (in memory) cannot be restored into.');
  const manifest = await stageRestore(config.dataDir, db, file, bar.update);
  bar.finish();
  applyPendingRestore(config.dataDir, db);
  const records = Object.values(manifest.counts).reduce((a, b) => a + b, 0);
  process.stdout.write(`Restored ${basename(file)} (${records} records) into ${config.dataDir}\n`);
  return 0;
}

/** How long `plinth restore` waits for Redis to tell the running nodes. */
const ANNOUNCE_WAIT_MS = 5000;

/**
 * Tells the nodes running on the restored database to reopen, as the route's restore does (their caches
 * were read from the data that is gone). Without Redis, or Redis out of reach, they keep their caches until
 * restarted: said on stderr.
 */
async function announceRestore(config: Config): Promise<void> {
  const bus = createRedisBus({ url: config.redisUrl, prefix: config.redisPrefix });
  try {
    const until = Date.now() + ANNOUNCE_WAIT_MS;
    while (!bus.connected && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const reached = bus.connected ? await bus.publish(RESTORED_TOPIC, 'plinth restore') : 0;
    process.stdout.write(
      reached
        ? `Running processes told to reopen on the restored data (${reached}).\n`
        : 'No running node was told (none listening, or Redis out of reach): restart any that run.\n',
    );
  } finally {
    await bus.close();
  }
}
