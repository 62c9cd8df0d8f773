import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';
import { compileMemoryFilter, type MemoryColumn, toBadRequest } from '../../query/index.ts';
import { type Collection, collectionScaffolds, collectionToJson } from '../../schema/index.ts';
import { type HttpDeps, queryBool, queryString, requireSuperuser } from '../context.ts';

type Params = { collection: string };

const SORTABLE = new Set(['id', 'name', 'type', 'system', 'created', 'updated']);
/** The columns PocketBase lets a collections list filter name (its `search.NewSimpleFieldResolver`). */
const FILTERABLE: Record<string, MemoryColumn> = {
  id: 'text',
  created: 'text',
  updated: 'text',
  name: 'text',
  system: 'bool',
  type: 'text',
};

/** Keeps the collections a `filter` matches; a filter PocketBase would refuse is a 400 with empty data. */
function filterCollections(list: Collection[], filter: string | undefined): Collection[] {
  if (!filter) return list;
  try {
    const matches = compileMemoryFilter(filter, FILTERABLE);
    return list.filter((c) => matches(c as unknown as Record<string, unknown>));
  } catch (err) {
    throw toBadRequest(err, 'filter') ?? err;
  }
}

/** Sorts collections by `sort=-created,name` over the keys PocketBase allows for this list. */
function sortCollections(list: Collection[], sort: string | undefined): Collection[] {
  const keys = (sort ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const key of keys) {
    if (!SORTABLE.has(key.replace(/^[-+]/, '')))
      throw badRequest(`Invalid sort field ${JSON.stringify(key.slice(0, 100))}.`);
  }
  return [...list].sort((a, b) => {
    for (const key of keys) {
      const name = key.replace(/^[-+]/, '') as keyof Collection;
      const dir = key.startsWith('-') ? -1 : 1;
      const x = String(a[name]);
      const y = String(b[name]);
      if (x !== y) return x < y ? -dir : dir;
    }
    return 0;
  });
}

function importBody(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw badRequest('Invalid request body.');
  return body;
}

/** The collections API: superusers only. */
export async function collectionRoutes(
  app: FastifyInstance,
  { collections, records }: HttpDeps,
): Promise<void> {
  app.addHook('onRequest', async (request) => requireSuperuser(request));

  app.get('/api/collections', async (request) => {
    const q = request.query;
    const page = Number(queryString(q, 'page') ?? 1);
    const perPageRaw = Number(queryString(q, 'perPage') ?? 30);
    if (!Number.isSafeInteger(page) || !Number.isSafeInteger(perPageRaw))
      throw badRequest('Invalid page or perPage value.');
    const perPage = Math.min(perPageRaw > 0 ? perPageRaw : 30, 1000);
    const matching = filterCollections(collections.list(), queryString(q, 'filter'));
    const all = sortCollections(matching, queryString(q, 'sort'));
    const start = (Math.max(1, page) - 1) * perPage;
    const skipTotal = queryBool(q, 'skipTotal');
    return {
      page: Math.max(1, page),
      perPage,
      totalItems: skipTotal ? -1 : all.length,
      totalPages: skipTotal ? -1 : Math.ceil(all.length / perPage),
      items: all.slice(start, start + perPage).map(collectionToJson),
    };
  });

  // Registered before `/api/collections/:collection` reads as a collection name (static paths win anyway).
  app.get('/api/collections/meta/scaffolds', async () => collectionScaffolds());

  app.post('/api/collections', async (request) => collectionToJson(await collections.create(request.body)));

  app.put('/api/collections/import', async (request, reply) => {
    const body = importBody(request.body);
    await collections.importCollections(body.collections, body.deleteMissing === true);
    return reply.code(204).send();
  });

  // Beyond PocketBase (docs/migrations.md): what an import would do, and an import that will not destroy
  // data unless told to.
  app.post('/api/plinth/collections/import-preview', async (request) => {
    const body = importBody(request.body);
    return collections.previewImport(body.collections, body.deleteMissing === true);
  });
  app.post('/api/plinth/collections/import', async (request) => {
    const body = importBody(request.body);
    const allowDestructive = body.allowDestructive === true;
    return collections.importCollections(body.collections, body.deleteMissing === true, { allowDestructive });
  });

  app.get<{ Params: Params }>('/api/collections/:collection', async (request) =>
    collectionToJson(collections.get(request.params.collection)),
  );

  app.patch<{ Params: Params }>('/api/collections/:collection', async (request) =>
    collectionToJson(await collections.update(request.params.collection, request.body)),
  );

  app.delete<{ Params: Params }>('/api/collections/:collection', async (request, reply) => {
    await collections.remove(request.params.collection);
    return reply.code(204).send();
  });

  app.delete<{ Params: Params }>('/api/collections/:collection/truncate', async (request, reply) => {
    await records.truncate(collections.get(request.params.collection), request.auth);
    return reply.code(204).send();
  });
}
