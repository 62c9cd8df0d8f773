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
  /** One of `target`'s rules as a condition on its row `alias` (undefined for `""`, false for `null`). */
  const ruleOn = (target: Collection, rule: RuleName, alias: string): Sql | undefined | false => {
    const text = ruleOf(target, rule);
    if (text === null) return false;
    if (text.trim() === '') return undefined;
    const rc: CompileContext = {
      ...base,
      base: target,
      baseRef: alias,
      isSuperuser: true,
      listScope: undefined,
      manageScope: undefined,
      special: (op, shared, c) => resolveRequestPath(info, op, shared, c),
    };
    try {
      return compileFilter(parseFilter(text), rc);
    } catch (err) {
      // A stored rule that no longer compiles: refused (without echoing the rule).
      if (err instanceof FilterError) throw new FilterError(`cannot use "${target.name}" here`);
      throw err;
    }
  };
  return {
    ...base,
    // Superusers may filter and sort by `@request.*` and `@collection.*` too (others get a 403 first).
    ...(auth.isSuperuser ? { special: (op, shared, c) => resolveRequestPath(info, op, shared, c) } : {}),
    listScope: (target, alias) => ruleOn(target, 'listRule', alias) || undefined,
    manageScope(target, alias) {
      const scope = ruleOn(target, 'manageRule', alias);
      return scope === undefined ? true : scope;
    },
  };
}

/**
 * SQL telling, per row of an auth collection, whether the caller manages it (`manageRule`), as a 1/0
 * column for the list query; undefined when the answer is the same for every row.
 */
export function managesColumn(
  ctx: RecordsContext,
  collection: Collection,
  auth: AuthContext,
): Sql | undefined {
  if (collection.type !== 'auth' || auth.isSuperuser) return undefined;
  const text = ruleOf(collection, 'manageRule');
  if (text === null || text.trim() === '') return undefined;
  const scope = clientQueryContext(ctx, collection, auth).manageScope?.(
    collection,
    ctx.db.dialect.quote(collection.name),
  );
  return typeof scope === 'boolean' || scope === undefined ? undefined : scope;
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
