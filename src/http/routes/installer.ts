import type { FastifyInstance } from 'fastify';
import { clientOf, type HttpDeps } from '../context.ts';
import { servePage } from './pages.ts';

/**
 * The first-superuser installer API, and `/_/`: until the dashboard exists, that is the small page in
 * `pages.ts` behind the installer link (`/_/#/pbinstall/TOKEN`) and the mailed confirmation links.
 */
export async function installerRoutes(app: FastifyInstance, { auth }: HttpDeps): Promise<void> {
  app.post('/api/plinth/installer', async (request) => auth.install(request.body, clientOf(request)));

  app.get('/_/', servePage);
}
