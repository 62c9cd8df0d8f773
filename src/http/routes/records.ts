import { join } from 'node:path';
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { callerOf } from '../caller.ts';
import type { HttpDeps } from '../context.ts';
import { queryBool, queryString } from '../context.ts';
import { recordRouteOutput } from '../output.ts';
import { recordBodies } from '../record-body.ts';

type CollectionParams = { collection: string };
type RecordParams = { collection: string; id: string };

/**
 * PocketBase's record CRUD routes; each is one call into the records service, then expand and fields.
 * Those two are checked only once the caller is known to be allowed (before a write, after a read), so a
 * caller without access gets PocketBase's 403/404, never a 400 about them.
 */
export async function recordRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { collections, records } = deps;
  const output = recordRouteOutput(records);
  const readBody = recordBodies(join(deps.config.dataDir, '.uploads'));

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

  // Create and update take forms with files, in a plugin of their own: multipart adds hooks to every
  // route it is registered with, and reads do not pay for them. Every limit is set by the collection's file
  // fields (record-body.ts); these only bound what no collection needs more of.
  await app.register(async (writes) => {
    await writes.register(multipart, {
      limits: {
        fieldSize: deps.config.bodyLimit,
        fields: 1000,
        parts: 2000,
        fileSize: Number.MAX_SAFE_INTEGER,
      },
    });

    writes.post<{ Params: CollectionParams }>(
      '/api/collections/:collection/records',
      async (request, reply) => {
        const collection = collections.get(request.params.collection);
        const out = output(request, collection);
        const { body, uploads, done } = await readBody(
          request,
          reply,
          collection,
          'Failed to create record.',
        );
        try {
          const record = await records.create(collection, body, callerOf(request), {
            beforeWrite: out.check,
            uploads,
          });
          return await out.send([record], record);
        } finally {
          await done();
        }
      },
    );

    writes.patch<{ Params: RecordParams }>(
      '/api/collections/:collection/records/:id',
      async (request, reply) => {
        const collection = collections.get(request.params.collection);
        const out = output(request, collection);
        const id = request.params.id;
        const { body, uploads, done } = await readBody(
          request,
          reply,
          collection,
          'Failed to update record.',
        );
        try {
          const caller = callerOf(request);
          const record = await records.update(collection, id, body, caller, {
            beforeWrite: out.check,
            uploads,
          });
          return await out.send([record], record);
        } finally {
          await done();
        }
      },
    );
  });

  app.delete<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request, reply) => {
    await records.remove(collections.get(request.params.collection), request.params.id, callerOf(request));
    return reply.code(204).send();
  });
}
