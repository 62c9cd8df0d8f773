import { ApiError, badRequest, fieldError } from '../errors/index.ts';
import type { AuthContext, RecordValues } from '../records/index.ts';
import { type Collection, MFAS_NAME } from '../schema/index.ts';
import { type AuthDeps, option } from './context.ts';
import { dateMs, deleteRows, findRow, insertRow } from './rows.ts';

/**
 * The 401 that asks for a second method. PocketBase's SDK reads `mfaId` from the top of the error body,
 * so it is there as well as in the usual error JSON.
 */
export class MfaRequired extends ApiError {
  readonly mfaId: string;
  constructor(mfaId: string) {
    super(401, 'Please complete the multi-factor authentication with another method.');
    this.mfaId = mfaId;
  }
  override toJSON() {
    return { ...super.toJSON(), mfaId: this.mfaId };
  }
}

/** Whether this record must sign in with two methods: MFA is on and `mfa.rule` (if any) matches it. */
export async function mfaApplies(
  deps: AuthDeps,
  collection: Collection,
  record: RecordValues,
  caller: AuthContext,
): Promise<boolean> {
  const mfa = option(collection, 'mfa', { enabled: false, rule: '' });
  if (!mfa.enabled) return false;
  return !mfa.rule || deps.records.meetsRule(collection, 'mfaRule', String(record.id), caller);
}

/**
 * Applies the collection's MFA policy after one method has succeeded. Without `mfaId`, starts an MFA
 * session and answers 401; with it, checks that the session is this record's, is recent, and was opened
 * by a different method, and closes it. Returns normally when a token may be issued.
 */
export async function checkMfa(
  deps: AuthDeps,
  collection: Collection,
  record: RecordValues,
  method: string,
  mfaIdInput: unknown,
  caller: AuthContext,
): Promise<void> {
  if (!(await mfaApplies(deps, collection, record, caller))) return;
  const mfa = option(collection, 'mfa', { duration: 1800 });
  const refs = { collectionRef: collection.id, recordRef: String(record.id) };
  if (mfaIdInput === undefined || mfaIdInput === '') {
    const id = await insertRow(deps.db, MFAS_NAME, { ...refs, method });
    throw new MfaRequired(id);
  }
  const invalid = () =>
    badRequest('Invalid or expired MFA session.', {
      mfaId: fieldError('validation_invalid_mfa', 'Invalid or expired MFA session.'),
    });
  if (typeof mfaIdInput !== 'string' || mfaIdInput.length > 100) throw invalid();
  const row = await findRow(deps.db, MFAS_NAME, mfaIdInput);
  const fresh = row && dateMs(row.created) + Number(mfa.duration) * 1000 > Date.now();
  if (!row || row.collectionRef !== refs.collectionRef || row.recordRef !== refs.recordRef || !fresh)
    throw invalid();
  if (row.method === method)
    throw badRequest('The second factor must be a different authentication method.', {
      mfaId: fieldError('validation_mfa_same_method', 'Use a different method than the first one.'),
    });
  await deleteRows(deps.db, MFAS_NAME, { id: mfaIdInput });
}
