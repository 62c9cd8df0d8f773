import { literalMaker } from '../lib/index.ts';
import { type Collection, fieldType } from '../schema/index.ts';
import type { AuthContext, RecordValues } from './types.ts';

interface Column {
  name: string;
  fromDb: (raw: unknown) => unknown;
  /** Only superusers see it. */
  hidden: boolean;
}

/**
 * How rows of one collection become values and JSON; built once per collection version so the hot path
 * does no schema lookups.
 */
export interface RecordShape {
  collection: Collection;
  columns: Column[];
  /** Database row → canonical values. */
  fromRow(row: Record<string, unknown>): RecordValues;
  /** Canonical values → the record JSON the caller may see. */
  toJson(values: RecordValues, auth: AuthContext, canSeeEmail?: boolean): Record<string, unknown>;
}

/** Never serialized, whoever asks. */
const NEVER_SENT = new Set(['password', 'tokenKey']);

export function createShape(collection: Collection): RecordShape {
  const columns: Column[] = collection.fields
    .filter((f) => f.type !== 'password')
    .map((f) => {
      const t = fieldType(f.type);
      return { name: f.name, fromDb: (raw: unknown) => t.fromDb(f, raw), hidden: f.hidden };
    });
  const passwordColumns = collection.fields.filter((f) => f.type === 'password').map((f) => f.name);
  const isAuth = collection.type === 'auth';
  // Password hashes are kept (for verification) but never reach toJson.
  const fromRow = valuesMaker(columns, passwordColumns);
  const sent = columns.filter((c) => !(isAuth && NEVER_SENT.has(c.name)));
  const forSuperuser = jsonMaker(collection, sent);
  const forOthers = jsonMaker(
    collection,
    sent.filter((c) => !c.hidden),
  );

  return {
    collection,
    columns,
    fromRow,
    toJson(values, auth, canSeeEmail) {
      const out = auth.isSuperuser ? forSuperuser(values) : forOthers(values);
      if (
        isAuth &&
        !auth.isSuperuser &&
        !canSeeEmail &&
        values.emailVisibility !== true &&
        !isOwner(collection, values, auth)
      ) {
        delete out.email;
      }
      return out;
    },
  };
}

/**
 * Row → values and values → JSON run for every record read, so each collection version gets them as
 * functions that build one object literal (`literalMaker`): storing field after field by name went through
 * V8's megamorphic property stores in a server with many collections (docs/benchmarks.md).
 */
function valuesMaker(columns: Column[], passwordColumns: string[]): RecordShape['fromRow'] {
  const make = literalMaker<(from: Column['fromDb'][], row: Record<string, unknown>) => RecordValues>(
    ['from', 'row'],
    [
      ...columns.map((c, i) => [c.name, `from[${i}](row[${JSON.stringify(c.name)}])`] as const),
      ...passwordColumns.map((name) => [name, `row[${JSON.stringify(name)}] ?? ''`] as const),
    ],
  );
  const from = columns.map((c) => c.fromDb);
  return (row) => make(from, row);
}

function jsonMaker(
  collection: Collection,
  columns: Column[],
): (values: RecordValues) => Record<string, unknown> {
  const make = literalMaker<(head: Record<string, string>, values: RecordValues) => Record<string, unknown>>(
    ['head', 'values'],
    [
      ['collectionId', 'head.collectionId'],
      ['collectionName', 'head.collectionName'],
      ...columns.map((c) => [c.name, `values[${JSON.stringify(c.name)}]`] as const),
    ],
  );
  const head = { collectionId: collection.id, collectionName: collection.name };
  return (values) => make(head, values);
}

export function isOwner(collection: Collection, values: RecordValues, auth: AuthContext): boolean {
  return auth.collection?.id === collection.id && auth.record?.id === values.id;
}
