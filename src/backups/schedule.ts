import type { Database } from '../db/index.ts';
import { type JobStats, nowString, trackJob } from '../lib/index.ts';
import type { Logger } from '../log/index.ts';
import { cronMatches } from './cron.ts';
import type { BackupService } from './service.ts';

/** Scheduled backups are named so that retention only ever removes its own. */
export const AUTO_PREFIX = 'auto_plinth_backup_';
const CLAIM_ID = 'backupSchedule';

/** What the schedule needs: the database for the claim, the service, the settings now. */
export interface ScheduleDeps {
  db: Database;
  backups: BackupService;
  /** The `backups` settings now (they change without a restart). */
  settings: () => { cron: string; cronMaxKeep: number };
  log: Logger;
  /** Where runs are counted for /metrics (`scheduled_backup`): a failure is otherwise only a log line. */
  jobs?: JobStats;
  /** Told of a scheduled backup that failed (the app mails the superusers, as PocketBase does). */
  onFailure?: (key: string, err: Error) => Promise<void>;
}

/**
 * Checks once a minute whether `backups.cron` names this minute; if so, and if this node wins the claim
 * for it, makes `auto_plinth_backup_<time>.zip` and then keeps the newest `cronMaxKeep` scheduled backups.
 * Answers a function that stops it.
 */
export function startBackupSchedule(deps: ScheduleDeps): () => void {
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    const now = new Date();
    // The next check at the start of the next minute, whatever this one took.
    timer = setTimeout(tick, 60_000 - (now.getTime() % 60_000) + 50);
    timer.unref();
    const { cron } = deps.settings();
    if (!cron || !cronMatches(cron, now)) return;
    runScheduled(deps, now).catch((err) => deps.log.error({ err }, 'scheduled backup failed'));
  };
  timer = setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
  timer.unref();
  return () => clearTimeout(timer);
}

/** One scheduled run for the minute of `now`: claim, back up, prune. Exported for tests. */
export async function runScheduled(deps: ScheduleDeps, now: Date): Promise<string | undefined> {
  const slot = now.toISOString().slice(0, 16);
  if (deps.backups.busy() || !(await claim(deps.db, slot))) return undefined;
  const key = `${AUTO_PREFIX}${slot.replace(/[-:T]/g, '')}.zip`;
  // Counted only on the node that won the claim: each scheduled backup is one run, wherever it ran.
  try {
    return await trackJob(deps.jobs, 'scheduled_backup', async () => {
      await deps.backups.create(key);
      const keep = Math.max(1, deps.settings().cronMaxKeep);
      const scheduled = (await deps.backups.list()).filter((b) => b.key.startsWith(AUTO_PREFIX));
      scheduled.sort((a, b) => (a.key < b.key ? 1 : -1));
      for (const old of scheduled.slice(keep)) await deps.backups.remove(old.key);
      return key;
    });
  } catch (err) {
    await deps.onFailure?.(key, err as Error);
    throw err;
  }
}

/**
 * With several nodes on one database, exactly one runs each scheduled backup: the node that moves the
 * claim row in `_params` forward to this minute, under a row lock (a node that finds it already there,
 * or loses the race to create it, leaves the backup to the winner).
 */
async function claim(db: Database, slot: string): Promise<boolean> {
  const q = db.dialect.quote;
  try {
    return await db.transaction(async (trx) => {
      const rows = await db.run<{ value: string }>(
        trx,
        `SELECT ${q('value')} FROM ${q('_params')} WHERE ${q('id')} = ?${db.dialect.lockingSelectSuffix('update')}`,
        [CLAIM_ID],
      );
      const value = JSON.stringify(slot);
      if (!rows.length) {
        await db.run(
          trx,
          `INSERT INTO ${q('_params')} (${q('id')}, ${q('value')}, ${q('created')}, ${q('updated')}) VALUES (?, ?, ?, ?)`,
          [CLAIM_ID, value, nowString(), nowString()],
        );
        return true;
      }
      if (rows[0]!.value >= value) return false;
      await db.run(
        trx,
        `UPDATE ${q('_params')} SET ${q('value')} = ?, ${q('updated')} = ? WHERE ${q('id')} = ?`,
        [value, nowString(), CLAIM_ID],
      );
      return true;
    });
  } catch {
    // Another node created the row first (a unique violation): it won this minute.
    return false;
  }
}
