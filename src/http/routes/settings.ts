import type { FastifyInstance } from 'fastify';
import { appleClientSecret } from '../../auth/index.ts';
import { type HttpDeps, requireSuperuser } from '../context.ts';

/** Runtime settings (superusers only); the SMTP password is never sent back. */
export async function settingsRoutes(app: FastifyInstance, { settings, auth }: HttpDeps): Promise<void> {
  app.get('/api/settings', async (request) => {
    requireSuperuser(request);
    return settings.toJson();
  });
  app.patch('/api/settings', async (request) => {
    requireSuperuser(request);
    return settings.toJson(await settings.update(request.body));
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
