import type { ColumnKind, SqlDialect } from '../db/index.ts';
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
import { type Collection, fieldType, type RuleName } from '../schema/index.ts';
import { ruleOf } from './access.ts';
import type { RecordsContext } from './context.ts';
import { decideInMemory } from './memory-rule.ts';
import { clientQueryContext, ruleScope } from './rules.ts';
import type { AuthContext, RecordValues } from './types.ts';
import { paramsFor, zeroValues } from './write-support.ts';

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
 * Answers many checks about one record, given as its values (an event's version of it), with as few
 * statements as possible: checks that need no database (superusers, `""` and `null` rules, rules and
 * filters that compare only the record's own text fields with the caller's id and constants:
 * memory-rule.ts) are answered at once, and the rest become the columns of one statement (up to 64 each) over a one-row
 * table built from the values. The rules read that row under the collection's own name, so they see this
 * version of the record even if it has changed or gone since, while what they reach through relations and
 * `@collection` is read from the database as it is now. A check whose rule cannot be evaluated, or whose
 * filter is bad or too costly, is false: the caller is an event, nobody to answer 400.
 */
export async function checkVisibility(
  ctx: RecordsContext,
  collection: Collection,
  values: RecordValues,
  checks: readonly VisibilityCheck[],
): Promise<boolean[]> {
  const answers = new Array<boolean>(checks.length).fill(false);
  const pending: { index: number; sql: Sql }[] = [];
  for (const [index, check] of checks.entries()) {
    const condition = conditionOf(ctx, collection, check, values);
    if ('answer' in condition) answers[index] = condition.answer;
    else if (await withinCost(ctx, condition.costs)) pending.push({ index, sql: condition.sql });
  }
  if (pending.length === 0) return answers;
  const row = rowOf(ctx.db.dialect, collection, values);
  for (let start = 0; start < pending.length; start += COLUMNS_PER_QUERY) {
    const part = pending.slice(start, start + COLUMNS_PER_QUERY);
    try {
      await answerTogether(ctx, row, part, answers);
    } catch (err) {
      if (!(err instanceof ApiError) || part.length === 1) throw err;
      // One subscriber's filter ran too long: answer the others one by one, so it costs only its own events.
      for (const one of part) await answerTogether(ctx, row, [one], answers).catch(() => {});
    }
  }
  return answers;
}

async function answerTogether(
  ctx: RecordsContext,
  row: Sql,
  part: readonly { index: number; sql: Sql }[],
  answers: boolean[],
): Promise<void> {
  const q = ctx.db.dialect.quote;
  const columns = part.map((p, i) => sql`CASE WHEN ${p.sql} THEN 1 ELSE 0 END AS ${raw(q(`c${i}`))}`);
  const statement = sql`SELECT ${joinSql(columns, ', ')} FROM ${row}`;
  const [result] = await ctx.db.query<Record<string, unknown>>(statement.text, statement.params, REALTIME);
  if (!result) return;
  for (const [i, p] of part.entries())
    answers[p.index] = Number(result[`c${i}`]) === 1 || result[`c${i}`] === true;
}

/**
 * `(SELECT CAST(? AS <type>) AS "field", ...) AS "<collection>"`: the record as one row typed like the
 * table's columns, so comparisons on it follow the same affinities, collations and types as on the table.
 */
function rowOf(dialect: SqlDialect, collection: Collection, values: RecordValues): Sql {
  const names = collection.fields.map((f) => f.name);
  const params = paramsFor(collection, names, { ...zeroValues(collection), ...values });
  const columns = collection.fields.map((f, i) => {
    const kind: ColumnKind = f.name === 'id' ? 'id' : fieldType(f.type).column(f);
    return sql`${castParam(dialect, kind, param(params[i]))} AS ${raw(dialect.quote(f.name))}`;
  });
  return sql`(SELECT ${joinSql(columns, ', ')}) AS ${raw(dialect.quote(collection.name))}`;
}

function castParam(dialect: SqlDialect, kind: ColumnKind, value: Sql): Sql {
  const engine = dialect.name;
  const cast = (type: string) => sql`CAST(${value} AS ${raw(type)})`;
  if (kind === 'id' || kind === 'text')
    return { text: dialect.castTextSql(value.text), params: value.params };
  if (engine === 'postgres') {
    if (kind === 'number') return cast('DOUBLE PRECISION');
    if (kind === 'bool') return cast('BOOLEAN');
    return cast('JSONB');
  }
  if (engine === 'mysql') {
    if (kind === 'number') return cast('DOUBLE');
    if (kind === 'bool') return cast('SIGNED');
    return { text: dialect.castTextSql(value.text), params: value.params };
  }
  // SQLite: NUMERIC is the affinity of the table's number and bool columns; JSON is read through functions.
  if (kind === 'number' || kind === 'bool') return cast('NUMERIC');
  return cast('TEXT');
}

function conditionOf(
  ctx: RecordsContext,
  collection: Collection,
  check: VisibilityCheck,
  values: RecordValues,
): Condition {
  const { auth, rule, filter } = check;
  const text = ruleOf(collection, rule);
  if (!auth.isSuperuser && text === null) return { answer: false };
  const parts: Sql[] = [];
  const costs: CostGroup[] = [];
  if (!auth.isSuperuser && text?.trim()) {
    const decided = decideInMemory(text, collection, values, auth, false);
    if (decided === false) return { answer: false };
    if (decided === undefined) {
      try {
        const scope = ruleScope(ctx, collection, rule, auth);
        if (scope.kind === 'where') parts.push(scope.sql);
      } catch (err) {
        if (err instanceof ApiError) return { answer: false };
        throw err;
      }
    }
  }
  if (filter?.trim()) {
    if (!auth.isSuperuser && SUPERUSER_ONLY.some((name) => filter.includes(name))) return { answer: false };
    if (filter.includes('\u0000')) return { answer: false };
    const decided = decideInMemory(filter, collection, values, auth, true);
    if (decided === false) return { answer: false };
    if (decided === undefined) {
      try {
        const qctx: CompileContext = { ...clientQueryContext(ctx, collection, auth), costs };
        parts.push(compileFilter(parseFilter(filter), qctx));
      } catch {
        return { answer: false };
      }
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
