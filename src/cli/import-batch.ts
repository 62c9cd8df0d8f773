import type { App } from '../app.ts';
import { ApiError, type ErrorData } from '../errors/index.ts';
import type { RecordOperations } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';

const SUPERUSER = { collection: null, record: null, isSuperuser: true };

/** One input record ready to write: its line, the request body (with its id set), or why it cannot be. */
export interface PendingRow {
  line: number;
  body: Record<string, unknown>;
  errors?: ErrorData;
}

/** A row the records API refused, with PocketBase's message and field errors. */
export interface RowFailure {
  line: number;
  message: string;
  data: ErrorData;
}

/** What a batch came to: the rows written (or, in a dry run, that would be) and the rows refused. */
export interface BatchResult {
  written: PendingRow[];
  failures: RowFailure[];
}

class RowFailed extends Error {
  readonly row: PendingRow;
  constructor(row: PendingRow, cause: unknown) {
    super('row failed', { cause });
    this.row = row;
  }
}

const DRY_RUN = Symbol('dry run');

/** How one row is written: a create by default, an update for the second pass of `import --all`. */
export type RowWrite = (ops: RecordOperations, collection: Collection, row: PendingRow) => Promise<unknown>;

const CREATE: RowWrite = (ops, collection, row) => ops.create(collection, row.body, SUPERUSER);

/** Writes a row's values other than `id` onto the record with that id. */
export const UPDATE: RowWrite = (ops, collection, row) => {
  const { id, ...values } = row.body;
  return ops.update(collection, String(id), values, SUPERUSER);
};

/**
 * Writes a batch through the records service's create (or `options.write`), all in one transaction (the API's validation,
 * hooks and unique checks; nothing of the batch is kept if a row fails). With `keepGoing`, a refused row is
 * noted and the batch runs again without it (a failed statement can poison a PostgreSQL transaction, so
 * the rows before it are redone too), until it goes through. A dry run rolls every attempt back.
 */
export async function writeBatch(
  app: App,
  collection: Collection,
  rows: PendingRow[],
  options: {
    dryRun: boolean;
    keepGoing: boolean;
    /** Called before each attempt with the rows it will write and how many rows were refused so far. */
    beforeAttempt?: (rows: PendingRow[], refused: number) => Promise<void>;
    write?: RowWrite;
  },
): Promise<BatchResult> {
  const failures: RowFailure[] = rows
    .filter((r) => r.errors)
    .map((r) => ({ line: r.line, message: 'Failed to create record.', data: r.errors! }));
  const { dryRun, keepGoing } = options;
  const write = options.write ?? CREATE;
  if (failures.length && !keepGoing) return { written: [], failures: failures.slice(0, 1) };
  let attempt = rows.filter((r) => !r.errors);
  while (attempt.length) {
    await options.beforeAttempt?.(attempt, failures.length);
    try {
      await app.records.transaction(async (ops) => {
        for (const row of attempt) {
          try {
            await write(ops, collection, row);
          } catch (err) {
            throw new RowFailed(row, err);
          }
        }
        if (dryRun) throw DRY_RUN;
      });
      break;
    } catch (err) {
      if (err === DRY_RUN) break;
      const refused = err instanceof RowFailed && err.cause instanceof ApiError && err.cause.status < 500;
      if (!refused) throw err instanceof RowFailed ? err.cause : err;
      const cause = err.cause as ApiError;
      failures.push({ line: err.row.line, message: cause.message, data: cause.data });
      if (!keepGoing) return { written: [], failures };
      attempt = attempt.filter((r) => r !== err.row);
    }
  }
  failures.sort((a, b) => a.line - b.line);
  return { written: attempt, failures };
}

/** A refused row as the lines the user reads: where, what, and each field's code and message. */
export function describeFailure(f: RowFailure): string {
  const details = Object.entries(f.data).map(([field, e]) => {
    const { code, message } = e as { code?: string; message?: string };
    return `\n  ${field}: ${code ? `${code}: ` : ''}${message ?? ''}`;
  });
  return `line ${f.line}: ${f.message}${details.join('')}`;
}
