export type { AdmissionConfig } from './admission.ts';
export type { Config, ConfigInput } from './config.ts';
export { ConfigError, loadConfig } from './config.ts';
export { KEY_FILE, prepareDataDir, sqliteFile } from './data-dir.ts';
export { type EncryptionKeys, loadEncryptionKeys } from './encryption-key.ts';
export type { MetricsConfig } from './metrics.ts';
export type { MigrationsConfig } from './migrations.ts';
export type { RealtimeConfig } from './realtime.ts';
