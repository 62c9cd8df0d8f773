import type { FastifyInstance } from 'fastify';
import { listProviders } from '../../auth/index.ts';
import { requireSuperuser } from '../context.ts';

/**
 * `GET /api/collections/meta/oauth2-providers` (superusers; PocketBase marks it experimental): every
 * OAuth2 provider this server can sign in with, as `{name, displayName, logo}` (logo: inline SVG), in
 * PocketBase's order. Dashboards read it to offer providers to configure. Registered before the
 * collection routes, so `meta` is never read as a collection name.
 */
export async function oauth2ProviderRoutes(app: FastifyInstance): Promise<void> {
  const providers = listProviders();
  app.get('/api/collections/meta/oauth2-providers', async (request) => {
    requireSuperuser(request);
    return providers;
  });
}
