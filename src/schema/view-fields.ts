import { prefixedNumericId, randomString } from '../lib/index.ts';
import type { Collection } from './collection.ts';
import { field, idField } from './defaults.ts';
import type { FieldDef } from './fields/index.ts';
import { MAX_NAME_LENGTH, NAME_RE } from './validate-fields.ts';
import { type ParsedView, type ViewColumn, ViewQueryError } from './view-query.ts';
import { isName, isOp, isWord } from './view-tokens.ts';

/**
 * The fields of a view, inferred from its columns as PocketBase infers them: `id` is a text id; a column
 * taken from a collection keeps that field's type and options (its `id` becomes a relation to the
 * collection); `count(...)` and integer casts are whole numbers, `total(...)` and real casts numbers,
 * other casts their type; anything else is JSON. `previous` keeps field ids stable across updates.
 */
export function inferViewFields(
  parsed: ParsedView,
  findCollection: (name: string) => Collection | undefined,
  previous: FieldDef[] = [],
): FieldDef[] {
  if (!parsed.columns.some((c) => c.alias === 'id'))
    throw new ViewQueryError(
      'missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you do not have one)',
    );
  const mainTable = parsed.tables.values().next().value;
  return parsed.columns.map((column) => {
    if (!NAME_RE.test(column.alias) || column.alias.length > MAX_NAME_LENGTH)
      throw new ViewQueryError(`"${column.alias}" is not a valid field name (letters, digits and _)`);
    const inferred = inferField(column, mainTable, findCollection);
    const before = previous.find((f) => f.name === inferred.name && f.type === inferred.type);
    return before ? { ...inferred, id: before.id } : inferred;
  });
}

function inferField(
  column: ViewColumn,
  mainTable: string | undefined,
  findCollection: (name: string) => Collection | undefined,
): FieldDef {
  const name = column.alias;
  if (name === 'id') return viewIdField();
  const tokens = column.tokens;
  if (isWord(tokens[0], 'count') && isOp(tokens[1], '(')) return field('number', name, { onlyInt: true });
  if (isWord(tokens[0], 'total') && isOp(tokens[1], '(')) return field('number', name);
  const cast = castType(column);
  if (cast) return cast;
  if (!column.source) return jsonField(name);
  const { table, column: columnName } = column.source;
  const collection = findCollection(table ?? mainTable ?? '');
  const source = collection?.fields.find((f) => f.name.toLowerCase() === columnName.toLowerCase());
  if (!collection || !source) return jsonField(name);
  if (source.name === 'id')
    return field('relation', name, {
      collectionId: collection.id,
      cascadeDelete: false,
      minSelect: 0,
      maxSelect: 1,
    });
  return { ...structuredClone(source), id: `_clone_${randomString(4)}`, name };
}

/** `CAST(... AS type)` as the whole column: the type decides the field. */
function castType(column: ViewColumn): FieldDef | undefined {
  const t = column.tokens;
  if (!isWord(t[0], 'cast') || !isOp(t[1], '(') || !isOp(t[t.length - 1], ')')) return undefined;
  // The closing parenthesis of CAST must be the column's last token.
  let depth = 0;
  for (let i = 1; i < t.length - 1; i++) {
    if (isOp(t[i], '(')) depth++;
    if (isOp(t[i], ')')) depth--;
    if (depth === 0) return undefined;
  }
  const type = t[t.length - 2];
  if (!isName(type) || !isWord(t[t.length - 3], 'as')) return undefined;
  const name = column.alias;
  switch (type.value.toLowerCase()) {
    case 'real':
    case 'decimal':
    case 'numeric':
    case 'double':
    case 'float':
      return field('number', name);
    case 'int':
    case 'integer':
    case 'bigint':
    case 'signed':
      return field('number', name, { onlyInt: true });
    case 'text':
    case 'char':
    case 'varchar':
      return field('text', name);
    case 'boolean':
    case 'bool':
      return field('bool', name);
    default:
      return undefined;
  }
}

function viewIdField(): FieldDef {
  return { ...idField(), min: 0, max: 0, autogeneratePattern: '' };
}

const jsonField = (name: string): FieldDef =>
  field('json', name, { id: prefixedNumericId('json'), maxSize: 1 });
