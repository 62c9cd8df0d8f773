import type { FastifyRequest } from 'fastify';
import type { AuthService, Client } from '../auth/index.ts';
import type { BackupService } from '../backups/index.ts';
import type { WindowCounters } from '../bus/index.ts';
import type { Config } from '../config/index.ts';
import type { PoolStats } from '../db/index.ts';
import { ApiError, unauthorized } from '../errors/index.ts';
import type { JobStats } from '../lib/index.ts';
import type { LogReader, LogWriter } from '../logs/index.ts';
import type { Realtime } from '../realtime/index.ts';
import type { AuthContext, RecordService } from '../records/index.ts';
import type { CollectionStore, SettingsStore } from '../schema/index.ts';
import type { FileStorage } from '../storage/index.ts';
import { requestDetails } from './caller.ts';
import type { SharedMetrics } from './metrics.ts';

/** What the route plugins need; made once in app.ts. */
export interface HttpDeps {
  config: Config;
  collections: CollectionStore;
  records: RecordService;
  auth: AuthService;
  settings: SettingsStore;
  realtime: Realtime;
  /** A database failure as the 503 it answers with (db/outage.ts), or undefined. */
  outage?: (err: unknown) => ApiError | undefined;
  /** Counters shared by the nodes of a cluster (Redis); rate limits are counted per node without them. */
  sharedCounters?: WindowCounters;
  /** Where file fields' files are (the same storage the records service writes to). */
  storage: FileStorage;
  /** The stored request logs: written as requests complete, read by `/api/logs`. */
  logs: { reader: LogReader; addRequest: LogWriter['addRequest'] };
  /** Backups and restores (docs/backups.md); without it the features plugin stands in for the routes. */
  backups?: BackupService;
  /**
   * The database engine, and its pool's state where it has one: for `/metrics`; and, on SQLite with group
   * commit, the writes waiting for their sync, for admission (`Database.watchDurableWaits`).
   */
  engine?: {
    name: string;
    poolStats?: () => PoolStats;
    watchDurableWaits?: (watcher: (writes: number) => void) => void;
  };
  /** The background jobs' runs (scheduled backups, sweeps), shown by `/metrics`. */
  jobs?: JobStats;
  /** With several workers: `/metrics` answers for all of them, not for the one that took the scrape. */
  sharedMetrics?: SharedMetrics;
}

/** The client facts auth records and throttles by. `request.ip` is the socket's peer unless a trusted proxy is configured. */
export function clientOf(request: FastifyRequest): Client {
  const ua = request.headers['user-agent'];
  const mfaId = queryString(request.query, 'mfaId');
  return {
    ip: request.ip ?? '',
    userAgent: typeof ua === 'string' ? ua : '',
    request: requestDetails(request),
    ...(mfaId ? { mfaId } : {}),
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext;
  }
}

/** PocketBase's superuser guard: 401 for guests, 403 for other auth records. */
export function requireSuperuser(request: FastifyRequest): void {
  if (request.auth.isSuperuser) return;
  if (!request.auth.record) throw unauthorized('The request requires valid superuser authorization token.');
  throw new ApiError(403, 'The authorized record is not allowed to perform this action.');
}

/** One query value as a string (a repeated key takes its first value). */
export function queryString(query: unknown, key: string): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.[key];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : undefined;
}

export function queryBool(query: unknown, key: string): boolean {
  const v = queryString(query, key);
  return v === '1' || v === 'true';
}
