import { badRequest, fieldError, unauthorized } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';
import { renderTemplate } from '../mail/index.ts';
import type { AuthContext, RecordValues } from '../records/index.ts';
import { type Collection, EXTERNAL_AUTHS_NAME } from '../schema/index.ts';
import {
  type AuthDeps,
  afterReply,
  type Client,
  emailFrom,
  SYSTEM,
  sendInBackground,
  stringFrom,
  templateOf,
  throttleKeys,
  tokenSeconds,
} from './context.ts';
import { deleteRows } from './rows.ts';
import { inSeconds, signToken, type TokenType, tokenKeyFingerprint, verifyToken } from './tokens.ts';

/**
 * Verification, password reset and email change: a signed, short-lived token mailed to an address,
 * confirmed by posting it back. Each token is bound to what it may change, so it works once: the email
 * it was sent for (verification, email change) or the tokenKey, which a new password replaces (reset).
 * The request-* endpoints answer 204 whether or not the address has an account, in the same time.
 */
export function createEmailFlows(deps: AuthDeps) {
  const { records, keys, throttle } = deps;

  const body = (input: unknown) => {
    if (!isPlainObject(input)) throw badRequest('Invalid request body.');
    return input;
  };

  const invalidToken = (message: string) =>
    badRequest(message, { token: fieldError('validation_invalid_token', 'Invalid or expired token.') });

  /** Counts the request against the address and the client (mail bombing, enumeration by volume). */
  function limit(collection: Collection, kind: string, email: string, client: Client) {
    const keysFor = throttleKeys(deps, `${kind}:${collection.id}`, email, client);
    throttle.attempt(keysFor);
  }

  async function mailToken(
    collection: Collection,
    record: RecordValues,
    type: TokenType,
    to: string,
    extra: { email?: string; newEmail?: string },
    template: string,
    duration: [string, number],
  ) {
    const token = await signToken(
      keys,
      {
        id: String(record.id),
        type,
        collectionId: collection.id,
        refreshable: false,
        tk: tokenKeyFingerprint(String(record.tokenKey)),
        ...extra,
      },
      inSeconds(tokenSeconds(collection, duration[0], duration[1])),
    );
    sendInBackground(deps, templateOf(collection, template), to, { TOKEN: token }, record, type);
  }

  /** The record a one-time token names, if the token is valid and still bound to it. */
  async function tokenRecord(collection: Collection, input: Record<string, unknown>, type: TokenType) {
    const token = stringFrom(input, 'token', 4096);
    const claims = await verifyToken(keys, token, type);
    if (!claims || claims.collectionId !== collection.id) return undefined;
    const record = await records.find(collection, claims.id);
    if (!record || claims.tk !== tokenKeyFingerprint(String(record.tokenKey))) return undefined;
    if (claims.email !== undefined && String(record.email).toLowerCase() !== claims.email.toLowerCase())
      return undefined;
    return { record, claims };
  }

  return {
    /**
     * `POST /api/settings/test/email` (PocketBase's): one template sent to an address, with sample values,
     * waiting for the SMTP server's answer so a superuser sees what went wrong.
     */
    async sendTestEmail(input: unknown): Promise<void> {
      const data = body(input);
      const to = emailFrom(data, 'email');
      const kinds: Record<string, [string, string?]> = {
        verification: ['verificationTemplate'],
        'password-reset': ['resetPasswordTemplate'],
        'email-change': ['confirmEmailChangeTemplate'],
        otp: ['otp', 'emailTemplate'],
        'login-alert': ['authAlert', 'emailTemplate'],
      };
      const kind = typeof data.template === 'string' ? kinds[data.template] : undefined;
      if (!kind)
        throw badRequest('An error occurred while validating the submitted data.', {
          template: fieldError('validation_in_invalid', `Must be one of ${Object.keys(kinds).join(', ')}.`),
        });
      const collection = deps.collections.find(
        typeof data.collection === 'string' ? data.collection : '_superusers',
      );
      if (collection?.type !== 'auth')
        throw badRequest('An error occurred while validating the submitted data.', {
          collection: fieldError('validation_invalid_collection', 'Must be an auth collection.'),
        });
      const { meta } = deps.settings();
      const mail = renderTemplate(
        templateOf(collection, kind[0], kind[1]),
        {
          APP_NAME: meta.appName,
          APP_URL: meta.appURL.replace(/\/+$/, ''),
          TOKEN: 'test-token',
          OTP: '12345678',
          OTP_ID: 'testotpid',
          ALERT_INFO: 'a test',
        },
        { id: 'test', email: to },
      );
      try {
        await deps.mailer.send({ to, subject: mail.subject, html: mail.body });
      } catch (err) {
        throw badRequest(`Failed to send the test email: ${(err as Error).message}`);
      }
    },

    async requestVerification(collection: Collection, input: unknown, client: Client): Promise<void> {
      const email = emailFrom(body(input), 'email');
      limit(collection, 'verify', email, client);
      const record = await records.findBy(collection, 'email', email, true);
      if (!record || record.verified === true) return;
      afterReply(deps, 'send a verification mail', () =>
        mailToken(
          collection,
          record,
          'verification',
          String(record.email),
          { email: String(record.email) },
          'verificationTemplate',
          ['verificationToken', 259200],
        ),
      );
    },

    async confirmVerification(collection: Collection, input: unknown): Promise<void> {
      const found = await tokenRecord(collection, body(input), 'verification');
      if (!found) throw invalidToken('Invalid or expired verification token.');
      if (found.record.verified !== true)
        await records.update(collection, String(found.record.id), { verified: true }, SYSTEM);
    },

    async requestPasswordReset(collection: Collection, input: unknown, client: Client): Promise<void> {
      const email = emailFrom(body(input), 'email');
      limit(collection, 'reset', email, client);
      const record = await records.findBy(collection, 'email', email, true);
      if (!record) return;
      afterReply(deps, 'send a password reset mail', () =>
        mailToken(
          collection,
          record,
          'passwordReset',
          String(record.email),
          { email: String(record.email) },
          'resetPasswordTemplate',
          ['passwordResetToken', 1800],
        ),
      );
    },

    /** Sets the new password (every session ends) and, since the mailbox answered, marks the email verified. */
    async confirmPasswordReset(collection: Collection, input: unknown): Promise<void> {
      const data = body(input);
      const found = await tokenRecord(collection, data, 'passwordReset');
      if (!found) throw invalidToken('Invalid or expired password reset token.');
      // A new password is the point: none (which the records layer reads as "unchanged") is a 400.
      const password = stringFrom(data, 'password', 256);
      await records.update(
        collection,
        String(found.record.id),
        { password, passwordConfirm: data.passwordConfirm ?? '', verified: true },
        SYSTEM,
      );
      // A reset is how an owner takes an account back: identities linked by whoever held it go too.
      await deleteRows(deps.db, EXTERNAL_AUTHS_NAME, {
        collectionRef: collection.id,
        recordRef: String(found.record.id),
      });
    },

    async requestEmailChange(collection: Collection, input: unknown, auth: AuthContext, client: Client) {
      if (!auth.record || auth.collection?.id !== collection.id)
        throw unauthorized('The request requires valid record authorization token.');
      const newEmail = emailFrom(body(input), 'newEmail');
      limit(collection, 'email-change', String(auth.record.id), client);
      const taken = await records.findBy(collection, 'email', newEmail, true);
      if (taken)
        throw badRequest('An error occurred while validating the submitted data.', {
          newEmail: fieldError('validation_invalid_new_email', 'Invalid new email address.'),
        });
      await mailToken(
        collection,
        auth.record,
        'emailChange',
        newEmail,
        { email: String(auth.record.email), newEmail },
        'confirmEmailChangeTemplate',
        ['emailChangeToken', 1800],
      );
    },

    /** Needs the current password too (a stolen mailbox alone cannot take the account); every session ends. */
    async confirmEmailChange(collection: Collection, input: unknown, client: Client): Promise<void> {
      const data = body(input);
      const password = stringFrom(data, 'password', 256);
      const found = await tokenRecord(collection, data, 'emailChange');
      if (!found?.claims.newEmail) throw invalidToken('Invalid or expired email change token.');
      const limits = throttleKeys(deps, `login:${collection.id}`, String(found.record.email), client);
      throttle.attempt(limits);
      if (!(await deps.passwords.verify(String(found.record.password ?? ''), password))) {
        throw badRequest('An error occurred while validating the submitted data.', {
          password: fieldError('validation_invalid_password', 'Missing or invalid password.'),
        });
      }
      throttle.succeeded(limits);
      await records.update(
        collection,
        String(found.record.id),
        { email: found.claims.newEmail, verified: true },
        SYSTEM,
      );
      const updated = await records.find(collection, String(found.record.id));
      if (updated) await deps.sessions.revokeRecord(collection.id, String(updated.id));
    },
  };
}
