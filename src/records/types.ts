import type { QueryOptions } from '../db/index.ts';
import type { Collection } from '../schema/index.ts';

/** A record's values in canonical form, keyed by field name (plus nothing else). */
export type RecordValues = Record<string, unknown>;

/** Who is asking. Made by the HTTP layer from the token; `record` is the auth record's stored values. */
export interface AuthContext {
  collection: Collection | null;
  record: RecordValues | null;
  isSuperuser: boolean;
  /** The server-side session the caller's token belongs to (auth issue: revocation, "this device"). */
  sessionId?: string;
  /** Epoch ms when the caller's token expires (a realtime stream's auth ends then). */
  expiresAt?: number;
  /** Whether the caller's token may be refreshed (impersonation tokens may not). */
  refreshable?: boolean;
  /** What access rules may read about the request (`@request.method`, `.headers`, `.query`, `.context`). */
  request?: RequestDetails;
  /** Who the database's query lane counts this request's queries against, and whether it is still wanted. */
  ticket?: QueryOptions;
}

export interface RequestDetails {
  method: string;
  /** Lower-case names with `-` as `_`. */
  headers: Record<string, string>;
  query: Record<string, string>;
  context: string;
}

export const GUEST: AuthContext = Object.freeze({ collection: null, record: null, isSuperuser: false });

export interface ListQuery {
  page?: number;
  perPage?: number;
  sort?: string;
  filter?: string;
  skipTotal?: boolean;
}

export interface ListResult<T> {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: T[];
}

/** Password hashing, supplied by the auth layer (records cannot import it). */
export interface PasswordHasher {
  hash(plain: string): Promise<string>;
  verify(hash: string, plain: string): Promise<boolean>;
}

/**
 * Limits guesses at an existing password outside sign-in (`oldPassword` on an update), sharing the
 * sign-in budget of the record's identity; provided by the auth layer.
 */
export interface PasswordGuard {
  /** Counts a guess, or throws 429 when the record's identity is at its limit. */
  attempt(collection: Collection, record: RecordValues): Promise<void>;
  succeeded(collection: Collection, record: RecordValues): Promise<void>;
}

export interface RecordEvent {
  collection: Collection;
  /** The record as it will be (create/update) or was (delete) stored. */
  record: RecordValues;
  /** Stored values before an update. */
  original?: RecordValues;
  auth: AuthContext;
}
