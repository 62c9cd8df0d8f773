export { readManifest } from './archive-read.ts';
export type { Progress } from './archive-write.ts';
export { cronMatches } from './cron.ts';
export type { Manifest } from './manifest.ts';
export { applyPendingRestore, stageRestore, type VerifyTarget, verifyArchive } from './restore.ts';
export { AUTO_PREFIX, runScheduled, startBackupSchedule } from './schedule.ts';
export { restoreServer } from './server-restore.ts';
export { parseServerUrl } from './server-tools.ts';
export {
  BackupBusyError,
  type BackupInfo,
  type BackupService,
  createBackupService,
  STORED_KEY,
} from './service.ts';
export { ArchiveError } from './zip-read.ts';
