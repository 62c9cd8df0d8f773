import type { Executor } from '../db/index.ts';
import { type ErrorData, fieldError } from '../errors/index.ts';
import type { Collection } from '../schema/index.ts';
import type { RecordsContext } from './context.ts';

/**
 * A record id is unique only within its collection, yet rules compare `@request.auth.id` with plain
 * relation values (`owner = @request.auth.id`). So a new auth record may not take an id that another auth
 * collection already uses, or an account there could pass for someone else (PocketBase refuses it too).
 * Runs inside the create transaction; concurrent creates of the same id in two auth collections could both
 * pass on a server engine, but that needs both accounts to be new, which grants the attacker nothing.
 */
export async function checkAuthIdUnique(
  ctx: RecordsContext,
  executor: Executor,
  collection: Collection,
  id: unknown,
  errors: ErrorData,
): Promise<void> {
  if (typeof id !== 'string' || errors.id) return;
  const q = ctx.db.dialect.quote;
  for (const other of ctx.collections.list()) {
    if (other.type !== 'auth' || other.id === collection.id) continue;
    const rows = await ctx.db.run(
      executor,
      `SELECT 1 AS ${q('found')} FROM ${q(other.name)} WHERE ${q('id')} = ?`,
      [id],
    );
    if (rows.length > 0) {
      errors.id = fieldError('validation_invalid_auth_id', 'Invalid or duplicated auth record id.');
      return;
    }
  }
}
