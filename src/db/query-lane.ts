import { ApiError } from '../errors/index.ts';
import type { SqlDialect } from './dialect.ts';
import type { Gate, Ticket } from './gate.ts';

/** Who runs a query (for the lane's fairness) and whether they are still waiting for it. */
export type QueryOptions = Ticket;

/** A query whose cost outgrew the time limit: the client's request was too expensive (400). */
export function tooExpensive(timeoutMs: number): ApiError {
  return new ApiError(
    400,
    `The query took longer than ${timeoutMs / 1000} s to run; make the filter or sort simpler or more selective.`,
  );
}

/** One statement of a batch: SQL with `?` placeholders and its parameters. */
export interface Statement {
  sql: string;
  params: readonly unknown[];
}

/**
 * `Database.query` and `Database.queryBatch`. Data-dependent reads enter the gate (a fair share of the lane
 * per caller), run, and leave; one that runs past the statement time limit becomes the client's 400.
 * `executeBatch` runs a batch as one unit where the engine can (SQLite: one message to a reader, one
 * snapshot); otherwise its statements go side by side, each with its own turn in the lane.
 */
export function queryLane(deps: {
  gate: Gate;
  dialect: SqlDialect;
  timeoutMs: number;
  execute: (sql: string, params: readonly unknown[]) => Promise<unknown[]>;
  executeBatch?: (statements: readonly Statement[]) => Promise<unknown[][]>;
}) {
  async function inLane<T>(options: QueryOptions, run: () => Promise<T>): Promise<T> {
    const release = await deps.gate.enter(options);
    try {
      return await run();
    } catch (err) {
      if (deps.dialect.translateError(err)?.kind === 'timeout') throw tooExpensive(deps.timeoutMs);
      throw err;
    } finally {
      release();
    }
  }
  const query = <R>(sql: string, params: readonly unknown[], options: QueryOptions = {}) =>
    inLane(options, () => deps.execute(sql, params) as Promise<R[]>);
  const queryBatch = (statements: readonly Statement[], options: QueryOptions = {}) => {
    const batch = deps.executeBatch;
    if (batch) return inLane(options, () => batch(statements));
    return Promise.all(statements.map((s) => query<unknown>(s.sql, s.params, options)));
  };
  return { query, queryBatch };
}
