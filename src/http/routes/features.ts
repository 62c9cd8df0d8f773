import type { FastifyInstance, FastifyRequest, HTTPMethods } from 'fastify';
import { ApiError, badRequest, notFound } from '../../errors/index.ts';
import { queryString, requireSuperuser } from '../context.ts';

/**
 * PocketBase's optional route groups, each with one route that shows it is served. A feature is "on" when
 * its route is registered by the time this plugin loads (it is registered last), so the list follows the
 * code: when a feature lands, it turns on here and its stand-in below is no longer installed.
 */
const PROBES: Record<string, { method: HTTPMethods; url: string }> = {
  files: { method: 'POST', url: '/api/files/token' },
  realtime: { method: 'GET', url: '/api/realtime' },
  batch: { method: 'POST', url: '/api/batch' },
  backups: { method: 'POST', url: '/api/backups' },
  logs: { method: 'GET', url: '/api/logs/stats' },
  crons: { method: 'GET', url: '/api/crons' },
  viewCollections: { method: 'POST', url: '/api/collections/meta/dry-run-view' },
  sql: { method: 'POST', url: '/api/sql' },
  // Beyond PocketBase: tus uploads into file fields (docs/files.md).
  resumableUploads: { method: 'POST', url: '/api/plinth/uploads/:collection/:recordId/:field' },
};

/** Always served: the route groups Plinth is built around. */
const CORE = ['health', 'collections', 'records', 'auth', 'settings', 'rateLimits'];

/**
 * `GET /api/plinth/features` (anyone): which features this server has, so a client can tell a missing
 * feature from a failure. Then, for each missing feature whose PocketBase routes have an answer that
 * means "nothing here" (an empty list, batch switched off), that answer; the rest (files, realtime) get
 * the generic 404. docs/api.md lists them.
 */
export async function featureRoutes(app: FastifyInstance): Promise<void> {
  const features: Record<string, boolean> = Object.fromEntries(CORE.map((name) => [name, true]));
  for (const [name, probe] of Object.entries(PROBES)) features[name] = app.hasRoute(probe);
  app.get('/api/plinth/features', async () => ({ features }));

  if (!features.batch) installBatchStandIn(app);
  if (!features.backups) installBackupsStandIn(app);
  if (!features.logs) installLogsStandIn(app);
  if (!features.crons) installCronsStandIn(app);
}

/** PocketBase with batch requests switched off in its settings (the default there too). */
function installBatchStandIn(app: FastifyInstance): void {
  app.post('/api/batch', async () => {
    throw new ApiError(403, 'Batch requests are not allowed.');
  });
}

/** PocketBase with no backup stored; starting, uploading or restoring one is refused (`canBackup` is false). */
function installBackupsStandIn(app: FastifyInstance): void {
  const unsupported = async (request: FastifyRequest) => {
    requireSuperuser(request);
    throw badRequest('Backups are not supported by this server yet.');
  };
  app.get('/api/backups', async (request) => {
    requireSuperuser(request);
    return [];
  });
  app.post('/api/backups', unsupported);
  app.post('/api/backups/upload', unsupported);
  app.post('/api/backups/:key/restore', unsupported);
  app.delete('/api/backups/:key', async (request) => {
    requireSuperuser(request);
    throw badRequest('Invalid or already deleted backup file.');
  });
  // Downloads need a superuser file token, which a server without files cannot issue.
  app.get('/api/backups/:key', async () => {
    throw new ApiError(403, 'Insufficient permissions to access the resource.');
  });
}

/** PocketBase with request logging off (`logs.maxDays` 0): empty lists. */
function installLogsStandIn(app: FastifyInstance): void {
  app.get('/api/logs', async (request) => {
    requireSuperuser(request);
    const page = Math.max(1, Number.parseInt(queryString(request.query, 'page') ?? '', 10) || 1);
    const asked = Number.parseInt(queryString(request.query, 'perPage') ?? '', 10) || 30;
    return { page, perPage: Math.min(Math.max(asked, 1), 1000), totalItems: 0, totalPages: 0, items: [] };
  });
  app.get('/api/logs/stats', async (request) => {
    requireSuperuser(request);
    return [];
  });
  app.get('/api/logs/:id', async (request) => {
    requireSuperuser(request);
    throw notFound();
  });
}

/** PocketBase with no cron job registered. */
function installCronsStandIn(app: FastifyInstance): void {
  app.get('/api/crons', async (request) => {
    requireSuperuser(request);
    return [];
  });
  app.post('/api/crons/:id', async (request) => {
    requireSuperuser(request);
    throw notFound('Missing or invalid cron job.');
  });
}
