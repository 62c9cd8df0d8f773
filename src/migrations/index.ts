export { bindAutomigrate, writeSnapshot } from './automigrate.ts';
export {
  checkMigrationName,
  compareFiles,
  MigrationError,
  nextTimestamp,
  writeMigrationFile,
} from './files.ts';
export {
  APP_MIGRATIONS_TABLE,
  createMigrationRunner,
  type MigrationRunner,
  type MigrationRunnerDeps,
} from './runner.ts';
export { blankMigration } from './templates.ts';
export type { AppMigration, MigrationApi, MigrationRecords, MigrationScope } from './types.ts';
