import { renderTemplate } from '../mail/index.ts';
import { SUPERUSERS_ID } from '../schema/index.ts';
import { type AuthDeps, SYSTEM } from './context.ts';

const ALERT = {
  subject: '{APP_NAME}: {SUBJECT}',
  body: '<p>{APP_NAME} reports a failure that needs a superuser:</p><pre>{DETAILS}</pre>',
};

/**
 * Mails an alert to every superuser, one message each, as PocketBase does when a scheduled backup fails:
 * such a failure happens with nobody watching, and a log line alone goes unread. Answers the addresses
 * that could not be reached (SMTP off, or refused); it never throws for them.
 */
export function createSystemAlerts(deps: AuthDeps) {
  return {
    async alertSuperusers(subject: string, details: string): Promise<{ failed: string[] }> {
      const collection = deps.collections.get(SUPERUSERS_ID);
      const { appName } = deps.settings().meta;
      const mail = renderTemplate(ALERT, { APP_NAME: appName, SUBJECT: subject, DETAILS: details });
      const failed: string[] = [];
      for (let page = 1; ; page++) {
        const { items } = await deps.records.list(
          collection,
          { page, perPage: 200, skipTotal: true },
          SYSTEM,
        );
        for (const superuser of items) {
          const to = String(superuser.email ?? '');
          if (!to) continue;
          try {
            await deps.mailer.send({ to, subject: mail.subject, html: mail.body });
          } catch {
            failed.push(to);
          }
        }
        if (items.length < 200) return { failed };
      }
    },
  };
}
