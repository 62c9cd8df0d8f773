import { sql } from 'kysely';
import type { AnyTrx, Database } from '../db/index.ts';
import { nowString } from '../lib/index.ts';
import type { SyncLog, UndoStatement } from './sync.ts';

/**
 * The undo journal of a schema change on MySQL/MariaDB, where every DDL statement commits the
 * transaction it runs in: a crash in the middle of a change would otherwise leave the collection's
 * definition and its table disagreeing. Before each step, the change's undo so far is written to
 * `_schemaJournal` (committed by the step's DDL, or on its own once an earlier DDL statement has ended
 * the transaction); once the change has finished
 * (or been undone) the entry is removed. At start, an entry left behind is replayed: the steps that ran
 * are reversed, newest first (or, if the crash came after every step, the change's cleanup is finished).
 */

/** A table of its own (created on MySQL/MariaDB only): a journal holds whole collection definitions. */
export const SCHEMA_JOURNAL_TABLE = '_schemaJournal';
const JOURNAL_ID = 'current';

interface Journal {
  phase: 'undo' | 'cleanup';
  undo: UndoStatement[][];
  cleanup: string[];
  written: string;
}

/**
 * Writes the journal in the change's transaction, in one statement: once the change's first DDL statement
 * has committed, each later statement commits on its own, so a delete then an insert would leave a moment
 * with no journal at all for a crash to fall into.
 */
export async function writeJournal(db: Database, trx: AnyTrx, log: SyncLog, phase: Journal['phase']) {
  const q = db.dialect.quote;
  const journal: Journal = { phase, undo: log.undo, cleanup: log.cleanup, written: nowString() };
  // REPLACE: MySQL's and MariaDB's atomic upsert (the journal is kept on those engines only).
  await db.run(trx, `REPLACE INTO ${q(SCHEMA_JOURNAL_TABLE)} (${q('id')}, ${q('value')}) VALUES (?, ?)`, [
    JOURNAL_ID,
    JSON.stringify(journal),
  ]);
}

/**
 * Removes the journal. `commitNow`: on the failure path the transaction is about to roll back, which would
 * bring the entry back although its undo has run: it is committed at once (the DDL committed all else).
 */
export async function clearJournal(db: Database, trx: AnyTrx, commitNow = false): Promise<void> {
  const q = db.dialect.quote;
  await db.run(trx, `DELETE FROM ${q(SCHEMA_JOURNAL_TABLE)} WHERE ${q('id')} = ?`, [JOURNAL_ID]);
  if (commitNow) await sql.raw('COMMIT').execute(trx);
}

export interface Recovery {
  /** `undone`: a change cut short was reversed; `finished`: one that had run all its steps was completed. */
  outcome: 'none' | 'undone' | 'finished';
  /** Statements that failed (a step the crash came before has nothing to reverse). */
  failed: number;
}

/**
 * Replays a journal a crash left behind, holding the schema lock: a node that is still making the change
 * holds it too, so its journal is never mistaken for a crash. Answers what it did, for the log.
 */
export async function recoverSchemaChange(db: Database): Promise<Recovery> {
  if (db.dialect.transactionalDdl) return { outcome: 'none', failed: 0 };
  const q = db.dialect.quote;
  return db.transaction(
    async (trx) => {
      const [row] = await db.run<{ value: string }>(
        trx,
        `SELECT ${q('value')} FROM ${q(SCHEMA_JOURNAL_TABLE)} WHERE ${q('id')} = ?`,
        [JOURNAL_ID],
      );
      if (!row) return { outcome: 'none', failed: 0 } satisfies Recovery;
      const journal = JSON.parse(row.value) as Journal;
      let failed = 0;
      const attempt = async (statement: UndoStatement) => {
        try {
          await db.run(trx, statement.sql, statement.params);
        } catch {
          failed++;
        }
      };
      if (journal.phase === 'cleanup') {
        for (const text of journal.cleanup) await attempt({ sql: text, params: [] });
      } else {
        for (const step of [...journal.undo].reverse())
          for (const statement of step) await attempt(statement);
      }
      await clearJournal(db, trx);
      return { outcome: journal.phase === 'cleanup' ? 'finished' : 'undone', failed } satisfies Recovery;
    },
    { schemaLock: true },
  );
}
