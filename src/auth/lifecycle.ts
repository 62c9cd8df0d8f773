import type { RecordService } from '../records/index.ts';
import {
  AUTH_ORIGINS_NAME,
  EXTERNAL_AUTHS_NAME,
  MFAS_NAME,
  OTPS_NAME,
  SESSIONS_NAME,
} from '../schema/index.ts';
import type { AuthDeps } from './context.ts';
import { deleteRows } from './rows.ts';

/**
 * Keeps sessions in step with the records they belong to:
 * - a new password ends every other session of the record (the one that changed it stays, if it was
 *   the record itself; a superuser or manager setting it ends them all);
 * - a deleted auth record takes its sessions, codes, MFA steps, origins and linked identities with it;
 * - a `_sessions` record deleted through the records API (a user revoking a device) is dropped from
 *   every node's session cache.
 */
export function bindSessionLifecycle(deps: AuthDeps, records: RecordService): void {
  records.hooks.afterUpdate.bind(async (e, next) => {
    if (e.collection.type === 'auth' && e.original && e.original.password !== e.record.password) {
      const self = e.auth.collection?.id === e.collection.id && e.auth.record?.id === e.record.id;
      await deps.sessions.revokeRecord(
        e.collection.id,
        String(e.record.id),
        self ? e.auth.sessionId : undefined,
      );
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
