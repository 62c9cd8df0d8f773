export type { Config, ConfigInput } from './config.ts';
export { ConfigError, loadConfig } from './config.ts';
