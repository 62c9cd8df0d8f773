import type { FastifyInstance } from 'fastify';

/**
 * JSON bodies with Fastify's prototype-poisoning checks, except that an empty body is no body: the
 * pocketbase SDK sends `Content-Type: application/json` with nothing on auth-refresh and deletes.
 */
export function installJsonBodies(app: FastifyInstance): void {
  const strict = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    return strict(request, body as string, done);
  });
}
