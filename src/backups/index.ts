export { readManifest } from './archive-read.ts';
export type { Progress } from './archive-write.ts';
export { cronMatches } from './cron.ts';
export type { Manifest } from './manifest.ts';
export { applyPendingRestore, stageRestore, type VerifyTarget, verifyArchive } from './restore.ts';
export { AUTO_PREFIX, runScheduled, startBackupSchedule } from './schedule.ts';
export {
  applyPendingServerRestore,
  RESTORED_TOPIC,
  stageServerRestore,
  swapFailure,
} from './server-restore.ts';
export { parseServerUrl } from './server-tools.ts';
export { BackupBusyError, type BackupService, createBackupService } from './service.ts';
export { type BackupInfo, STORED_KEY } from './store.ts';
export { ArchiveError } from './zip-read.ts';
