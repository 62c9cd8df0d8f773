import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ADMISSION_KEYS, type AdmissionConfig, admissionEnv, readAdmission } from './admission.ts';
import { METRICS_KEYS, type MetricsConfig, metricsEnv, readMetrics } from './metrics.ts';
import { MIGRATIONS_KEYS, type MigrationsConfig, migrationsEnv, readMigrations } from './migrations.ts';
import { isRange, listOf } from './ranges.ts';
import { REALTIME_KEYS, type RealtimeConfig, readRealtime, realtimeEnv } from './realtime.ts';

/** Boot configuration: what the process needs before it can open the database. */
export interface Config extends AdmissionConfig, RealtimeConfig, MetricsConfig, MigrationsConfig {
  /** host:port to listen on. */
  host: string;
  port: number;
  /** Data directory (SQLite files, keys, uploads). */
  dataDir: string;
  /** Database URL; empty means embedded SQLite in the data directory. */
  databaseUrl: string;
  /** SQLite `synchronous` pragma: FULL survives power loss, NORMAL only process crashes. */
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /**
   * SQLite group commit: concurrent writes share one transaction and one fsync, each answered once durable.
   * Off: one COMMIT (and fsync) per write, as before; for measuring.
   */
  sqliteGroupCommit: boolean;
  /**
   * SQLite: a list or count seen to take under 0.1 ms runs on the event loop instead of a reader thread
   * (src/db/inline-reads.ts). `false` sends every one to a reader.
   */
  sqliteInlineReads: boolean;
  /** Largest accepted request body in bytes. */
  bodyLimit: number;
  /** CORS allowed origins; `*` allows any origin without credentials. */
  origins: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Public URL of the app, used in printed and emailed links. */
  appUrl: string;
  /**
   * Milliseconds one database statement may run (lists, filters, rules; server engines: every statement but
   * schema changes). A client's query that runs longer gets a 400.
   */
  queryTimeout: number;
  /**
   * Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed: behind them a client's
   * IP (rate limits, per-IP limits, throttling, logs) comes from that header. Empty: the TCP peer, always.
   */
  trustProxy: string[];
  /** Seconds a shutdown waits for in-flight requests before closing the connections that remain. */
  shutdownTimeout: number;
  /**
   * Processes `plinth serve` runs, all answering on one port (docs/scale-out.md). Default: the number of
   * cores; always 1 on an in-memory SQLite database, which one process cannot share.
   */
  workers: number;
  /**
   * Key (≥ 32 characters) that encrypts the secrets stored in the database; empty: a key file in the
   * data dir, made on first start. Kept out of the database so that a copy of it reveals no secret.
   */
  encryptionKey: string;
  /** Earlier keys: secrets they encrypted are re-encrypted with `encryptionKey` at start. */
  oldEncryptionKeys: string[];
  /** Redis URL (`redis://…`): the bus between nodes of a cluster. Empty: one node, an in-memory bus. */
  redisUrl: string;
  /** Prepended to the bus's Redis channels, so that several apps can share one Redis. */
  redisPrefix: string;
  /**
   * Private or loopback addresses (IPs or CIDR ranges) the server may download from when a third party
   * hands it a URL (an OAuth2 provider's avatar). Empty: public addresses only.
   */
  fetchAllowPrivate: string[];
}

/** Raw settings from one source, before validation; every key optional. */
export type ConfigInput = Partial<Record<keyof Config, unknown>> & {
  http?: unknown;
  dir?: unknown;
  db?: unknown;
  redis?: unknown;
};

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * Builds the config from defaults < config file < `PLINTH_*` env < CLI flags, and validates it once,
 * listing every problem. The only reader of process.env in the codebase.
 */
export function loadConfig(flags: ConfigInput = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const file = readConfigFile(String(flags['config' as keyof ConfigInput] ?? env.PLINTH_CONFIG ?? ''));
  const fromEnv: ConfigInput = {
    http: env.PLINTH_HTTP,
    dir: env.PLINTH_DIR,
    db: env.PLINTH_DB,
    sqliteSynchronous: env.PLINTH_SQLITE_SYNCHRONOUS,
    sqliteGroupCommit: env.PLINTH_SQLITE_GROUP_COMMIT,
    sqliteInlineReads: env.PLINTH_SQLITE_INLINE_READS,
    bodyLimit: env.PLINTH_BODY_LIMIT,
    origins: env.PLINTH_ORIGINS,
    logLevel: env.PLINTH_LOG_LEVEL,
    appUrl: env.PLINTH_APP_URL,
    shutdownTimeout: env.PLINTH_SHUTDOWN_TIMEOUT,
    workers: env.PLINTH_WORKERS,
    queryTimeout: env.PLINTH_QUERY_TIMEOUT,
    trustProxy: env.PLINTH_TRUST_PROXY,
    encryptionKey: env.PLINTH_ENCRYPTION_KEY,
    oldEncryptionKeys: env.PLINTH_OLD_ENCRYPTION_KEYS,
    redis: env.PLINTH_REDIS,
    redisPrefix: env.PLINTH_REDIS_PREFIX,
    fetchAllowPrivate: env.PLINTH_FETCH_ALLOW_PRIVATE,
    ...admissionEnv(env),
    ...realtimeEnv(env),
    ...metricsEnv(env),
    ...migrationsEnv(env),
  };
  const merged: ConfigInput = { ...file };
  for (const source of [fromEnv, flags]) {
    for (const [k, v] of Object.entries(source))
      if (v !== undefined && v !== '') (merged as Record<string, unknown>)[k] = v;
  }
  return validate(merged);
}

