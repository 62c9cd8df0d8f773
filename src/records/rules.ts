import { forbidden } from '../errors/index.ts';
import {
  type CompileContext,
  compileFilter,
  FilterError,
  parseFilter,
  type RequestInfo,
  resolveRequestPath,
  type Sql,
} from '../query/index.ts';
import type { Collection, RuleName } from '../schema/index.ts';
import { ruleOf } from './access.ts';
import type { RecordsContext } from './context.ts';
import { queryContext } from './query-context.ts';
import type { AuthContext, RecordValues } from './types.ts';

/** What a rule lets the caller reach: everything, or the records matching a condition. */
export type RuleScope = { kind: 'all' } | { kind: 'where'; sql: Sql };

const ALL: RuleScope = { kind: 'all' };

/**
 * Compiles one of the collection's rules for the caller. `null` (superusers only) throws PocketBase's 403;
 * `""` lets anyone through; an expression becomes a condition on the collection's rows, with `@request.*`
 * and `@collection.*` resolved for this request. `body` and `original` feed `@request.body.*` on writes.
 */
export function ruleScope(
  ctx: RecordsContext,
  collection: Collection,
  rule: RuleName,
  auth: AuthContext,
  body: Record<string, unknown> = {},
  original?: RecordValues,
): RuleScope {
  if (auth.isSuperuser) return ALL;
  const text = ruleOf(collection, rule);
  if (text === null) throw forbidden('Only superusers can perform this action.');
  if (text.trim() === '') return ALL;
  const info = requestInfo(auth, body, original);
  const qctx = {
    ...queryContext(ctx, collection, auth),
    // Rules are the developer's, not the client's: they may read hidden fields and private emails.
    isSuperuser: true,
    special: (
      op: Parameters<typeof resolveRequestPath>[1],
      shared: boolean,
      c: Parameters<typeof resolveRequestPath>[3],
    ) => resolveRequestPath(info, op, shared, c),
  };
  try {
    return { kind: 'where', sql: compileFilter(parseFilter(text), qctx) };
  } catch (err) {
    // A stored rule that no longer compiles (a field it names was removed) denies rather than opens.
    if (err instanceof FilterError) throw forbidden('The collection rule could not be evaluated.');
    throw err;
  }
}

/**
 * The compile context for a client's filter and sort: paths through relations see only the records the
 * caller may list there (each target's list rule is ANDed into the join that reaches it).
 */
export function clientQueryContext(
  ctx: RecordsContext,
  collection: Collection,
  auth: AuthContext,
): CompileContext {
  const base = queryContext(ctx, collection, auth);
  const info = requestInfo(auth, {});
  return {
    ...base,
    listScope(target, alias) {
      const text = ruleOf(target, 'listRule');
      if (text === null || text.trim() === '') return undefined;
      const rule: CompileContext = {
        ...base,
        base: target,
        baseRef: alias,
        isSuperuser: true,
        listScope: undefined,
        special: (op, shared, c) => resolveRequestPath(info, op, shared, c),
      };
      try {
        return compileFilter(parseFilter(text), rule);
      } catch (err) {
        // A stored rule that no longer compiles: the path is refused (without echoing the rule).
        if (err instanceof FilterError) throw new FilterError(`cannot go through "${target.name}"`);
        throw err;
      }
    },
  };
}

function requestInfo(auth: AuthContext, body: Record<string, unknown>, original?: RecordValues): RequestInfo {
  const r = auth.request;
  return {
    auth: auth.collection && auth.record ? { collection: auth.collection, record: auth.record } : null,
    method: r?.method ?? 'GET',
    context: r?.context ?? 'default',
    query: r?.query ?? {},
    headers: r?.headers ?? {},
    body,
    original,
  };
}
