import type { App } from '../app.ts';
import { ApiError } from '../errors/index.ts';
import { SUPERUSERS_ID } from '../schema/index.ts';

const SYSTEM = { collection: null, record: null, isSuperuser: true };

/** `plinth superuser upsert|create|delete|allow-any-ip`. */
export async function superuser(app: App, args: string[]): Promise<number> {
  const [action, email, password] = args;
  try {
    // The way back from a `superuserIPs` list that locks every superuser out: run on the server itself.
    if (action === 'allow-any-ip' && !email) {
      const before = app.settings.get().superuserIPs;
      await app.settings.update({ superuserIPs: [] });
      process.stdout.write(
        before.length
          ? `superuserIPs cleared (was ${before.join(', ')}); superusers may act from any address.\n`
          : 'superuserIPs was already empty; superusers may act from any address.\n',
      );
      return 0;
    }
    if (action === 'upsert' && email && password) {
      const result = await app.auth.upsertSuperuser(email, password);
      process.stdout.write(`Superuser ${email} ${result}.\n`);
      return 0;
    }
    const c = app.collections.get(SUPERUSERS_ID);
    if (action === 'create' && email && password) {
      await app.records.create(c, { email, password, passwordConfirm: password, verified: true }, SYSTEM);
      process.stdout.write(`Superuser ${email} created.\n`);
      return 0;
    }
    if (action === 'delete' && email) {
      const existing = await app.records.findBy(c, 'email', email, true);
      if (!existing) {
        process.stderr.write(`No superuser ${email}.\n`);
        return 1;
      }
      await app.records.remove(c, String(existing.id), SYSTEM);
      process.stdout.write(`Superuser ${email} deleted.\n`);
      return 0;
    }
  } catch (err) {
    if (err instanceof ApiError) {
      const details = Object.entries(err.data).map(
        ([k, v]) => `  ${k}: ${(v as { message?: string }).message ?? ''}`,
      );
      process.stderr.write(`${err.message}\n${details.join('\n')}\n`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(
    'usage: plinth superuser upsert|create EMAIL PASSWORD, or plinth superuser delete EMAIL\n',
  );
  return 2;
}
