import type { Bus } from '../bus/index.ts';
import type { Database } from '../db/index.ts';
import { formatDate, newRecordId } from '../lib/index.ts';
import { SESSIONS_NAME, type Settings, SUPERUSERS_ID } from '../schema/index.ts';

/** How a session began, shown to its owner. */
export type SessionMethod = 'password' | 'otp' | 'oauth2' | 'impersonate' | 'installer';

export interface NewSession {
  collectionId: string;
  recordId: string;
  isSuperuser: boolean;
  method: SessionMethod;
  ip: string;
  userAgent: string;
  impersonatedBy?: string;
  /** Ends the session sooner than the absolute timeout (impersonation tokens). */
  expiresAt?: number;
}

export interface Session {
  id: string;
  collectionId: string;
  recordId: string;
  /** Epoch ms: the absolute end. */
  expires: number;
  lastSeen: number;
}

/**
 * Server-side sessions: every auth token names one (`sid`), and a token whose session is gone, idle for
 * too long or past its absolute end is refused. Checks run on every authenticated request, so live
 * sessions are cached; the cache is dropped on revocation here and, through the bus, on every node. The
 * short cache lifetime bounds what a node that missed a message can get wrong.
 */
export interface SessionStore {
  create(input: NewSession): Promise<Session>;
  /** The session if it is live for this record (touching its last-seen time), else undefined. */
  check(
    id: string,
    collectionId: string,
    recordId: string,
    isSuperuser: boolean,
  ): Promise<Session | undefined>;
  revoke(ids: string[]): Promise<void>;
  /**
   * Revokes every session of a record, except `keep`. Returns how many ended. For a superuser, every
   * session it started by impersonation ends too: whatever made its own sessions end (signing out
   * everywhere or elsewhere, a new password, deletion) must not leave tokens it handed out alive.
   */
  revokeRecord(collectionId: string, recordId: string, keep?: string): Promise<number>;
  /**
   * Revokes every session of a collection's records (its auth tokens were invalidated); for `_superusers`,
   * the sessions they started by impersonation too. Returns how many ended.
   */
  revokeCollection(collectionId: string): Promise<number>;
  /** Whether a session is still stored, read from the database (not the cache). */
  exists(id: string): Promise<boolean>;
  /** Drops cached sessions removed by someone else (the records API deleting `_sessions` rows). */
  forget(ids: string[]): void;
}

const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 50_000;
/** Last-seen is written at most this often per session: a request is not a write. */
const TOUCH_INTERVAL_MS = 60_000;
/** The bus topic of ended sessions (their ids): every node forgets them, realtime streams included. */
export const SESSIONS_REVOKED_TOPIC = 'sessions.revoked';
const TOPIC = SESSIONS_REVOKED_TOPIC;

interface Cached extends Session {
  /** Epoch ms of sign-in: the absolute timeout counts from here, with the settings of the moment. */
  created: number;
  fetched: number;
}

const parseDate = (text: unknown) =>
  typeof text === 'string' && text ? Date.parse(text.replace(' ', 'T')) : 0;

