import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log/index.ts';
import { GUEST } from '../records/index.ts';
import { installJsonBodies } from './body.ts';
import type { HttpDeps } from './context.ts';
import { frameworkErrors, installErrorHandling } from './errors.ts';
import { requestId } from './request-id.ts';
import { RequestLogController } from './request-log.ts';
import { authRoutes } from './routes/auth.ts';
import { collectionRoutes } from './routes/collections.ts';
import { healthRoutes } from './routes/health.ts';
import { installerRoutes } from './routes/installer.ts';
import { recordRoutes } from './routes/records.ts';
import { settingsRoutes } from './routes/settings.ts';
import { installSecurity } from './security.ts';

/** Builds the Fastify server with every plugin and route; does not listen. */
export async function buildServer(deps: HttpDeps, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log,
    logController: new RequestLogController(log),
    // No child logger per request (it costs a few µs each): lines that concern a request carry `reqId`.
    childLoggerFactory: (logger) => logger,
    genReqId: requestId,
    bodyLimit: deps.config.bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { maxParamLength: 500 },
    frameworkErrors,
    requestTimeout: 5 * 60_000,
    connectionTimeout: 0,
  }) as unknown as FastifyInstance;

  app.decorateRequest('auth', null as never);
  // Callback style, and no promise at all for guests: this runs on every request.
  app.addHook('onRequest', (request, _reply, done) => {
    const header = request.headers.authorization;
    if (!header) {
      request.auth = GUEST;
      return done();
    }
    deps.auth.authenticate(header).then((auth) => {
      request.auth = auth;
      done();
    }, done);
  });

  installErrorHandling(app);
  installJsonBodies(app);
  await installSecurity(app, deps.config.origins);
  await app.register(healthRoutes);
  await app.register(collectionRoutes, deps);
  await app.register(recordRoutes, deps);
  await app.register(authRoutes, deps);
  await app.register(settingsRoutes, deps);
  await app.register(installerRoutes, deps);
  return app;
}
