import type { ColumnKind } from '../../db/index.ts';
import type { ErrorData, FieldError } from '../../errors/index.ts';

/** A field as stored in a collection definition: common options plus type-specific ones. */
export interface FieldDef {
  id: string;
  name: string;
  type: string;
  system: boolean;
  hidden: boolean;
  presentable: boolean;
  required: boolean;
  [option: string]: unknown;
}

/** What the options checker may look up: other collections, for relation targets. */
export interface OptionsContext {
  collectionExists(idOrName: string): boolean;
}

/**
 * Everything one field type knows: its options, its column, and how values move between the client,
 * the canonical JS form and the database. Canonical forms: string, number, boolean, string[],
 * parsed JSON, or `{lon, lat}`.
 */
export interface FieldType {
  readonly type: string;
  /** Type-specific options with their defaults, in the order PocketBase serializes them. */
  defaults(): Record<string, unknown>;
  /** Option errors keyed by option name (empty when valid). */
  checkOptions(field: FieldDef, ctx: OptionsContext): ErrorData;
  column(field: FieldDef): ColumnKind;
  /** The value an empty record holds. */
  zero(field: FieldDef): unknown;
  /** Turns a client value into the canonical form, or a field error when it cannot be one. */
  normalize(field: FieldDef, value: unknown): { value: unknown } | { error: FieldError };
  /** Checks a canonical value against the field's constraints (required, min, max...). */
  validate(field: FieldDef, value: unknown): FieldError | undefined;
  /** Canonical value → SQL parameter. */
  toDb(field: FieldDef, value: unknown): unknown;
  /** Database value → canonical value (also what the API returns). */
  fromDb(field: FieldDef, raw: unknown): unknown;
  /** True when the field holds a list (multi select/relation/file). */
  isMulti(field: FieldDef): boolean;
}

/** The error for a client value holding U+0000 (no engine-dependent outcome: PostgreSQL cannot store it). */
export const hasNul = (): FieldError => ({
  code: 'validation_invalid_value',
  message: 'Must not contain the NUL character (U+0000).',
});

export const blank = (): FieldError => ({ code: 'validation_required', message: 'Cannot be blank.' });
export const invalid = (message = 'Invalid value.'): FieldError => ({
  code: 'validation_invalid_value',
  message,
});
