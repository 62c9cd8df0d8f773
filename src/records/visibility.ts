import { ApiError } from '../errors/index.ts';
import {
  type CompileContext,
  type CostGroup,
  compileFilter,
  joinSql,
  param,
  parseFilter,
  raw,
  type Sql,
  sql,
} from '../query/index.ts';
import type { Collection, RuleName } from '../schema/index.ts';
import { ruleOf } from './access.ts';
import type { RecordsContext } from './context.ts';
import { clientQueryContext, ruleScope } from './rules.ts';
import type { AuthContext } from './types.ts';

/** One question about one record: may `auth` see it through `rule`, and does it match `filter`? */
export interface VisibilityCheck {
  rule: RuleName;
  auth: AuthContext;
  /** A client's filter (realtime subscription options), read as the records list reads `?filter=`. */
  filter?: string;
}

/** Checks per statement: enough to answer many subscribers at once, few enough for any engine's limits. */
const COLUMNS_PER_QUERY = 64;
/** What only superusers may name in a client's filter (as on the records list). */
const SUPERUSER_ONLY = ['@collection.', '@request.'];

/** Realtime checks share one turn in the query lane: they are the server's work, not one client's. */
const REALTIME = { caller: 'realtime' };

type Condition = { answer: boolean } | { sql: Sql; costs: CostGroup[] };

/**
 * Answers many checks about one stored record with as few statements as possible: checks that need no
 * database (superusers, `""` rules, `null` rules, bad filters) are answered at once, and the rest become
 * the columns of one `SELECT … WHERE id = ?` (up to 64 per statement). A check whose rule cannot be
 * evaluated, or whose filter is bad or too costly, is false: the caller is an event, nobody to answer 400.
 */
export async function checkVisibility(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  checks: readonly VisibilityCheck[],
): Promise<boolean[]> {
  const answers = new Array<boolean>(checks.length).fill(false);
  const pending: { index: number; sql: Sql }[] = [];
  for (const [index, check] of checks.entries()) {
    const condition = conditionOf(ctx, collection, check);
    if ('answer' in condition) answers[index] = condition.answer;
    else if (await withinCost(ctx, condition.costs)) pending.push({ index, sql: condition.sql });
  }
  for (let start = 0; start < pending.length; start += COLUMNS_PER_QUERY) {
    const part = pending.slice(start, start + COLUMNS_PER_QUERY);
    try {
      await answerTogether(ctx, collection, id, part, answers);
    } catch (err) {
      if (!(err instanceof ApiError) || part.length === 1) throw err;
      // One subscriber's filter ran too long: answer the others one by one, so it costs only its own events.
      for (const one of part) await answerTogether(ctx, collection, id, [one], answers).catch(() => {});
    }
  }
  return answers;
}

async function answerTogether(
  ctx: RecordsContext,
  collection: Collection,
  id: string,
  part: readonly { index: number; sql: Sql }[],
  answers: boolean[],
): Promise<void> {
  const q = ctx.db.dialect.quote;
  const table = raw(q(collection.name));
  const columns = part.map((p, i) => sql`CASE WHEN ${p.sql} THEN 1 ELSE 0 END AS ${raw(q(`c${i}`))}`);
  const statement = sql`SELECT ${joinSql(columns, ', ')} FROM ${table} WHERE ${table}.${raw(q('id'))} = ${param(id)}`;
  const [row] = await ctx.db.query<Record<string, unknown>>(statement.text, statement.params, REALTIME);
  if (!row) return;
  for (const [i, p] of part.entries()) answers[p.index] = Number(row[`c${i}`]) === 1 || row[`c${i}`] === true;
}

function conditionOf(ctx: RecordsContext, collection: Collection, check: VisibilityCheck): Condition {
  const { auth, rule, filter } = check;
  if (!auth.isSuperuser && ruleOf(collection, rule) === null) return { answer: false };
  const parts: Sql[] = [];
  const costs: CostGroup[] = [];
  try {
    const scope = ruleScope(ctx, collection, rule, auth);
    if (scope.kind === 'where') parts.push(scope.sql);
  } catch (err) {
    if (err instanceof ApiError) return { answer: false };
    throw err;
  }
  if (filter?.trim()) {
    if (!auth.isSuperuser && SUPERUSER_ONLY.some((name) => filter.includes(name))) return { answer: false };
    if (filter.includes('\u0000')) return { answer: false };
    try {
      const qctx: CompileContext = { ...clientQueryContext(ctx, collection, auth), costs };
      parts.push(compileFilter(parseFilter(filter), qctx));
    } catch {
      return { answer: false };
    }
  }
  if (parts.length === 0) return { answer: true };
  return { sql: sql`(${joinSql(parts, ') AND (')})`, costs };
}

/** The planner-side bound the records list applies to a filter through multi-valued relations. */
async function withinCost(ctx: RecordsContext, costs: CostGroup[]): Promise<boolean> {
  if (costs.length === 0) return true;
  try {
    await ctx.fanout.check(costs, REALTIME);
    return true;
  } catch (err) {
    if (err instanceof ApiError) return false;
    throw err;
  }
}