/** The keys a config file may hold (docs/getting-started.md lists them with their flags and env names). */
export const CONFIG_FILE_KEYS: readonly string[] = [
  'http',
  'dir',
  'db',
  'sqliteSynchronous',
  'sqliteGroupCommit',
  'sqliteInlineReads',
  'bodyLimit',
  'origins',
  'logLevel',
  'appUrl',
  'queryTimeout',
  'trustProxy',
  'shutdownTimeout',
  'workers',
  'encryptionKey',
  'oldEncryptionKeys',
  'redis',
  'redisPrefix',
  'fetchAllowPrivate',
  ...ADMISSION_KEYS,
  ...REALTIME_KEYS,
  ...METRICS_KEYS,
  ...MIGRATIONS_KEYS,
];
/** Config's own names for `dir` and `db`, accepted in a file as they always were. */
const FILE_ALIASES = ['dataDir', 'databaseUrl'];

function readConfigFile(path: string): ConfigInput {
  const file = path || 'plinth.config.json';
  if (!existsSync(file)) {
    if (path) throw new ConfigError([`config file ${path} does not exist`]);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError([`config file ${file} is not valid JSON: ${(err as Error).message}`]);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError([`config file ${file} must hold a JSON object`]);
  // A misspelt key would otherwise be ignored without a word, and its setting silently left at its default.
  const unknown = Object.keys(parsed).filter(
    (k) => !CONFIG_FILE_KEYS.includes(k) && !FILE_ALIASES.includes(k),
  );
  if (unknown.length)
    throw new ConfigError(unknown.map((k) => `unknown key "${k}" in config file ${file}${suggestion(k)}`));
  return parsed as ConfigInput;
}

/** A yes/no setting: true/1, false/0, or `fallback` when unset; undefined when it is neither. */
function onOff(raw: unknown, fallback: boolean): boolean | undefined {
  if (raw === undefined || raw === '') return fallback;
  const text = String(raw).toLowerCase();
  if (raw === true || text === 'true' || text === '1') return true;
  if (raw === false || text === 'false' || text === '0') return false;
  return undefined;
}

/** `; did you mean "x"?` for a key that differs from a known one only in case, `-`/`_`, or a short prefix. */
function suggestion(key: string): string {
  const plain = (k: string) => k.toLowerCase().replace(/[-_]/g, '');
  const found = CONFIG_FILE_KEYS.find((k) => plain(k) === plain(key) || plain(k).startsWith(plain(key)));
  return found && key.length >= 2 ? `; did you mean "${found}"?` : '';
}

function validate(input: ConfigInput): Config {
  const problems: string[] = [];
  const [host, port] = parseHostPort(String(input.http ?? '127.0.0.1:8090'), problems);
  const sync = String(input.sqliteSynchronous ?? 'FULL').toUpperCase();
  if (sync !== 'FULL' && sync !== 'NORMAL')
    problems.push(`sqliteSynchronous must be FULL or NORMAL, got ${sync}`);
  const groupCommit = onOff(input.sqliteGroupCommit, true);
  if (groupCommit === undefined) problems.push('sqliteGroupCommit must be true or false (1 or 0)');
  const inlineReads = onOff(input.sqliteInlineReads, true);
  if (inlineReads === undefined) problems.push('sqliteInlineReads must be true or false (1 or 0)');
  const bodyLimit = Number(input.bodyLimit ?? 32 * 1024 * 1024);
  if (!Number.isInteger(bodyLimit) || bodyLimit < 1024)
    problems.push('bodyLimit must be a whole number of bytes ≥ 1024');
  const logLevel = String(input.logLevel ?? 'info');
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`logLevel must be one of ${LOG_LEVELS.join(', ')}`);
  const db = String(input.db ?? input.databaseUrl ?? '');
  if (db && !/^(postgres|postgresql|mysql|mariadb|sqlite):/.test(db))
    problems.push(`db must be a postgres://, mysql:// or sqlite: URL`);
  const origins = Array.isArray(input.origins)
    ? input.origins.map(String)
    : String(input.origins ?? '*').split(',');
  const encryptionKey = String(input.encryptionKey ?? '');
  const oldEncryptionKeys = (
    Array.isArray(input.oldEncryptionKeys)
      ? input.oldEncryptionKeys.map(String)
      : String(input.oldEncryptionKeys ?? '').split(',')
  )
    .map((k) => k.trim())
    .filter(Boolean);
  // Never echo a key back: the message names the setting only.
  if (encryptionKey && encryptionKey.trim().length < 32)
    problems.push('encryptionKey must be at least 32 characters');
  if (oldEncryptionKeys.some((k) => k.length < 32))
    problems.push('oldEncryptionKeys must each be at least 32 characters');
  const queryTimeout = Number(input.queryTimeout ?? 5000);
  if (!Number.isInteger(queryTimeout) || queryTimeout < 100 || queryTimeout > 600_000)
    problems.push('queryTimeout must be a whole number of milliseconds from 100 to 600000');
  const trustProxy = (
    Array.isArray(input.trustProxy) ? input.trustProxy.map(String) : String(input.trustProxy ?? '').split(',')
  )
    .map((a) => a.trim())
    .filter(Boolean);
  for (const address of trustProxy)
    if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(address))
      problems.push(`trustProxy must list IP addresses or CIDR ranges, got ${address}`);
  const fetchAllowPrivate = listOf(input.fetchAllowPrivate);
  for (const range of fetchAllowPrivate)
    if (!isRange(range))
      problems.push(`fetchAllowPrivate must list IP addresses or CIDR ranges, got ${range}`);
  const shutdownTimeout = Number(input.shutdownTimeout ?? 30);
  if (!Number.isFinite(shutdownTimeout) || shutdownTimeout < 0 || shutdownTimeout > 3600)
    problems.push('shutdownTimeout must be a number of seconds from 0 to 3600');
  const redisUrl = String(input.redis ?? input.redisUrl ?? '');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) problems.push('redis must be a redis:// or rediss:// URL');
  const redisPrefix = String(input.redisPrefix ?? 'plinth:');
  if (!/^[\w:.-]{0,64}$/.test(redisPrefix))
    problems.push('redisPrefix must be up to 64 letters, digits, _, -, . or :');
  const workers = readWorkers(input.workers, db, port, problems);
  // The admission defaults scale with the cores each worker's event loop has to itself.
  const admission = readAdmission(input, problems, Math.max(1, Math.round(availableParallelism() / workers)));
  const realtime = readRealtime(input, problems);
  const metrics = readMetrics(input, problems);
  const dataDir = resolve(String(input.dir ?? input.dataDir ?? './plinth_data'));
  const migrations = readMigrations(input, dataDir, problems);
  if (problems.length) throw new ConfigError(problems);
  return {
    ...admission,
    ...realtime,
    ...metrics,
    ...migrations,
    host,
    port,
    dataDir,
    databaseUrl: db,
    sqliteSynchronous: sync as Config['sqliteSynchronous'],
    sqliteGroupCommit: groupCommit ?? true,
    sqliteInlineReads: inlineReads ?? true,
    bodyLimit,
    origins: origins.map((o) => o.trim()).filter(Boolean),
    logLevel: logLevel as Config['logLevel'],
    appUrl: String(input.appUrl ?? `http://${host}:${port}`).replace(/\/+$/, ''),
    shutdownTimeout,
    workers,
    queryTimeout,
    trustProxy,
    encryptionKey: encryptionKey.trim(),
    oldEncryptionKeys,
    redisUrl,
    redisPrefix,
    fetchAllowPrivate,
  };
}

/**
 * Whole number 1–256; the cores by default. Always 1 for an in-memory SQLite database (one process cannot
 * share it) and for port 0 (each worker would be given a port of its own).
 */
function readWorkers(raw: unknown, db: string, port: number, problems: string[]): number {
  const alone = /^sqlite:(:memory:$|file:.*memory)/.test(db)
    ? 'an in-memory SQLite database'
    : port === 0
      ? 'port 0'
      : undefined;
  if (raw === undefined || raw === '') return alone ? 1 : availableParallelism();
  const workers = Number(raw);
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    problems.push('workers must be a whole number from 1 to 256');
    return 1;
  }
  if (alone && workers > 1) problems.push(`workers must be 1 with ${alone}`);
  return workers;
}

function parseHostPort(text: string, problems: string[]): [string, number] {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || port > 65535) {
    problems.push(`http must be HOST:PORT, got ${text}`);
    return ['127.0.0.1', 8090];
  }
  return [m[1] || '127.0.0.1', port];
}
