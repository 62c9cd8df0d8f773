import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../context.ts';
import { queryBool, queryString } from '../context.ts';

type CollectionParams = { collection: string };
type RecordParams = { collection: string; id: string };

/** PocketBase's record CRUD routes; each is one call into the records service. */
export async function recordRoutes(app: FastifyInstance, { collections, records }: HttpDeps): Promise<void> {
  app.get<{ Params: CollectionParams }>('/api/collections/:collection/records', async (request) => {
    const q = request.query;
    return records.list(
      collections.get(request.params.collection),
      {
        page: queryString(q, 'page') as unknown as number,
        perPage: queryString(q, 'perPage') as unknown as number,
        sort: queryString(q, 'sort'),
        filter: queryString(q, 'filter'),
        skipTotal: queryBool(q, 'skipTotal'),
      },
      request.auth,
    );
  });

  app.get<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) =>
    records.view(collections.get(request.params.collection), request.params.id, request.auth),
  );

  app.post<{ Params: CollectionParams }>('/api/collections/:collection/records', async (request) =>
    records.create(collections.get(request.params.collection), request.body, request.auth),
  );

  app.patch<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) =>
    records.update(collections.get(request.params.collection), request.params.id, request.body, request.auth),
  );

  app.delete<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request, reply) => {
    await records.remove(collections.get(request.params.collection), request.params.id, request.auth);
    return reply.code(204).send();
  });
}
