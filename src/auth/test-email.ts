import { badRequest, fieldError } from '../errors/index.ts';
import { isPlainObject } from '../lib/index.ts';
import { renderTemplate } from '../mail/index.ts';
import { type AuthDeps, emailFrom, templateOf } from './context.ts';

/**
 * `POST /api/settings/test/email` (PocketBase's): one template sent to an address, with sample values,
 * waiting for the SMTP server's answer so a superuser sees what went wrong.
 */
export function createTestEmail(deps: AuthDeps) {
  return {
    async sendTestEmail(input: unknown): Promise<void> {
      if (!isPlainObject(input)) throw badRequest('Invalid request body.');
      const data = input;
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
  };
}
