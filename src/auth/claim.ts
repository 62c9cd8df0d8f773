import { randomSecret } from '../lib/index.ts';
import type { RecordValues } from '../records/index.ts';
import { type Collection, EXTERNAL_AUTHS_NAME } from '../schema/index.ts';
import { type AuthDeps, SYSTEM } from './context.ts';
import { deleteRows } from './rows.ts';

/**
 * Whoever proves the mailbox of an account that never verified it (a one-time code, a verified OAuth2
 * email) takes the account over. If someone else registered it (to pre-hijack it), they must lose it:
 * unless `keepPassword` (the password is proven by the other step of this same MFA sign-in), the password
 * is replaced by a random one, which ends every session, and every linked OAuth2 identity is removed.
 * The owner sets a password again with a reset.
 */
export async function claimUnverified(
  deps: AuthDeps,
  collection: Collection,
  record: RecordValues,
  keepPassword: boolean,
): Promise<RecordValues> {
  const id = String(record.id);
  if (keepPassword) {
    await deps.records.update(collection, id, { verified: true }, SYSTEM);
  } else {
    const password = randomSecret(30);
    await deps.records.update(
      collection,
      id,
      { verified: true, password, passwordConfirm: password },
      SYSTEM,
    );
    await deleteRows(deps.db, EXTERNAL_AUTHS_NAME, { collectionRef: collection.id, recordRef: id });
  }
  return (await deps.records.find(collection, id)) ?? record;
}
