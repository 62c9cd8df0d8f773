import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '../log/index.ts';
import { GUEST } from '../records/index.ts';
import { createAdmission } from './admission.ts';
import { installJsonBodies } from './body.ts';
import type { HttpDeps } from './context.ts';
import { installDrain } from './drain.ts';
import { frameworkErrors, installErrorHandling } from './errors.ts';
import type { Metrics } from './metrics.ts';
import { installRateLimits } from './rate-limit.ts';
import { createMemoryRateStore, createSharedRateStore } from './rate-store.ts';
import type { ReadinessCheck } from './readiness.ts';
import { requestEntries } from './request-entries.ts';
import { requestId } from './request-id.ts';
import { RequestLogController } from './request-log.ts';
import { authRoutes } from './routes/auth.ts';
import { backupRoutes } from './routes/backups.ts';
import { batchRoutes } from './routes/batch.ts';
import { collectionRoutes } from './routes/collections.ts';
import { featureRoutes } from './routes/features.ts';
import { fileRoutes } from './routes/files.ts';
import { healthRoutes } from './routes/health.ts';
import { installerRoutes } from './routes/installer.ts';
import { logRoutes } from './routes/logs.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { oauth2ProviderRoutes } from './routes/oauth2-providers.ts';
import { oauth2RedirectRoutes } from './routes/oauth2-redirect.ts';
import { realtimeRoutes } from './routes/realtime.ts';
import { recordRoutes } from './routes/records.ts';
import { settingsRoutes } from './routes/settings.ts';
import { uploadRoutes } from './routes/uploads.ts';
import { viewDryRunRoutes } from './routes/view-dry-run.ts';
import { lazySchemaCompilers } from './schema-compilers.ts';
import { installCors, installSecurityHeaders } from './security.ts';
import { installSuperuserIps } from './superuser-ips.ts';

/** Builds the Fastify server with every plugin and route; does not listen. `readiness`: what /api/plinth/ready checks. */
export async function buildServer(
  deps: HttpDeps,
  log: Logger,
  readiness: readonly ReadinessCheck[] = [],
): Promise<FastifyInstance> {
  // Admission control frees a request's slot as its response ends, through the server's response class.
  const admission = createAdmission(deps.config);
  deps.engine?.watchDurableWaits?.(admission.parked);
  const requestLog = new RequestLogController(log);
  requestLog.entries = requestEntries(() => deps.settings.get().logs, deps.logs);
  const app = Fastify({
    http: { ServerResponse: admission.Response },
    loggerInstance: log,
    logController: requestLog,
    // No child logger per request (it costs a few µs each): lines that concern a request carry `reqId`.
    childLoggerFactory: (logger) => logger,
    genReqId: requestId,
    bodyLimit: deps.config.bodyLimit,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    forceCloseConnections: 'idle',
    // The drain hook answers requests during shutdown, in PocketBase's error shape (drain.ts).
    return503OnClosing: false,
    routerOptions: { maxParamLength: 500 },
    frameworkErrors,
    requestTimeout: 5 * 60_000,
    connectionTimeout: 0,
    // Only listed proxies' X-Forwarded-For is believed; otherwise `request.ip` is the TCP peer.
    trustProxy: deps.config.trustProxy.length ? deps.config.trustProxy : false,
    schemaController: { compilersFactory: lazySchemaCompilers() },
  }) as unknown as FastifyInstance;
  // First of the onRequest hooks: CORS, so that early answers carry it (security.ts).
  await installCors(app, deps.config.origins);
  // Next: no work starts for a request that arrives during shutdown.
  installDrain(app, log);
  // Next, before any work (auth included): bounded in-flight requests and queue, per-IP limits.
  admission.install(app);
  // Off by default, and then no hook at all. On: an onResponse hook on each route registered from here on.
  const metrics = deps.config.metrics ? await createMetrics(app, deps) : undefined;
  if (metrics) deps.sharedMetrics?.serve(metrics.registry);
  const notFoundHooks = metrics?.install(app);

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
  // After auth: a superuser token used from outside `superuserIPs` is refused.
  installSuperuserIps(app, deps);
  // After auth (a rule's audience depends on it), before the routes (it tags collection routes).
  installRateLimits(
    app,
    deps,
    deps.sharedCounters ? createSharedRateStore(deps.sharedCounters) : createMemoryRateStore(),
  );

  installErrorHandling(app, deps.outage, notFoundHooks);
  installJsonBodies(app);
  installSecurityHeaders(app);
  const backups = deps.backups;
  await app.register(healthRoutes, {
    checks: readiness,
    settings: deps.settings,
    canBackup: backups && (() => !backups.busy()),
  });
  if (metrics)
    await app.register(metricsRoutes, {
      metrics,
      shared: deps.sharedMetrics,
      token: deps.config.metricsToken,
      allow: deps.config.metricsAllow,
    });
  await app.register(oauth2ProviderRoutes);
  await app.register(collectionRoutes, deps);
  await app.register(viewDryRunRoutes, deps);
  await app.register(recordRoutes, deps);
  await app.register(fileRoutes, deps);
  // Resumable (tus) uploads into file fields, beyond PocketBase.
  await app.register(uploadRoutes, deps);
  await app.register(batchRoutes, deps);
  await app.register(authRoutes, deps);
  await app.register(settingsRoutes, deps);
  await app.register(logRoutes, { reader: deps.logs.reader });
  await app.register(installerRoutes, deps);
  if (deps.backups) await app.register(backupRoutes, { ...deps, backups: deps.backups });
  await app.register(realtimeRoutes, {
    realtime: deps.realtime,
    maxSubscriptions: deps.config.realtimeMaxSubscriptions,
  });
  // The provider's redirect in the SDK's all-in-one OAuth2 flow, answered over realtime.
  await app.register(oauth2RedirectRoutes, { realtime: deps.realtime });
  // Last: it lists the features whose routes are registered above and stands in for the others.
  await app.register(featureRoutes);
  return app;
}

/**
 * The metrics of this server, reading admission, realtime, the database pool and the jobs when scraped.
 * Loaded only when metrics are on: prom-client and what it imports are about 100 modules an idle server
 * without metrics would otherwise hold (issue 16's idle memory).
 */
async function createMetrics(app: FastifyInstance, deps: HttpDeps): Promise<Metrics> {
  const { Metrics } = await import('./metrics.ts');
  return new Metrics({
    engine: deps.engine?.name ?? 'unknown',
    admission: () => app.admission,
    realtime: () => {
      const broker = deps.realtime.broker;
      let subscriptions = 0;
      for (const client of broker.clients()) subscriptions += client.subscriptions.size;
      return { clients: broker.size, subscriptions };
    },
    pool: deps.engine?.poolStats,
    jobs: deps.jobs,
  });
}
