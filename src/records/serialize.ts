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
  const head = { collectionId: collection.id, collectionName: collection.name };

  return {
    collection,
    columns,
    fromRow(row) {
      const values: RecordValues = {};
      for (const c of columns) values[c.name] = c.fromDb(row[c.name]);
      // Password hashes are kept (for verification) but never reach toJson.
      for (const name of passwordColumns) values[name] = row[name] ?? '';
      return values;
    },
    toJson(values, auth, canSeeEmail) {
      const out: Record<string, unknown> = { ...head };
      for (const c of columns) {
        if (NEVER_SENT.has(c.name) && isAuth) continue;
        if (c.hidden && !auth.isSuperuser) continue;
        out[c.name] = values[c.name];
      }
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

export function isOwner(collection: Collection, values: RecordValues, auth: AuthContext): boolean {
  return auth.collection?.id === collection.id && auth.record?.id === values.id;
}
