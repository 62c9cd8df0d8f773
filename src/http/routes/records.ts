import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../../errors/index.ts';
import { type FieldsTree, parseFields, pickFields, toBadRequest } from '../../query/index.ts';
import type { AuthContext, RequestDetails } from '../../records/index.ts';
import type { Collection } from '../../schema/index.ts';
import type { HttpDeps } from '../context.ts';
import { queryBool, queryString } from '../context.ts';

type CollectionParams = { collection: string };
type RecordParams = { collection: string; id: string };

/** PocketBase's record CRUD routes; each is one call into the records service, then expand and fields. */
export async function recordRoutes(app: FastifyInstance, { collections, records }: HttpDeps): Promise<void> {
  /**
   * Reads `expand` and `fields` before the use case runs (a bad one is a 400 with nothing written), and
   * returns what applies them to the record JSON on its way out.
   */
  function output(request: FastifyRequest, collection: Collection) {
    const q = request.query;
    const fields = readFields(queryString(q, 'fields'));
    const expand = records.parseExpand(collection, queryString(q, 'expand'));
    return async <T>(items: Record<string, unknown>[], value: T): Promise<unknown> => {
      await records.expand(collection, items, expand, callerOf(request));
      return fields ? pickFields(value, fields) : value;
    };
  }

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
    return { ...result, items: await out(result.items, result.items) };
  });

  app.get<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const record = await records.view(collection, request.params.id, callerOf(request));
    return out([record], record);
  });

  app.post<{ Params: CollectionParams }>('/api/collections/:collection/records', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const record = await records.create(collection, request.body, callerOf(request));
    return out([record], record);
  });

  app.patch<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request) => {
    const collection = collections.get(request.params.collection);
    const out = output(request, collection);
    const record = await records.update(collection, request.params.id, request.body, callerOf(request));
    return out([record], record);
  });

  app.delete<{ Params: RecordParams }>('/api/collections/:collection/records/:id', async (request, reply) => {
    await records.remove(collections.get(request.params.collection), request.params.id, callerOf(request));
    return reply.code(204).send();
  });
}

/**
 * The caller with what rules may read about this request (`@request.method`, `.headers`, `.query`). The
 * details are built on first read: most requests meet `""` rules and never need them. A class with a
 * prototype getter keeps this cheap on the hot path (one small object, one shape).
 */
class Caller implements AuthContext {
  readonly collection: AuthContext['collection'];
  readonly record: AuthContext['record'];
  readonly isSuperuser: boolean;
  readonly sessionId: string | undefined;
  #http: FastifyRequest;
  #details: RequestDetails | undefined;
  constructor(request: FastifyRequest) {
    this.collection = request.auth.collection;
    this.record = request.auth.record;
    this.isSuperuser = request.auth.isSuperuser;
    this.sessionId = request.auth.sessionId;
    this.#http = request;
  }
  get request(): RequestDetails {
    this.#details ??= requestDetails(this.#http);
    return this.#details;
  }
}

const callerOf = (request: FastifyRequest): AuthContext => new Caller(request);

function requestDetails(request: FastifyRequest): RequestDetails {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined)
      headers[name.toLowerCase().replaceAll('-', '_')] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string> = {};
  for (const [name, value] of Object.entries((request.query ?? {}) as Record<string, unknown>)) {
    const v = Array.isArray(value) ? value[0] : value;
    if (typeof v === 'string') query[name] = v;
  }
  return { method: request.method, headers, query, context: 'default' };
}

function readFields(text: string | undefined): FieldsTree | undefined {
  if (!text) return undefined;
  if (text.includes('\u0000')) throw badRequest('Invalid fields: must not contain the NUL character.');
  try {
    return parseFields(text);
  } catch (err) {
    throw toBadRequest(err, 'fields') ?? err;
  }
}
