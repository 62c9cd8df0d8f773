import type { FastifyInstance } from 'fastify';
import { callerOf } from '../caller.ts';
import type { HttpDeps } from '../context.ts';
import { queryBool, queryString } from '../context.ts';
import { recordRouteOutput } from '../output.ts';

type CollectionParams = { collection: string };
type RecordParams = { collection: string; id: string };

/**
 * PocketBase's record CRUD routes; each is one call into the records service, then expand and fields.
 * Those two are checked only once the caller is known to be allowed (before a write, after a read), so a
 * caller without access gets PocketBase's 403/404, never a 400 about them.
 */
export async function recordRoutes(app: FastifyInstance, { collections, records }: HttpDeps): Promise<void> {
  const output = recordRouteOutput(records);
  // No body at all (no Content-Type) is `{}`, as PocketBase reads it: a PATCH without one changes nothing.
  // (An empty JSON body is `{}` already: http/body.ts.)
  const bodyOf = (body: unknown) => (body === undefined ? {} : body);

  app.get<{ Params: CollectionParams }>('/api/collections/:collection/records', async (request) => {
    const q = request.query;
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const result = await records.list(
      collection,
      {
        page: queryString(q, 'page') as unknown as number,
        perPage: queryString(q, 'perPage') as unknown as number,
        sort: queryString(q, 'sort'),
        filter: queryString(q, 'filter'),
        skipTotal: queryBool(q, 'skipTotal'),
      },
      callerOf(request),
    );
    return { ...result, items: await out.send(result.items, result.items) };
  });

  app.get<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const record = await records.view(collection, request.params.id, callerOf(request));
    return out.send([record], record);
  });

  app.post<{ Params: CollectionParams }>('/api/collections/:collection/records', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const record = await records.create(collection, bodyOf(request.body), callerOf(request), out.check);
    return out.send([record], record);
  });

  app.patch<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const id = request.params.id;
    const record = await records.update(collection, id, bodyOf(request.body), callerOf(request), out.check);
    return out.send([record], record);
  });

  app.delete<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request, reply) => {
    await records.remove(collections.get(request.params.collection), request.params.id, callerOf(request));
    return reply.code(204).send();
  });
}
