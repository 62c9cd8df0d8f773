import { randomString } from '../lib/index.ts';
import { type Collection, type CollectionType, collectionToJson } from './collection.ts';
import { authSystemFields, authSystemIndexes, defaultAuthOptions, idField } from './defaults.ts';

/** A collection of `type` with no fields, indexes, rules (all `null`) or options, then `extra`. */
export function blankCollection(type: CollectionType, extra: Partial<Collection>): Collection {
  return {
    id: '',
    name: '',
    type,
    system: false,
    fields: [],
    indexes: [],
    listRule: null,
    viewRule: null,
    createRule: null,
    updateRule: null,
    deleteRule: null,
    options: {},
    created: '',
    updated: '',
    ...extra,
  };
}

/**
 * The blank collection of each type that PocketBase's dashboard starts a new collection from
 * (`GET /api/collections/meta/scaffolds`): no id and no name yet, the system fields with their fixed ids,
 * and for auth the default options and the unique indexes on `tokenKey` and `email`, named with a random
 * suffix and `ON \`\`` as PocketBase writes them (the table becomes the collection's name on create).
 */
export function collectionScaffolds(): Record<'auth' | 'base' | 'view', Record<string, unknown>> {
  const suffix = randomString(10);
  return {
    auth: collectionToJson(
      blankCollection('auth', {
        fields: [idField(), ...authSystemFields()],
        indexes: authSystemIndexes('', suffix),
        options: defaultAuthOptions(),
      }),
    ),
    base: collectionToJson(blankCollection('base', { fields: [idField()] })),
    view: collectionToJson(blankCollection('view', { options: { viewQuery: '' } })),
  };
}
