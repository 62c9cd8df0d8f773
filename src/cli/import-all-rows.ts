import type { App } from '../app.ts';
import { createRowMapper, parseTransforms } from '../transfer/index.ts';
import type { DirCollection } from './import-all-dir.ts';
import { UPDATE } from './import-batch.ts';
import type { commonPlan } from './import-run.ts';
import type { ImportPlan } from './import-state.ts';

/** Relation fields a first pass leaves out; `required` are those whose absence the dry run forgives. */
export interface StrippedFields {
  all: Set<string>;
  required: Set<string>;
}

/** The row without the fields the first pass leaves out. */
export function stripFields(
  body: Record<string, unknown>,
  stripped: StrippedFields,
): Record<string, unknown> {
  if (!stripped.all.size) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) if (!stripped.all.has(k)) out[k] = v;
  return out;
}

/**
 * The second pass over a collection's file: for each row, an update of the relation fields the first
 * pass left out, onto the record of the row's id. Rows with none of those values (or no id, which the
 * first pass replaced with a new one) are left alone.
 */
export function linkPlan(
  app: App,
  c: DirCollection,
  fields: string[],
  common: ReturnType<typeof commonPlan>,
): ImportPlan {
  const collection = app.collections.get(c.name);
  return {
    ...common,
    collection,
    file: c.file!.path,
    format: c.file!.format,
    // The first pass already noted the columns it leaves out.
    mapper: createRowMapper(collection, parseTransforms({}), () => {}),
    statePath: undefined,
    write: UPDATE,
    adjust(body) {
      if (typeof body.id !== 'string' || !body.id) return undefined;
      const values: Record<string, unknown> = {};
      for (const f of fields) if (!isEmpty(body[f])) values[f] = body[f];
      return Object.keys(values).length ? { id: body.id, ...values } : undefined;
    },
    ownHint: true,
    words: { task: 'link', done: 'linked', dry: 'would link', to: 'of' },
  };
}

/** An empty relation value as JSON Lines (`""`, `[]`, null) or CSV (`""`, `[]` as text) carries it. */
function isEmpty(value: unknown): boolean {
  return (
    value === undefined ||
    value === null ||
    value === '' ||
    value === '[]' ||
    (Array.isArray(value) && value.length === 0)
  );
}
