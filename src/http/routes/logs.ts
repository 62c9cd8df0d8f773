import type { FastifyInstance } from 'fastify';
import type { LogReader } from '../../logs/index.ts';
import { queryBool, queryString, requireSuperuser } from '../context.ts';

/**
 * PocketBase's request log routes, for superusers: `GET /api/logs` (a page, with `filter` and `sort` in the
 * query language over `id`, `created`, `level`, `message` and `data.*`), `GET /api/logs/stats` (entries per
 * hour, the same `filter`) and `GET /api/logs/{id}`.
 */
export async function logRoutes(app: FastifyInstance, opts: { reader: LogReader }): Promise<void> {
  const { reader } = opts;
  app.addHook('onRequest', async (request) => requireSuperuser(request));

  app.get('/api/logs', async (request) => {
    const q = request.query;
    return reader.list({
      page: queryString(q, 'page'),
      perPage: queryString(q, 'perPage'),
      sort: queryString(q, 'sort'),
      filter: queryString(q, 'filter'),
      skipTotal: queryBool(q, 'skipTotal'),
    });
  });

  app.get('/api/logs/stats', async (request) => reader.stats(queryString(request.query, 'filter')));

  app.get<{ Params: { id: string } }>('/api/logs/:id', async (request) => reader.view(request.params.id));
}
