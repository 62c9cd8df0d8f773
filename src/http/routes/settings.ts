import type { FastifyInstance } from 'fastify';
import { appleClientSecret } from '../../auth/index.ts';
import { badRequest, fieldError } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';
import { type HttpDeps, requireSuperuser } from '../context.ts';

/**
 * `POST /api/settings/test/s3` as PocketBase answers it with S3 off: the form is checked (`filesystem` is
 * `storage` or `backups`), then the test fails, since Plinth has no S3 storage yet.
 */
function testS3(body: unknown): never {
  const filesystem = isPlainObject(body) ? body.filesystem : undefined;
  if (filesystem === undefined || filesystem === '')
    throw badRequest('Failed to test the S3 filesystem.', {
      filesystem: fieldError('validation_required', 'Cannot be blank.'),
    });
  if (filesystem !== 'storage' && filesystem !== 'backups')
    throw badRequest('Failed to test the S3 filesystem.', {
      filesystem: fieldError('validation_in_invalid', 'Must be a valid value.'),
    });
  throw badRequest('Failed to test the S3 filesystem. S3 storage is not supported by this server yet.');
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
  app.post('/api/settings/test/s3', async (request) => {
    requireSuperuser(request);
    testS3(request.body);
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
