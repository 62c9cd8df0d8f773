import type { Database, QueryOptions } from '../db/index.ts';
import { badRequest } from '../errors/index.ts';
import {
  type CostGroup,
  MAX_ROWS_PER_RECORD,
  overBound,
  queryDialect,
  type StatKey,
  statId,
} from '../query/index.ts';
import { type CollectionStore, fieldType, findField } from '../schema/index.ts';

/** How long a statistic is trusted before it is read again. */
const TTL_MS = 60_000;
/** Statistics kept at most (one per list step clients filter through). */
const MAX_ENTRIES = 1000;

/** The planner-side bound (query/cost.ts) with the statistics it needs, read from the data and cached. */
export interface FanoutStats {
  /** Throws a 400 when the groups of a client's filter could multiply past the bound on this data. */
  check(groups: CostGroup[], ticket?: QueryOptions): Promise<void>;
}

export function createFanoutStats(db: Database, collections: CollectionStore): FanoutStats {
  const cache = new Map<string, { value: number | undefined; at: number }>();
  const inFlight = new Map<string, Promise<number | undefined>>();
  const q = db.dialect.quote;

  /** One statistic's SQL: a COUNT or MAX over the collection's table, in the query lane. */
  function statSql(key: Exclude<StatKey, { kind: 'fixed' }>): string | undefined {
    const collection = collections.find(key.collection);
    if (!collection) return undefined;
    const table = q(collection.name);
    if (key.kind === 'rows') return `SELECT COUNT(*) AS n FROM ${table}`;
    const field = findField(collection, key.field);
    if (!field) return undefined;
    const column = `${table}.${q(field.name)}`;
    const d = queryDialect(db.dialect);
    const multi = fieldType(field.type).isMulti(field);
    if (key.kind === 'items')
      return multi
        ? `SELECT MAX(${d.arrayLength({ text: column, params: [] }).text}) AS n FROM ${table}`
        : undefined;
    if (!multi)
      return `SELECT MAX(c) AS n FROM (SELECT COUNT(*) AS c FROM ${table} WHERE ${column} <> '' GROUP BY ${column}) x`;
    const items = d.items({ text: column, params: [] }, '_i');
    return `SELECT MAX(c) AS n FROM (SELECT COUNT(*) AS c FROM ${table}, ${items.from.text} GROUP BY ${items.value.text}) x`;
  }

  async function read(key: StatKey, ticket?: QueryOptions): Promise<number | undefined> {
    if (key.kind === 'fixed') return key.n;
    const id = statId(key);
    const hit = cache.get(id);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    let pending = inFlight.get(id);
    if (!pending) {
      const text = statSql(key);
      pending = (text ? db.query<{ n: unknown }>(text, [], ticket) : Promise.resolve([]))
        .then((rows) => (rows[0]?.n === null || rows[0]?.n === undefined ? 0 : Number(rows[0].n)))
        // A statistic that cannot be read (too slow on huge data, busy) stays unknown: the time limit holds.
        .catch(() => undefined)
        .then((value) => {
          if (cache.size >= MAX_ENTRIES) cache.clear();
          cache.set(id, { value, at: Date.now() });
          return value;
        })
        .finally(() => inFlight.delete(id));
      inFlight.set(id, pending);
    }
    return pending;
  }

  return {
    async check(groups, ticket) {
      const keys = groups.filter((g) => g.length >= 2).flat();
      if (keys.length === 0) return;
      const values = new Map<string, number | undefined>();
      for (const key of keys) values.set(statId(key), await read(key, ticket));
      const worst = overBound(groups, (key) => values.get(statId(key)));
      // The message names the bound, not the estimate: the figures count records the caller may not see.
      if (worst !== undefined)
        throw badRequest(
          `The filter joins lists that could multiply past ${MAX_ROWS_PER_RECORD.toLocaleString('en')} rows per record; filter through fewer lists at once.`,
        );
    },
  };
}
