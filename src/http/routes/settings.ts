import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { appleClientSecret } from '../../auth/index.ts';
import { badRequest, fieldError } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';
import type { SettingsStore } from '../../schema/index.ts';
import { createS3Storage } from '../../storage/index.ts';
import { type HttpDeps, requireSuperuser } from '../context.ts';

/**
 * `POST /api/settings/test/s3`, as PocketBase does it: the saved settings of `filesystem` (`storage` for
 * files, `backups`) are tried by writing a small object and deleting it again; 204 when both work, else 400
 * with the S3 error in the message.
 */
async function testS3(settings: SettingsStore, body: unknown): Promise<void> {
  const filesystem = isPlainObject(body) ? body.filesystem : undefined;
  if (filesystem === undefined || filesystem === '')
    throw badRequest('Failed to test the S3 filesystem.', {
      filesystem: fieldError('validation_required', 'Cannot be blank.'),
    });
  if (filesystem !== 'storage' && filesystem !== 'backups')
    throw badRequest('Failed to test the S3 filesystem.', {
      filesystem: fieldError('validation_in_invalid', 'Must be a valid value.'),
    });
  const config = filesystem === 'storage' ? settings.get().s3 : settings.get().backups.s3;
  const failed = (reason: string) => badRequest(`Failed to test the S3 filesystem. Raw error: \n${reason}.`);
  if (!config.enabled) throw failed('S3 storage filesystem is not enabled');
  const s3 = createS3Storage(config);
  const prefix = `pb_settings_test_${randomBytes(4).toString('hex').slice(0, 5)}`;
  try {
    await s3.putBuffer(`${prefix}/test.txt`, Buffer.from('test'), 'text/plain');
    await s3.deletePrefix(prefix);
  } catch (err) {
    throw failed((err as Error).message || String(err));
  } finally {
    await s3.close();
  }
}

/** Runtime settings (superusers only); secrets are never sent back. */
export async function settingsRoutes(app: FastifyInstance, { settings, auth }: HttpDeps): Promise<void> {
  app.get('/api/settings', async (request) => {
    requireSuperuser(request);
    return settings.toJson();
  });
  app.patch('/api/settings', async (request) => {
    requireSuperuser(request);
    return settings.toJson(await settings.update(request.body));
  });
  app.post('/api/settings/test/s3', async (request, reply) => {
    requireSuperuser(request);
    await testS3(settings, request.body);
    return reply.code(204).send();
  });
  app.post('/api/settings/test/email', async (request, reply) => {
    requireSuperuser(request);
    await auth.sendTestEmail(request.body);
    return reply.code(204).send();
  });
  app.post('/api/settings/apple/generate-client-secret', async (request) => {
    requireSuperuser(request);
    return appleClientSecret(request.body);
  });
  /** Starts signing with a new key; earlier keys stay in the JWKS until their tokens have expired. */
  app.post('/api/settings/jwks/rotate', async (request) => {
    requireSuperuser(request);
    return auth.rotateKeys(request.body);
  });
}
