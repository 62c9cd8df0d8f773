import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors/index.ts';
import { type FieldsTree, parseFields, pickFields, toBadRequest } from '../query/index.ts';
import type { AuthContext, ExpandTree, RecordOperations, RecordService } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';
import { callerOf } from './caller.ts';
import { queryString } from './context.ts';

/**
 * `expand` and `fields` for any answer that holds records. Both are read before the use case runs (a bad
 * one is a 400 with nothing written); the returned function expands the given record JSON in place, as
 * `auth` (by default the caller), and picks `fields` from the whole answer.
 */
export function createOutput(records: RecordService) {
  const deferred = recordRouteOutput(records);
  return (request: FastifyRequest, collection: Collection) => {
    const out = deferred(request, collection);
    out.check();
    return out.send;
  };
}

/** What a record route answers with: `check` throws a bad `expand`/`fields`, `send` expands and picks. */
export interface RouteOutput {
  check(): void;
  send<T>(items: Record<string, unknown>[], value: T, auth?: AuthContext): Promise<unknown>;
}

/**
 * The same for record routes, where authorization comes first (PocketBase reads `expand` and `fields` only
 * when it answers): a problem with them is kept, and thrown by `check` (which the use case calls once the
 * caller is allowed, before it writes) or by `send`.
 */
export function recordRouteOutput(records: RecordService) {
  return (request: FastifyRequest, collection: Collection): RouteOutput => {
    const q = request.query;
    let fields: FieldsTree | undefined;
    let expand: ExpandTree | undefined;
    let problem: unknown;
    try {
      fields = readFields(queryString(q, 'fields'));
      expand = records.parseExpand(collection, queryString(q, 'expand'));
    } catch (err) {
      problem = err;
    }
    const check = () => {
      if (problem) throw problem;
    };
    return {
      check,
      async send<T>(items: Record<string, unknown>[], value: T, auth?: AuthContext): Promise<unknown> {
        check();
        await records.expand(collection, items, expand, auth ?? callerOf(request));
        return fields ? pickFields(value, fields) : value;
      },
    };
  };
}

/**
 * The same for a request of a batch, whose query comes with its URL: `expand` runs through `operations`
 * (inside the batch's transaction, so it sees the batch's writes) as `auth`.
 */
export function recordOutput(records: RecordService) {
  return (collection: Collection, query: URLSearchParams) => {
    const fields = readFields(query.get('fields') ?? undefined);
    const expand = records.parseExpand(collection, query.get('expand') ?? undefined);
    return async <T>(
      items: Record<string, unknown>[],
      value: T,
      auth: AuthContext,
      operations: RecordOperations,
    ): Promise<unknown> => {
      await operations.expand(collection, items, expand, auth);
      return fields ? pickFields(value, fields) : value;
    };
  };
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
