import { joinedTransaction } from '../db/index.ts';
import { Hook } from '../hooks/index.ts';
import type { RecordsContext } from './context.ts';
import type { RecordHooks } from './hooks.ts';

type Deferred = () => Promise<void>;

/**
 * An `after*` hook whose triggers wait until the transaction has committed: within a batch, "after the
 * write" must mean after all of it, or a later failure would leave effects (mails, revoked sessions) of
 * writes that were undone.
 */
class DeferredHook<E> extends Hook<E> {
  readonly #real: Hook<E>;
  readonly #queue: Deferred[];
  constructor(real: Hook<E>, queue: Deferred[]) {
    super();
    this.#real = real;
    this.#queue = queue;
  }
  override get size(): number {
    return this.#real.size;
  }
  override trigger(event: E, action?: (event: E) => Promise<void> | void): Promise<void> {
    this.#queue.push(() => this.#real.trigger(event, action));
    return Promise.resolve();
  }
}

/**
 * Runs `work` with a records context in which every read and write goes to one transaction (so each use
 * case run through it sees the writes before it), and commits once `work` resolves; if it throws, nothing
 * is kept (uploads stored for its writes are removed again). The `after*` hooks of all the writes run once
 * the transaction has committed.
 */
export async function inOneTransaction<T>(
  ctx: RecordsContext,
  work: (tx: RecordsContext) => Promise<T>,
): Promise<T> {
  let after: Deferred[] = [];
  const undo: Deferred[] = [];
  let result: T;
  try {
    result = await ctx.db.transaction(async (trx) => {
      // The engine may ask for a retry (a serialization failure): the work starts over, and so do its lists;
      // what an attempt put in storage goes first.
      after = [];
      for (const run of undo.splice(0)) await run();
      const hooks: RecordHooks = {
        ...ctx.hooks,
        afterCreate: new DeferredHook(ctx.hooks.afterCreate, after),
        afterUpdate: new DeferredHook(ctx.hooks.afterUpdate, after),
        afterDelete: new DeferredHook(ctx.hooks.afterDelete, after),
      };
      return work({ ...ctx, db: joinedTransaction(ctx.db, trx), hooks, onRollback: undo });
    });
  } catch (err) {
    for (const run of undo) await run();
    throw err;
  }
  for (const run of after) await run();
  return result;
}
