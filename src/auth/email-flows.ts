import { ApiError, badRequest, fieldError, forbidden, unauthorized } from '../errors/index.ts';
import type { AuthContext, RecordValues } from '../records/index.ts';
import { type Collection, EXTERNAL_AUTHS_NAME, SUPERUSERS_ID } from '../schema/index.ts';
import { type AuthDeps, afterReply, type Client, option, SYSTEM, throttleKeys } from './context.ts';
import { emailRules, FormErrors, length, readForm, required } from './form.ts';
import { mailToken, tokenRecord } from './mailed-tokens.ts';
import { deleteRows } from './rows.ts';

/**
 * Verification, password reset and email change: a signed, short-lived token mailed to an address,
 * confirmed by posting it back (mailed-tokens.ts). The request-* endpoints answer 204 whether or not the
 * address has an account, in the same time. Bodies are checked as PocketBase checks them (form.ts).
 */
export function createEmailFlows(deps: AuthDeps) {
  const { records, throttle } = deps;

  /** Counts the request against the address and the client (mail bombing, enumeration by volume). */
  async function limit(collection: Collection, kind: string, email: string, client: Client) {
    await throttle.attempt(throttleKeys(deps, `${kind}:${collection.id}`, email, client));
  }

  /** The one `email` field of request-verification and request-password-reset. */
  function emailOf(input: unknown): string {
    const { values } = readForm(input, ['email']);
    const errors = new FormErrors();
    errors.add('email', emailRules(values.email));
    errors.check();
    return values.email;
  }

  /** The `token` field of the confirm-* endpoints: required, then checked against the collection. */
  async function checkedToken(
    collection: Collection,
    token: string,
    type: 'verification' | 'passwordReset' | 'emailChange',
    errors: FormErrors,
  ) {
    errors.add('token', required(token));
    if (!token) return undefined;
    const found = await tokenRecord(deps, collection, token, type);
    if ('error' in found) {
      errors.add('token', found.error);
      return undefined;
    }
    return found;
  }

  const superusersRefused = (collection: Collection, message: string) => {
    if (collection.id === SUPERUSERS_ID) throw badRequest(message);
  };

  return {
    async requestVerification(collection: Collection, input: unknown, client: Client): Promise<void> {
      superusersRefused(collection, 'All superusers are verified by default.');
      const email = emailOf(input);
      await limit(collection, 'verify', email, client);
      const record = await records.findBy(collection, 'email', email, true);
      if (!record || record.verified === true) return;
      afterReply(deps, 'send a verification mail', () =>
        mailToken(
          deps,
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
      superusersRefused(collection, 'All superusers are verified by default.');
      const { values } = readForm(input, ['token']);
      const errors = new FormErrors();
      const found = await checkedToken(collection, values.token, 'verification', errors);
      errors.check();
      if (found && found.record.verified !== true)
        await records.update(collection, String(found.record.id), { verified: true }, SYSTEM);
    },

    /** Refused (400, as PocketBase) when the collection does not allow passwords: there is none to reset. */
    async requestPasswordReset(collection: Collection, input: unknown, client: Client): Promise<void> {
      if (!option(collection, 'passwordAuth', { enabled: false }).enabled)
        throw badRequest('The collection is not configured to allow password authentication.');
      const email = emailOf(input);
      await limit(collection, 'reset', email, client);
      const record = await records.findBy(collection, 'email', email, true);
      if (!record) return;
      afterReply(deps, 'send a password reset mail', () =>
        mailToken(
          deps,
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
      const { values } = readForm(input, ['token', 'password', 'passwordConfirm']);
      const errors = new FormErrors();
      const found = await checkedToken(collection, values.token, 'passwordReset', errors);
      errors.add(
        'password',
        required(values.password) ?? length(values.password, passwordMin(collection), 255),
      );
      errors.add(
        'passwordConfirm',
        required(values.passwordConfirm) ??
          (values.passwordConfirm === values.password
            ? undefined
            : fieldError('validation_values_mismatch', "Values don't match.")),
      );
      errors.check();
      if (!found) return;
      const id = String(found.record.id);
      try {
        await records.update(
          collection,
          id,
          { password: values.password, passwordConfirm: values.passwordConfirm, verified: true },
          SYSTEM,
        );
      } catch (err) {
        // The password field's own rules (pattern, maximum) answer as PocketBase words it.
        if (err instanceof ApiError && err.status === 400)
          throw badRequest('Failed to set new password.', err.data);
        throw err;
      }
      // A reset is how an owner takes an account back: identities linked by whoever held it go too.
      await deleteRows(deps.db, EXTERNAL_AUTHS_NAME, { collectionRef: collection.id, recordRef: id });
    },

    /** The route has checked that the caller signed in to this collection (401 / 403 otherwise). */
    async requestEmailChange(collection: Collection, input: unknown, auth: AuthContext, client: Client) {
      if (!auth.record || !auth.collection)
        throw unauthorized('The request requires valid record authorization token.');
      if (auth.collection.id !== collection.id)
        throw forbidden(`The request requires auth record from ${auth.collection.name} collection.`);
      superusersRefused(collection, 'All superusers can change their emails directly.');
      const { values } = readForm(input, ['newEmail']);
      const newEmail = values.newEmail;
      const errors = new FormErrors();
      errors.add('newEmail', emailRules(newEmail));
      if (newEmail === auth.record.email)
        errors.add('newEmail', fieldError('validation_not_in_invalid', 'Must not be in list.'));
      errors.check();
      await limit(collection, 'email-change', String(auth.record.id), client);
      const taken = await records.findBy(collection, 'email', newEmail, true);
      if (taken && taken.id !== auth.record.id)
        throw badRequest('An error occurred while validating the submitted data.', {
          newEmail: fieldError('validation_invalid_new_email', 'Invalid new email address.'),
        });
      await mailToken(
        deps,
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
      superusersRefused(collection, 'All superusers can change their emails directly.');
      const { values } = readForm(input, ['token', 'password']);
      const errors = new FormErrors();
      const found = await checkedToken(collection, values.token, 'emailChange', errors);
      const newEmail = found?.claims.newEmail ?? '';
      if (found && (await records.findBy(collection, 'email', newEmail, true)))
        errors.add(
          'token',
          fieldError('validation_invalid_token_email', 'The new email address is invalid.'),
        );
      errors.add('password', required(values.password) ?? length(values.password, 1, 100));
      if (!errors.has('password') && !(found && (await passwordMatches(found.record, values.password))))
        errors.add(
          'password',
          fieldError('validation_invalid_password', 'Missing or invalid auth record password.'),
        );
      errors.check();
      if (!found) return;
      const id = String(found.record.id);
      await records.update(collection, id, { email: newEmail, verified: true }, SYSTEM);
      await deps.sessions.revokeRecord(collection.id, id);

      /** Checked against the sign-in throttle: this is a password guess like any other. */
      async function passwordMatches(record: RecordValues, password: string) {
        const limits = throttleKeys(deps, `login:${collection.id}`, String(record.email), client);
        await throttle.attempt(limits);
        const ok = await deps.passwords.verify(String(record.password ?? ''), password);
        if (ok) await throttle.succeeded(limits);
        return ok;
      }
    },
  };
}

/** The password field's minimum length (PocketBase reads it for the reset form); 1 if none is set. */
function passwordMin(collection: Collection): number {
  const field = collection.fields.find((f) => f.name === 'password') as { min?: unknown } | undefined;
  const min = Number(field?.min);
  return Number.isInteger(min) && min > 0 ? min : 1;
}
