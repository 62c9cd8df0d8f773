import type { Logger } from '../log/index.ts';
import type { CollectionStore } from '../schema/index.ts';
import { nextTimestamp, writeMigrationFile } from './files.ts';
import type { MigrationRunner } from './runner.ts';
import { changeAction, changeMigration, snapshotMigration } from './templates.ts';

/**
 * Automigrate (development): every collection change the API makes is written as a migration file that
 * reproduces it, and recorded as applied (this database already has it), so the schema can live in
 * version control and reach other databases through `migrate up`. Changes made by migrations themselves,
 * and those another node made (they arrive by reload, not as changes), write nothing.
 */
export function bindAutomigrate(deps: {
  collections: CollectionStore;
  runner: MigrationRunner;
  dir: string;
  log: Logger;
}): void {
  const { collections, runner, dir, log } = deps;
  collections.changed.bind(async (change, next) => {
    if (!runner.running) {
      // The change has committed: a file that cannot be written is logged, never a failed request.
      try {
        const file = `${nextTimestamp(dir)}_${changeAction(change)}_${(change.after ?? change.before)!.name}.ts`;
        writeMigrationFile(dir, file, changeMigration(dir, change));
        await runner.markApplied(file);
        log.info({ file }, 'automigrate wrote a migration');
      } catch (err) {
        log.error({ err }, 'automigrate could not write a migration');
      }
    }
    await next();
  });
}

/**
 * `migrate collections`: one file that imports every non-system collection as it is now, recorded as
 * applied here (this database is that state already). Answers its path.
 */
export async function writeSnapshot(deps: {
  collections: CollectionStore;
  runner: MigrationRunner;
  dir: string;
}): Promise<string> {
  const list = deps.collections.list().filter((c) => !c.system);
  const file = `${nextTimestamp(deps.dir)}_collections_snapshot.ts`;
  const path = writeMigrationFile(deps.dir, file, snapshotMigration(deps.dir, list));
  await deps.runner.markApplied(file);
  return path;
}
