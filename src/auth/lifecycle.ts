import { type JobStats, trackJob } from '../lib/index.ts';
import type { RecordService } from '../records/index.ts';
import {
  AUTH_ORIGINS_NAME,
  EXTERNAL_AUTHS_NAME,
  MFAS_NAME,
  OTPS_NAME,
  SESSIONS_NAME,
  tokenSecret,
} from '../schema/index.ts';
import type { AuthDeps } from './context.ts';
import { deleteRows } from './rows.ts';

/**
 * Keeps sessions in step with the records they belong to:
 * - a new password or tokenKey ends every other session of the record (the one that changed it stays, if
 *   it was the record itself; a superuser or manager setting it ends them all); a new password or email also
 *   drops pending one-time codes and MFA steps;
 * - a deleted auth record takes its sessions, codes, MFA steps, origins and linked identities with it;
 * - a `_sessions` record deleted through the records API (a user revoking a device) is dropped from
 *   every node's session cache.
 */
export function bindSessionLifecycle(deps: AuthDeps, records: RecordService): void {
  records.hooks.afterUpdate.bind(async (e, next) => {
    if (e.collection.type === 'auth' && e.original) {
      const refs = { collectionRef: e.collection.id, recordRef: String(e.record.id) };
      const newPassword = e.original.password !== e.record.password;
      // A new tokenKey alone is PocketBase's "reset issued tokens" (the dashboard sends `tokenKey:autogenerate`).
      if (newPassword || e.original.tokenKey !== e.record.tokenKey) {
        const self = e.auth.collection?.id === e.collection.id && e.auth.record?.id === e.record.id;
        await deps.sessions.revokeRecord(
          refs.collectionRef,
          refs.recordRef,
          self ? e.auth.sessionId : undefined,
        );
      }
      // A half-done MFA or a code sent earlier must not outlive the password or address it was made with.
      if (newPassword || e.original.email !== e.record.email)
        for (const table of [OTPS_NAME, MFAS_NAME]) await deleteRows(deps.db, table, refs);
    }
    await next();
  });

  records.hooks.afterDelete.bind(async (e, next) => {
    if (e.collection.type === 'auth') {
      const refs = { collectionRef: e.collection.id, recordRef: String(e.record.id) };
      await deps.sessions.revokeRecord(refs.collectionRef, refs.recordRef);
      for (const table of [OTPS_NAME, MFAS_NAME, AUTH_ORIGINS_NAME, EXTERNAL_AUTHS_NAME])
        await deleteRows(deps.db, table, refs);
    } else if (e.collection.name === SESSIONS_NAME) {
      await deps.sessions.revoke([String(e.record.id)]);
    }
    await next();
  });
}

/**
 * PocketBase's dashboard invalidates an auth collection's tokens by saving a new `authToken.secret`.
 * Plinth's auth tokens live as long as their session, so a new secret ends every session of the
 * collection. Runs after the change has committed, before the other handlers (which may stop the chain).
 */
export function bindTokenInvalidation(deps: AuthDeps): void {
  deps.collections.changed.bind(
    async ({ before, after }, next) => {
      if (
        before?.type === 'auth' &&
        after?.type === 'auth' &&
        tokenSecret(after.options, 'authToken') !== tokenSecret(before.options, 'authToken')
      ) {
        try {
          await deps.sessions.revokeCollection(after.id);
        } catch (err) {
          deps.log.error({ err, collection: after.name }, 'could not end the sessions of a collection');
        }
      }
      await next();
    },
    { priority: -10 },
  );
}

const SWEEP_INTERVAL_MS = 60 * 60_000;

/**
 * Deletes what has expired: sessions past their absolute end or idle too long, one-time codes and MFA
 * steps older than any collection allows. Hourly, off the request path; returns the function that stops it.
 */
export function startSweeper(deps: AuthDeps, jobs?: JobStats): { sweep(): Promise<void>; stop(): void } {
  const sweep = async () => {
    const q = deps.db.dialect.quote;
    const s = deps.settings().sessions;
    const now = Date.now();
    const stamp = (ms: number) => new Date(ms).toISOString().replace('T', ' ');
    const longestIdle = Math.max(s.idleTimeout, s.superuserIdleTimeout) * 1000;
    await deps.db.run(
      deps.db.kysely,
      `DELETE FROM ${q(SESSIONS_NAME)} WHERE ${q('expires')} < ? OR ${q('lastSeen')} < ?`,
      [stamp(now), stamp(now - longestIdle)],
    );
    let otpLife = 0;
    let mfaLife = 0;
    for (const c of deps.collections.list()) {
      if (c.type !== 'auth') continue;
      otpLife = Math.max(otpLife, Number((c.options.otp as { duration?: number })?.duration) || 0);
      mfaLife = Math.max(mfaLife, Number((c.options.mfa as { duration?: number })?.duration) || 0);
    }
    for (const [table, life] of [
      [OTPS_NAME, otpLife],
      [MFAS_NAME, mfaLife],
    ] as const)
      await deps.db.run(deps.db.kysely, `DELETE FROM ${q(table)} WHERE ${q('created')} < ?`, [
        stamp(now - life * 1000),
      ]);
  };
  const timer = setInterval(() => {
    trackJob(jobs, 'auth_sweep', sweep).catch((err: Error) =>
      deps.log.warn({ reason: err.message }, 'could not sweep expired auth rows'),
    );
  }, SWEEP_INTERVAL_MS);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
