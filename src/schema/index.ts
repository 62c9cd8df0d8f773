export type { Collection, CollectionType, RuleName } from './collection.ts';
export { AUTH_RULE_NAMES, collectionToJson, findField, RULE_NAMES } from './collection.ts';
export { AUTH_SYSTEM_FIELD_NAMES, SUPERUSERS_ID, USERS_ID } from './defaults.ts';
export type { FieldDef, FieldType } from './fields/index.ts';
export { FIELD_TYPES, fieldType } from './fields/index.ts';
export { indexColumns } from './indexes.ts';
export type { CollectionChange, CollectionStore } from './store.ts';
export { createCollectionStore } from './store.ts';
export { checkForeignTables, ForeignTablesError, SYSTEM_MIGRATIONS } from './system.ts';