export function createSessionStore(deps: {
  db: Database;
  bus: Bus;
  settings: () => Settings;
  onError: (err: unknown) => void;
}): SessionStore {
  const { db, bus } = deps;
  const q = db.dialect.quote;
  const table = q(SESSIONS_NAME);
  const cache = new Map<string, Cached>();
  const selectSql = `SELECT ${q('collectionRef')}, ${q('recordRef')}, ${q('lastSeen')}, ${q('expires')}, ${q('created')} FROM ${table} WHERE ${q('id')} = ?`;
  const touchSql = `UPDATE ${table} SET ${q('lastSeen')} = ? WHERE ${q('id')} = ?`;

  const forget = (ids: string[]) => {
    for (const id of ids) cache.delete(id);
  };
  bus.subscribe(TOPIC, (message) => {
    if (Array.isArray(message)) forget(message.filter((id): id is string => typeof id === 'string'));
  });

  /** The timeouts in force now: lowering them in the settings shortens live sessions too. */
  const limits = (isSuperuser: boolean) => {
    const s = deps.settings().sessions;
    return {
      idle: (isSuperuser ? s.superuserIdleTimeout : s.idleTimeout) * 1000,
      absolute: (isSuperuser ? s.superuserAbsoluteTimeout : s.absoluteTimeout) * 1000,
    };
  };

  async function load(id: string): Promise<Cached | undefined> {
    const rows = await db.run<Record<string, unknown>>(db.kysely, selectSql, [id]);
    const row = rows[0];
    if (!row) return undefined;
    const entry: Cached = {
      id,
      collectionId: String(row.collectionRef),
      recordId: String(row.recordRef),
      lastSeen: parseDate(row.lastSeen),
      expires: parseDate(row.expires),
      created: parseDate(row.created),
      fetched: Date.now(),
    };
    if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
    cache.set(id, entry);
    return entry;
  }

  async function selectIds(where: string, params: string[]): Promise<string[]> {
    const rows = await db.run<{ id: string }>(
      db.kysely,
      `SELECT ${q('id')} FROM ${table} WHERE ${where}`,
      params,
    );
    return rows.map((r) => String(r.id));
  }

  async function removeIds(ids: string[]) {
    if (!ids.length) return;
    forget(ids);
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      await db.run(
        db.kysely,
        `DELETE FROM ${table} WHERE ${q('id')} IN (${chunk.map(() => '?').join(', ')})`,
        chunk,
      );
    }
    await bus.publish(TOPIC, ids);
  }

  return {
    async create(input) {
      const now = Date.now();
      const s = deps.settings().sessions;
      const absolute = (input.isSuperuser ? s.superuserAbsoluteTimeout : s.absoluteTimeout) * 1000;
      const expires = Math.min(now + absolute, input.expiresAt ?? Number.POSITIVE_INFINITY);
      const id = newRecordId();
      const stamp = formatDate(new Date(now));
      await db.run(
        db.kysely,
        `INSERT INTO ${table} (${['id', 'collectionRef', 'recordRef', 'method', 'ip', 'userAgent', 'impersonatedBy', 'lastSeen', 'expires', 'created', 'updated'].map(q).join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          input.collectionId,
          input.recordId,
          input.method,
          input.ip.slice(0, 100),
          input.userAgent.slice(0, 500),
          input.impersonatedBy ?? '',
          stamp,
          formatDate(new Date(expires)),
          stamp,
          stamp,
        ],
      );
      return { id, collectionId: input.collectionId, recordId: input.recordId, expires, lastSeen: now };
    },

    async check(id, collectionId, recordId, isSuperuser) {
      const now = Date.now();
      let entry = cache.get(id);
      if (!entry || now - entry.fetched > CACHE_TTL_MS) entry = await load(id);
      if (!entry) return undefined;
      if (entry.collectionId !== collectionId || entry.recordId !== recordId) return undefined;
      const { idle, absolute } = limits(isSuperuser);
      const end = Math.min(entry.expires, entry.created + absolute);
      if (now >= end || now - entry.lastSeen >= idle) {
        await removeIds([id]);
        return undefined;
      }
      // Written at most once a minute, and often enough within a short idle timeout to keep a used session alive.
      if (now - entry.lastSeen >= Math.min(TOUCH_INTERVAL_MS, idle / 4)) {
        entry.lastSeen = now;
        // Not awaited: the request need not wait for bookkeeping; a lost touch only shortens idle time.
        db.run(db.kysely, touchSql, [formatDate(new Date(now)), id]).catch(deps.onError);
      }
      return {
        id,
        collectionId: entry.collectionId,
        recordId: entry.recordId,
        lastSeen: entry.lastSeen,
        expires: end,
      };
    },

    revoke: removeIds,

    async revokeRecord(collectionId, recordId, keep) {
      const ids = (
        await selectIds(`${q('recordRef')} = ? AND ${q('collectionRef')} = ?`, [recordId, collectionId])
      ).filter((id) => id !== keep);
      await removeIds(ids);
      if (collectionId !== SUPERUSERS_ID) return ids.length;
      // After the superuser's own sessions are gone: an impersonation started meanwhile either is found
      // here, or finds its superuser's session gone and ends itself (see `impersonate`).
      const minted = await selectIds(`${q('impersonatedBy')} = ?`, [recordId]);
      await removeIds(minted);
      return ids.length + minted.length;
    },

    async revokeCollection(collectionId) {
      const ids = await selectIds(`${q('collectionRef')} = ?`, [collectionId]);
      await removeIds(ids);
      if (collectionId !== SUPERUSERS_ID) return ids.length;
      const minted = await selectIds(`${q('impersonatedBy')} != ?`, ['']);
      await removeIds(minted);
      return ids.length + minted.length;
    },

    async exists(id) {
      return (await selectIds(`${q('id')} = ?`, [id])).length > 0;
    },

    forget,
  };
}
