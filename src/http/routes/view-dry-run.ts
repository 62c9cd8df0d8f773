import type { FastifyInstance } from 'fastify';
import { badRequest, fieldError } from '../../errors/index.ts';
import { isPlainObject } from '../../lib/index.ts';
import { fieldToJson, fieldType, MAX_VIEW_QUERY_LENGTH, ViewQueryError } from '../../schema/index.ts';
import { type HttpDeps, requireSuperuser } from '../context.ts';

/**
 * `POST /api/collections/meta/dry-run-view` (superusers): the fields a view query would give and a
 * sample of up to 10 of its records, as PocketBase's dashboard previews a view before saving it.
 */
export async function viewDryRunRoutes(app: FastifyInstance, { collections }: HttpDeps): Promise<void> {
  app.post('/api/collections/meta/dry-run-view', async (request) => {
    requireSuperuser(request);
    const query = isPlainObject(request.body) ? request.body.query : undefined;
    if (query !== undefined && typeof query !== 'string')
      throw badRequest('An error occurred while loading the submitted data.');
    if (!query)
      throw badRequest('An error occurred while validating the submitted data.', {
        query: fieldError('validation_required', 'Cannot be blank.'),
      });
    if (query.length > MAX_VIEW_QUERY_LENGTH)
      throw badRequest('An error occurred while validating the submitted data.', {
        query: fieldError(
          'validation_length_out_of_range',
          `The length must be between 0 and ${MAX_VIEW_QUERY_LENGTH}.`,
        ),
      });
    try {
      const { collection, rows } = await collections.dryRunView(query);
      const fields = collection.fields;
      return {
        fields: fields.map(fieldToJson),
        sample: rows.map((row) => {
          const record: Record<string, unknown> = {
            collectionId: collection.id,
            collectionName: collection.name,
          };
          for (const f of fields) if (!f.hidden) record[f.name] = fieldType(f.type).fromDb(f, row[f.name]);
          return record;
        }),
      };
    } catch (err) {
      if (!(err instanceof ViewQueryError)) throw err;
      throw badRequest(`Invalid view query. Raw error: \n${err.message}`);
    }
  });
}
