import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/**
 * Headers every response carries. The API answers JSON only, so it may deny framing, sniffing and
 * caching; HTML pages set their own CSP.
 */
export async function installSecurity(app: FastifyInstance, origins: string[]): Promise<void> {
  const anyOrigin = origins.includes('*');
  await app.register(cors, {
    // `*` allows any origin but never with credentials; otherwise only the listed origins.
    origin: anyOrigin ? '*' : origins,
    credentials: !anyOrigin,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    maxAge: 86400,
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'SAMEORIGIN');
    reply.header('referrer-policy', 'strict-origin-when-cross-origin');
    reply.header('x-request-id', request.id);
    if (request.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
    // While shutting down, in-flight responses close their connection so that the drain ends with them.
    if (!app.server.listening) reply.header('connection', 'close');
  });
}
