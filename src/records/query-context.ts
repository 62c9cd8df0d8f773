import { type CompileContext, queryDialect } from '../query/index.ts';
import type { Collection } from '../schema/index.ts';
import type { RecordsContext } from './context.ts';
import type { AuthContext } from './types.ts';

/** What the query compiler needs to compile one request's filter and sort against `collection`. */
export function queryContext(ctx: RecordsContext, collection: Collection, auth: AuthContext): CompileContext {
  let n = 0;
  return {
    dialect: queryDialect(ctx.db.dialect),
    base: collection,
    baseRef: ctx.db.dialect.quote(collection.name),
    isSuperuser: auth.isSuperuser,
    viewer:
      auth.collection && auth.record
        ? { collectionId: auth.collection.id, id: String(auth.record.id) }
        : undefined,
    collection: (idOrName) => ctx.collections.find(idOrName),
    // Only system collections may start with `_`, and none is named `_q` + digits: aliases never
    // shadow a table.
    alias: () => `_q${++n}`,
    now: new Date(),
  };
}
