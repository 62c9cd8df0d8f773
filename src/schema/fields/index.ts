import { geoPointField, jsonField } from './json.ts';
import { fileField, relationField, selectField } from './multi.ts';
import { autodateField, boolField, dateField, numberField } from './scalar.ts';
import { editorField, emailField, passwordField, textField, urlField } from './text.ts';
import type { FieldType } from './types.ts';

export type { FieldDef, FieldType, OptionsContext } from './types.ts';

/** Every field type, by its `type` name. */
export const FIELD_TYPES: ReadonlyMap<string, FieldType> = new Map(
  [
    textField,
    editorField,
    numberField,
    boolField,
    emailField,
    urlField,
    dateField,
    autodateField,
    selectField,
    fileField,
    relationField,
    jsonField,
    geoPointField,
    passwordField,
  ].map((t) => [t.type, t]),
);

export function fieldType(type: string): FieldType {
  const t = FIELD_TYPES.get(type);
  if (!t) throw new Error(`unknown field type ${type}`);
  return t;
}
