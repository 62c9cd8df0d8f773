import type { SqlDialect } from '../db/index.ts';
import { badRequest } from '../errors/index.ts';
import { AUTH_RULE_NAMES, type Collection, fieldToJson, RULE_NAMES } from './collection.ts';
import { type FieldDef, fieldType } from './fields/index.ts';
import type { CollectionChange } from './store.ts';

/** One collection an import would create, change or delete, as a preview shows it. */
export interface PlannedCollection {
  action: 'create' | 'update' | 'delete';
  id: string;
  name: string;
  type: string;
  /** Its name before the import, when the import renames it (matched by id). */
  renamedFrom?: string;
  /** Records it holds now (delete only; views hold none). */
  records?: number;
  fields?: {
    added: string[];
    /** Dropped fields, with the number of records holding a non-empty value in each. */
    removed: { name: string; values: number }[];
    /** Matched by id. */
    renamed: { from: string; to: string }[];
    /** Same id and name, other options. */
    changed: string[];
    /** Lists turned into single values (maxSelect down to 1): records holding more than one keep their last. */
    narrowed: { name: string; records: number }[];
  };
  indexes?: { added: string[]; removed: string[] };
  rules?: string[];
  /** Options that change (auth settings, a view's query). */
  options?: string[];
}

/** What an import would do: every change, and in plain words each one that destroys stored data. */
export interface ImportPlan {
  collections: PlannedCollection[];
  destructive: string[];
}

/**
 * Describes validated import changes and counts the data each destructive step would lose. The counts
 * read every row of the tables concerned: a preview runs them as data-dependent reads (off the event
 * loop, under the statement time limit), a guarded import in its own transaction.
 */
export async function describeImport(
  changes: CollectionChange[],
  read: (sql: string) => Promise<unknown[]>,
  dialect: SqlDialect,
): Promise<ImportPlan> {
  const db: Counter = { read, dialect };
  const collections: PlannedCollection[] = [];
  const destructive: string[] = [];
  for (const { before, after } of changes) {
    if (after && !before) collections.push({ action: 'create', ...identity(after) });
    else if (before && !after) {
      const records = before.type === 'view' ? 0 : await countRows(db, before.name);
      collections.push({ action: 'delete', ...identity(before), records });
      if (records > 0)
        destructive.push(`deletes the collection "${before.name}" and its ${records} record(s)`);
    } else if (before && after) {
      const planned = await describeUpdate(db, before, after, destructive);
      if (planned) collections.push(planned);
    }
  }
  return { collections, destructive };
}

/** The import refused: what it would destroy, and how to go ahead. */
export function destructiveImport(plan: ImportPlan) {
  return badRequest('Failed to import collections.', {
    collections: {
      code: 'validation_destructive_import',
      message: `The import would destroy data: it ${plan.destructive.join('; it ')}. Send allowDestructive: true to apply it anyway.`,
    },
  });
}

/** Where the counts run: a read in the change's transaction, or a data-dependent read outside one. */
interface Counter {
  read: (sql: string) => Promise<unknown[]>;
  dialect: SqlDialect;
}

const identity = (c: Collection) => ({ id: c.id, name: c.name, type: c.type });

async function describeUpdate(
  db: Counter,
  before: Collection,
  after: Collection,
  destructive: string[],
): Promise<PlannedCollection | undefined> {
  const beforeById = new Map(before.fields.map((f) => [f.id, f]));
  const afterIds = new Set(after.fields.map((f) => f.id));
  const stored = before.type !== 'view';
  const fields: NonNullable<PlannedCollection['fields']> = {
    added: after.fields.filter((f) => !beforeById.has(f.id)).map((f) => f.name),
    removed: [],
    renamed: [],
    changed: [],
    narrowed: [],
  };
  for (const f of before.fields) {
    if (afterIds.has(f.id)) continue;
    const values = stored ? await countValues(db, before.name, f.name) : 0;
    fields.removed.push({ name: f.name, values });
    if (values > 0)
      destructive.push(`drops the field "${before.name}.${f.name}" (${values} record(s) hold a value)`);
  }
  for (const f of after.fields) {
    const old = beforeById.get(f.id);
    if (!old) continue;
    if (old.name !== f.name) fields.renamed.push({ from: old.name, to: f.name });
    else if (JSON.stringify(fieldToJson(old)) !== JSON.stringify(fieldToJson(f))) fields.changed.push(f.name);
    if (stored && isList(old) && !isList(f)) {
      const records = await countLists(db, before.name, old.name);
      fields.narrowed.push({ name: f.name, records });
      if (records > 0)
        destructive.push(
          `keeps one value of "${before.name}.${old.name}" where ${records} record(s) hold more than one`,
        );
    }
  }
  const indexes = {
    added: after.indexes.filter((i) => !before.indexes.includes(i)),
    removed: before.indexes.filter((i) => !after.indexes.includes(i)),
  };
  const rules = [...RULE_NAMES, ...AUTH_RULE_NAMES].filter(
    (r) => JSON.stringify(ruleOf(before, r)) !== JSON.stringify(ruleOf(after, r)),
  );
  const options = changedKeys(before.options, after.options);
  const fieldsChanged = Object.values(fields).some((list) => list.length > 0);
  const changed =
    fieldsChanged || indexes.added.length || indexes.removed.length || rules.length || options.length;
  if (!changed && before.name === after.name) return undefined;
  return {
    action: 'update',
    ...identity(after),
    ...(before.name !== after.name ? { renamedFrom: before.name } : {}),
    fields,
    indexes,
    rules,
    options,
  };
}

/** The option keys whose values differ (rules are reported apart). */
function changedKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter(
    (k) =>
      !(AUTH_RULE_NAMES as readonly string[]).includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
}

const ruleOf = (c: Collection, name: string) =>
  (c as unknown as Record<string, unknown>)[name] ?? c.options[name] ?? null;

/** A field stored as a list (multiple select, relation or file values). */
const isList = (f: FieldDef) => fieldType(f.type).column(f) === 'jsonArray';

async function countRows(db: Counter, table: string): Promise<number> {
  return count(db, `SELECT COUNT(*) AS n FROM ${db.dialect.quote(table)}`);
}

/** Records whose value is not the field's zero value ('', 0, false, an empty list or object, null). */
async function countValues(db: Counter, table: string, column: string): Promise<number> {
  const q = db.dialect.quote;
  const text = db.dialect.castTextSql(q(column));
  return count(
    db,
    `SELECT COUNT(*) AS n FROM ${q(table)} WHERE COALESCE(${text}, '') NOT IN ('', '0', 'false', '[]', '{}', 'null')`,
  );
}

async function countLists(db: Counter, table: string, column: string): Promise<number> {
  const q = db.dialect.quote;
  return count(
    db,
    `SELECT COUNT(*) AS n FROM ${q(table)} WHERE ${db.dialect.jsonArrayLengthSql(column)} > 1`,
  );
}

async function count(db: Counter, text: string): Promise<number> {
  const [row] = (await db.read(text)) as { n: unknown }[];
  return Number(row?.n ?? 0);
}
