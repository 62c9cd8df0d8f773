import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../errors/index.ts';
import type { HttpDeps } from '../context.ts';

type Params = { collection: string };

/** Auth endpoints of auth collections (password and refresh now; the auth issue adds the rest). */
export async function authRoutes(app: FastifyInstance, { collections, auth }: HttpDeps): Promise<void> {
  const authCollection = (name: string) => {
    const c = collections.get(name);
    if (c.type !== 'auth') throw badRequest('The collection is not an auth collection.');
    return c;
  };

  app.post<{ Params: Params }>('/api/collections/:collection/auth-with-password', async (request) =>
    auth.authWithPassword(authCollection(request.params.collection), request.body),
  );

  app.post<{ Params: Params }>('/api/collections/:collection/auth-refresh', async (request) =>
    auth.authRefresh(authCollection(request.params.collection), request.auth),
  );

  app.get<{ Params: Params }>('/api/collections/:collection/auth-methods', async (request) => {
    const c = authCollection(request.params.collection);
    const password = (c.options.passwordAuth ?? {}) as { enabled?: boolean; identityFields?: string[] };
    const mfa = (c.options.mfa ?? {}) as { enabled?: boolean; duration?: number };
    const otp = (c.options.otp ?? {}) as { enabled?: boolean; duration?: number };
    return {
      password: { enabled: password.enabled === true, identityFields: password.identityFields ?? [] },
      oauth2: { enabled: false, providers: [] },
      mfa: { enabled: mfa.enabled === true, duration: mfa.enabled ? (mfa.duration ?? 0) : 0 },
      otp: { enabled: otp.enabled === true, duration: otp.enabled ? (otp.duration ?? 0) : 0 },
    };
  });

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return auth.jwks();
  });
}
