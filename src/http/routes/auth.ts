import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuthResponse } from '../../auth/index.ts';
import { forbidden, notFound, unauthorized } from '../../errors/index.ts';
import { type Collection, SUPERUSERS_ID } from '../../schema/index.ts';
import { clientOf, type HttpDeps, requireSuperuser } from '../context.ts';
import { createOutput } from '../output.ts';

type Params = { collection: string };
type RecordParams = { collection: string; id: string };

/**
 * The auth endpoints of auth collections (PocketBase's), sessions (Plinth's) and the JWKS. A name that is
 * not an auth collection is a 404 on each, as in PocketBase, except where PocketBase asks for a token
 * first: auth-refresh and request-email-change (401, then 403 for a token of another collection) and
 * impersonate (superusers only: 401 / 403, then 404).
 */
export async function authRoutes(
  app: FastifyInstance,
  { collections, records, auth }: HttpDeps,
): Promise<void> {
  const authCollection = (name: string) => {
    const c = collections.find(name);
    if (c?.type !== 'auth') throw notFound('Missing or invalid auth collection context.');
    return c;
  };
  /** The collection of the caller's own token: PocketBase's check for routes that act on the caller. */
  const callersCollection = (request: FastifyRequest<{ Params: Params }>) => {
    const c = collections.find(request.params.collection);
    if (!c) throw notFound('Missing or invalid collection context.');
    const caller = request.auth.collection;
    if (!request.auth.record || !caller)
      throw unauthorized('The request requires valid record authorization token.');
    if (caller.id !== c.id)
      throw forbidden(`The request requires auth record from ${caller.name} collection.`);
    return c;
  };
  const base = '/api/collections/:collection';
  const output = createOutput(records);

  /**
   * The routes that answer `{token, record}`: `expand` and `fields` apply as on record routes (read
   * first, so a bad one is a 400 before anything happens), expanding as the record that signed in.
   */
  const signInRoute = (
    path: string,
    collectionOf: (request: FastifyRequest<{ Params: RecordParams }>) => Collection,
    handler: (request: FastifyRequest<{ Params: RecordParams }>, c: Collection) => Promise<AuthResponse>,
  ) =>
    app.post<{ Params: RecordParams }>(`${base}/${path}`, async (request) => {
      const c = collectionOf(request);
      const out = output(request, c);
      const answer = await handler(request, c);
      const as = { collection: c, record: answer.record, isSuperuser: c.id === SUPERUSERS_ID };
      return out([answer.record], answer, as);
    });
  const byName = (request: FastifyRequest<{ Params: Params }>) => authCollection(request.params.collection);

  signInRoute('auth-with-password', byName, (request, c) =>
    auth.authWithPassword(c, request.body, clientOf(request)),
  );
  signInRoute('auth-refresh', callersCollection, (request, c) => auth.authRefresh(c, request.auth));
  signInRoute('auth-with-oauth2', byName, (request, c) =>
    auth.authWithOAuth2(c, request.body, request.auth, clientOf(request)),
  );
  signInRoute('auth-with-otp', byName, (request, c) => auth.authWithOtp(c, request.body, clientOf(request)));
  signInRoute(
    'impersonate/:id',
    (request) => {
      requireSuperuser(request);
      return byName(request);
    },
    (request, c) => auth.impersonate(c, request.params.id, request.body, request.auth, clientOf(request)),
  );
  app.post<{ Params: Params }>(`${base}/request-otp`, async (request) =>
    auth.requestOtp(authCollection(request.params.collection), request.body, clientOf(request)),
  );

  const noContent = <T>(handler: (request: T) => Promise<void>) =>
    async function (this: unknown, request: T, reply: { code(n: number): { send(): unknown } }) {
      await handler(request);
      return reply.code(204).send();
    };

  app.post<{ Params: Params }>(
    `${base}/request-verification`,
    noContent((request) =>
      auth.requestVerification(authCollection(request.params.collection), request.body, clientOf(request)),
    ),
  );
  app.post<{ Params: Params }>(
    `${base}/confirm-verification`,
    noContent((request) => auth.confirmVerification(authCollection(request.params.collection), request.body)),
  );
  app.post<{ Params: Params }>(
    `${base}/request-password-reset`,
    noContent((request) =>
      auth.requestPasswordReset(authCollection(request.params.collection), request.body, clientOf(request)),
    ),
  );
  app.post<{ Params: Params }>(
    `${base}/confirm-password-reset`,
    noContent((request) =>
      auth.confirmPasswordReset(authCollection(request.params.collection), request.body),
    ),
  );
  app.post<{ Params: Params }>(
    `${base}/request-email-change`,
    noContent((request) =>
      auth.requestEmailChange(callersCollection(request), request.body, request.auth, clientOf(request)),
    ),
  );
  app.post<{ Params: Params }>(
    `${base}/confirm-email-change`,
    noContent((request) =>
      auth.confirmEmailChange(authCollection(request.params.collection), request.body, clientOf(request)),
    ),
  );

  // Plinth's sessions: sign out here, elsewhere, or everywhere; a superuser ends a record's sessions.
  app.post<{ Params: Params }>(
    `${base}/auth-logout`,
    noContent(async (request) => {
      authCollection(request.params.collection);
      await auth.logout(request.auth, request.body);
    }),
  );
  app.delete<{ Params: RecordParams }>(
    `${base}/records/:id/sessions`,
    noContent(async (request) => {
      requireSuperuser(request);
      const c = authCollection(request.params.collection);
      await auth.sessions.revokeRecord(c.id, request.params.id);
    }),
  );

  app.get<{ Params: Params }>(`${base}/auth-methods`, async (request) =>
    auth.authMethods(authCollection(request.params.collection)),
  );

  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return auth.jwks();
  });
}
