import { badRequest } from '../errors/index.ts';

/** Related records one answer may carry in `expand`, all levels together (each attachment counts). */
export const MAX_EXPANDED_RECORDS = 50_000;
/** Their JSON, all levels together. */
export const MAX_EXPANDED_BYTES = 32 * 1024 * 1024;

type Json = Record<string, unknown>;
interface Weight {
  records: number;
  bytes: number;
}

/**
 * What an answer's `expand` adds up to. One related record may hang under many parents (the same object),
 * and is serialized once per place: so each attachment counts the record with everything under it. A
 * record's own size is measured once, when it is loaded (before anything hangs under it).
 */
export class ExpandBudget {
  readonly #own = new WeakMap<Json, number>();
  readonly #under = new WeakMap<Json, Weight>();
  readonly #top = new Set<Json>();
  #total: Weight = { records: 0, bytes: 0 };

  /** Marks the answer's own records: what hangs under them is the answer's total. */
  constructor(top: Json[]) {
    for (const json of top) this.#top.add(json);
  }

  /** Measures a related record as loaded (no expand yet). */
  loaded(json: Json): void {
    this.#own.set(json, JSON.stringify(json).length);
  }

  /** How many more related records may still be loaded in one query (its LIMIT, less one). */
  get remaining(): number {
    return Math.max(0, MAX_EXPANDED_RECORDS - this.#total.records);
  }

  /** Counts `child` (with all under it) under `parent`; a 400 once the answer or one record is past a bound. */
  attach(parent: Json, child: Json): void {
    const under = this.#under.get(child);
    const add = {
      records: 1 + (under?.records ?? 0),
      bytes: (this.#own.get(child) ?? 0) + (under?.bytes ?? 0),
    };
    const target = this.#top.has(parent) ? this.#total : this.#weight(parent);
    target.records += add.records;
    target.bytes += add.bytes;
    if (target.records > MAX_EXPANDED_RECORDS || target.bytes > MAX_EXPANDED_BYTES) throw tooMuch();
  }

  #weight(json: Json): Weight {
    let w = this.#under.get(json);
    if (!w) {
      w = { records: 0, bytes: 0 };
      this.#under.set(json, w);
    }
    return w;
  }
}

export const tooMuch = () =>
  badRequest(
    `The expand would return more than ${MAX_EXPANDED_RECORDS.toLocaleString('en')} related records or ${MAX_EXPANDED_BYTES / 1024 / 1024} MB; expand fewer relations or ask for fewer records per page.`,
  );
