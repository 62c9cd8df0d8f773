import type { FastifyRequest } from 'fastify';
import { badRequest } from '../errors/index.ts';
import { type FieldsTree, parseFields, pickFields, toBadRequest } from '../query/index.ts';
import type { AuthContext, RecordService } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';
import { callerOf } from './caller.ts';
import { queryString } from './context.ts';

/**
 * `expand` and `fields` for any answer that holds records. Both are read before the use case runs (a bad
 * one is a 400 with nothing written); the returned function expands the given record JSON in place, as
 * `auth` (by default the caller), and picks `fields` from the whole answer.
 */
export function createOutput(records: RecordService) {
  return (request: FastifyRequest, collection: Collection) => {
    const q = request.query;
    const fields = readFields(queryString(q, 'fields'));
    const expand = records.parseExpand(collection, queryString(q, 'expand'));
    return async <T>(items: Record<string, unknown>[], value: T, auth?: AuthContext): Promise<unknown> => {
      await records.expand(collection, items, expand, auth ?? callerOf(request));
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
