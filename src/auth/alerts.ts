import { createHash } from 'node:crypto';
import type { RecordValues } from '../records/index.ts';
import { AUTH_ORIGINS_NAME, type Collection } from '../schema/index.ts';
import { type AuthDeps, type Client, option, sendInBackground, templateOf } from './context.ts';
import { insertRow } from './rows.ts';

/**
 * Remembers where a record signs in from (`_authOrigins`: a hash of IP and user agent) and, when a
 * record that has signed in before does so from somewhere new, mails it an alert.
 */
export async function noteAuthOrigin(
  deps: AuthDeps,
  collection: Collection,
  record: RecordValues,
  client: Client,
): Promise<void> {
  const q = deps.db.dialect.quote;
  const fingerprint = createHash('sha256').update(`${client.ip}\n${client.userAgent}`).digest('hex');
  const known = await deps.db.run<{ fingerprint: string }>(
    deps.db.kysely,
    `SELECT ${q('fingerprint')} FROM ${q(AUTH_ORIGINS_NAME)} WHERE ${q('recordRef')} = ? AND ${q('collectionRef')} = ?`,
    [String(record.id), collection.id],
  );
  if (known.some((row) => row.fingerprint === fingerprint)) return;
  await insertRow(deps.db, AUTH_ORIGINS_NAME, {
    collectionRef: collection.id,
    recordRef: String(record.id),
    fingerprint,
  });
  const alert = option(collection, 'authAlert', { enabled: true });
  if (!known.length || !alert.enabled || !record.email) return;
  const when = new Date().toISOString().replace('T', ' ').slice(0, 19);
  sendInBackground(
    deps,
    templateOf(collection, 'authAlert', 'emailTemplate'),
    String(record.email),
    {
      ALERT_INFO: `a sign-in from a new device on ${when} UTC, from ${client.ip} (${client.userAgent || 'unknown device'})`,
    },
    record,
    'authAlert',
  );
}
