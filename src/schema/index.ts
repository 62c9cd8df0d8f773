export {
  AUTH_ORIGINS_NAME,
  EXTERNAL_AUTHS_NAME,
  MFAS_NAME,
  OTPS_NAME,
  SESSIONS_NAME,
} from './auth-collections.ts';
export type { Collection, CollectionType, RuleName } from './collection.ts';
export { AUTH_RULE_NAMES, collectionToJson, fieldToJson, findField, RULE_NAMES } from './collection.ts';
export { TOKEN_OPTION_KEYS, tokenSecret } from './collection-secrets.ts';
export { AUTH_SYSTEM_FIELD_NAMES, field, SUPERUSERS_ID, USERS_ID } from './defaults.ts';
export { NAME_RE } from './field-settings.ts';
export type { FieldDef, FieldType } from './fields/index.ts';
export { FIELD_TYPES, fieldType } from './fields/index.ts';
export type { ImportPlan, PlannedCollection } from './import-plan.ts';
export { identityIndex, indexColumns } from './indexes.ts';
export { insertParam, readParam, readParamText, swapParam, writeParam } from './params.ts';
export type { RateLimitRule, RateLimits } from './rate-limits.ts';
export { findRateLimitRule } from './rate-limits.ts';
export { blankCollection, collectionScaffolds } from './scaffolds.ts';
export { type Recovery, recoverSchemaChange } from './schema-journal.ts';
export type { Settings, SettingsStore } from './settings.ts';
export { createSettingsStore, defaultSettings } from './settings.ts';
export type { CollectionChange, CollectionStore } from './store.ts';
export { createCollectionStore } from './store.ts';
export { checkForeignTables, ForeignTablesError, SYSTEM_MIGRATIONS, TABLE_MIGRATIONS } from './system.ts';
export { MAX_VIEW_QUERY_LENGTH, ViewQueryError } from './view-query.ts';
