import { randomInt } from 'node:crypto';
import { badRequest, forbidden } from '../errors/index.ts';
import { newRecordId, safeEqual } from '../lib/index.ts';
import { type Collection, MFAS_NAME, OTPS_NAME } from '../schema/index.ts';
import { claimUnverified } from './claim.ts';
import {
  type AuthDeps,
  afterReply,
  type Client,
  option,
  sendInBackground,
  signingIn,
  templateOf,
  throttleKeys,
} from './context.ts';
import { emailRules, FormErrors, length, readForm, required } from './form.ts';
import { mfaApplies } from './mfa.ts';
import { dateMs, deleteRows, findRow } from './rows.ts';
import type { AuthResponse, Issued } from './service.ts';

/** Wrong codes an OTP survives; then it is deleted and a new one must be asked for. */
const OTP_MAX_ATTEMPTS = 5;

/**
 * A one-time code is short-lived, single-use and tried at most a few times, so it is stored as an HMAC
 * rather than an argon2 hash: checking it costs nothing an attacker could use to tell a real otpId from a
 * fake one. The HMAC key is kept outside the database: a code has few digits, so with a key the row held
 * (or none) a copy of the database would give the code back by trying them all offline.
 */
const codeHash = (deps: AuthDeps, otpId: string, code: string) =>
  `hmac:v2:${deps.secrets.mac('otp', `${otpId}:${code}`)}`;

export function createOtpFlow(deps: AuthDeps, signIn: (input: Issued) => Promise<AuthResponse>) {
  const { records, throttle } = deps;

  /** Whether `mfaId` names this record's MFA session opened by a password. */
  async function mfaStartedWithPassword(collection: Collection, recordId: string, mfaId: unknown) {
    if (typeof mfaId !== 'string') return false;
    const row = await findRow(deps.db, MFAS_NAME, mfaId);
    return row?.collectionRef === collection.id && row.recordRef === recordId && row.method === 'password';
  }

  const enabled = (collection: Collection) => {
    const otp = option(collection, 'otp', { enabled: false, duration: 180, length: 8 });
    // 403, as PocketBase answers a method the collection has switched off.
    if (!otp.enabled) throw forbidden('The collection is not configured to allow OTP authentication.');
    return otp;
  };

  return {
    /** Always answers with an otpId; for an unknown email it is a fake one and no mail goes out. */
    async requestOtp(collection: Collection, input: unknown, client: Client): Promise<{ otpId: string }> {
      const otp = enabled(collection);
      const { values } = readForm(input, ['email']);
      const errors = new FormErrors();
      errors.add('email', emailRules(values.email));
      errors.check();
      const email = values.email;
      const limits = throttleKeys(deps, `otp-request:${collection.id}`, email, client);
      await throttle.attempt(limits);
      const otpId = newRecordId();
      const record = await records.findBy(collection, 'email', email, true);
      if (!record) return { otpId };
      // Made, stored and mailed after the answer, so a real otpId takes as long to get as a fake one.
      afterReply(deps, 'store a one-time password', async () => {
        const length = Math.min(Math.max(Number(otp.length) || 8, 4), 32);
        let code = '';
        for (let i = 0; i < length; i++) code += String(randomInt(10));
        const q = deps.db.dialect.quote;
        const now = new Date().toISOString().replace('T', ' ');
        await deps.db.run(
          deps.db.kysely,
          `INSERT INTO ${q(OTPS_NAME)} (${['id', 'collectionRef', 'recordRef', 'password', 'sentTo', 'created', 'updated'].map(q).join(', ')}) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [
            otpId,
            collection.id,
            String(record.id),
            codeHash(deps, otpId, code),
            String(record.email),
            now,
            now,
          ],
        );
        sendInBackground(
          deps,
          templateOf(collection, 'otp', 'emailTemplate'),
          String(record.email),
          { OTP: code, OTP_ID: otpId },
          record,
          'otp',
        );
      });
      return { otpId };
    },

    async authWithOtp(collection: Collection, input: unknown, client: Client): Promise<AuthResponse> {
      const otp = enabled(collection);
      const { values, raw } = readForm(input, ['otpId', 'password']);
      const errors = new FormErrors();
      errors.add('otpId', required(values.otpId) ?? length(values.otpId, 1, 255));
      errors.add('password', required(values.password) ?? length(values.password, 1, 71));
      errors.check();
      const { otpId, password: code } = values;
      const limits = [
        { key: `otp:${otpId}`, max: OTP_MAX_ATTEMPTS, windowSeconds: Number(otp.duration) || 180 },
        ...throttleKeys(deps, `otp-ip:${collection.id}`, '', client).slice(1),
      ];
      await throttle.attempt(limits);
      const row = await findRow(deps.db, OTPS_NAME, otpId);
      const fresh = row && dateMs(row.created) + (Number(otp.duration) || 180) * 1000 > Date.now();
      const matches = row && safeEqual(String(row.password), codeHash(deps, otpId, code));
      const record =
        row && fresh && matches && row.collectionRef === collection.id
          ? await records.find(collection, String(row.recordRef))
          : undefined;
      if (!record) {
        if (row && !fresh) await deleteRows(deps.db, OTPS_NAME, { id: otpId });
        // One answer, without field errors, for every way a code can be wrong (as PocketBase's).
        throw badRequest('Invalid or expired OTP.');
      }
      await throttle.succeeded(limits);
      await deleteRows(deps.db, OTPS_NAME, { id: otpId });
      // The code reached the mailbox: that proves the address, as PocketBase treats it. The password
      // someone set before is replaced (claimUnverified) unless it is, or will be, proven in this same
      // MFA sign-in: when a password opened it, or when this code opens it and a second method must follow.
      let signed = record;
      if (
        record.verified !== true &&
        String(row!.sentTo).toLowerCase() === String(record.email).toLowerCase()
      ) {
        const mfaId = client.mfaId ?? raw.mfaId;
        const keepPassword = mfaId
          ? await mfaStartedWithPassword(collection, String(record.id), mfaId)
          : await mfaApplies(deps, collection, record, signingIn(collection, record, client, 'otp'));
        signed = await claimUnverified(deps, collection, record, keepPassword);
      }
      return signIn({ collection, record: signed, method: 'otp', client, body: raw });
    },
  };
}
