import { badRequest } from '../errors/index.ts';
import { MAX_RELATION_DEPTH, queryDialect } from '../query/index.ts';
import { type Collection, type FieldDef, fieldType, findField } from '../schema/index.ts';
import { canManage } from './access.ts';
import type { RecordsContext } from './context.ts';
import { type ExpandBudget, tooMuch } from './expand-budget.ts';
import { MANAGES } from './read.ts';
import { managesColumn, type RuleScope, ruleScope } from './rules.ts';
import type { AuthContext, RecordValues } from './types.ts';

const MAX_EXPAND_PATHS = 20;
const MAX_BACK_RELATED = 1000;
const ID_CHUNK = 500;
const VIA = /^([A-Za-z_][A-Za-z0-9_]*)_via_([A-Za-z_][A-Za-z0-9_]*)$/;

/** `expand=author,author.org,comments_via_post` as a tree of names. */
export type ExpandTree = Map<string, ExpandTree>;

export function parseExpand(text: string | undefined): ExpandTree | undefined {
  if (!text?.trim()) return undefined;
  const paths = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (paths.length > MAX_EXPAND_PATHS)
    throw badRequest(`Invalid expand: more than ${MAX_EXPAND_PATHS} paths.`);
  const root: ExpandTree = new Map();
  for (const path of paths) {
    const names = path.split('.');
    if (names.length > MAX_RELATION_DEPTH)
      throw badRequest(`Invalid expand: more than ${MAX_RELATION_DEPTH} levels in "${path.slice(0, 60)}".`);
    let node = root;
    for (const name of names) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw badRequest(`Invalid expand: "${path.slice(0, 60)}".`);
      let next = node.get(name);
      if (!next) {
        next = new Map();
        node.set(name, next);
      }
      node = next;
    }
  }
  return root;
}

/** Checks every name of the tree against the schema (before anything is written), or throws a 400. */
export function checkExpand(ctx: RecordsContext, collection: Collection, tree: ExpandTree): void {
  for (const [name, subtree] of tree) {
    const next = relatedCollection(ctx, collection, name);
    if (next) checkExpand(ctx, next, subtree);
  }
}

/** The collection an expand name leads to, or a 400 for a name that is not a relation or back-relation. */
function relatedCollection(
  ctx: RecordsContext,
  collection: Collection,
  name: string,
): Collection | undefined {
  const field = findField(collection, name);
  if (field) {
    if (field.type !== 'relation') throw badRequest(`Invalid expand: "${name}" is not a relation field.`);
    return ctx.collections.find(String(field.collectionId));
  }
  const via = VIA.exec(name);
  const source = via ? ctx.collections.find(via[1] as string) : undefined;
  const back = source && findField(source, via?.[2] as string);
  if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id)
    throw badRequest(`Invalid expand: unknown relation "${name.slice(0, 60)}".`);
  return source;
}

/** One record on its way out: its stored values and the JSON that will be sent. */
export interface Expandable {
  values: RecordValues;
  json: Record<string, unknown>;
}

/**
 * Adds `expand` to each record's JSON, loading related records level by level (one query per relation
 * and level, not per record). A related record the caller may not view is left out, like a missing one.
 */
export async function expandRecords(
  ctx: RecordsContext,
  collection: Collection,
  records: Expandable[],
  tree: ExpandTree,
  auth: AuthContext,
  budget: ExpandBudget,
): Promise<void> {
  if (records.length === 0) return;
  for (const [name, subtree] of tree) {
    const field = findField(collection, name);
    if (field) {
      if (field.type !== 'relation') throw badRequest(`Invalid expand: "${name}" is not a relation field.`);
      if (field.hidden && !auth.isSuperuser) continue;
      await expandRelation(ctx, field, records, name, subtree, auth, budget);
      continue;
    }
    const via = VIA.exec(name);
    const source = via ? ctx.collections.find(via[1] as string) : undefined;
    const back = source && findField(source, via?.[2] as string);
    if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id)
      throw badRequest(`Invalid expand: unknown relation "${name.slice(0, 60)}".`);
    if (back.hidden && !auth.isSuperuser) continue;
    await expandBackRelation(ctx, source, back, records, name, subtree, auth, budget);
  }
}

async function expandRelation(
  ctx: RecordsContext,
  field: FieldDef,
  records: Expandable[],
  name: string,
  subtree: ExpandTree,
  auth: AuthContext,
  budget: ExpandBudget,
): Promise<void> {
  const target = ctx.collections.find(String(field.collectionId));
  const scope = target && viewScope(ctx, target, auth);
  if (!target || !scope) return;
  const multi = fieldType('relation').isMulti(field);
  const idsOf = (r: Expandable): string[] => {
    const v = r.values[field.name];
    return Array.isArray(v) ? (v as string[]) : typeof v === 'string' && v ? [v] : [];
  };
  const ids = [...new Set(records.flatMap(idsOf))];
  const found = await loadByIds(ctx, target, ids, auth, scope, budget);
  await expandRecords(ctx, target, [...found.values()], subtree, auth, budget);
  for (const r of records) {
    const related = idsOf(r)
      .map((id) => found.get(id)?.json)
      .filter((j) => j !== undefined);
    if (related.length === 0) continue;
    attach(r, name, multi ? related : (related[0] as Record<string, unknown>), budget);
  }
}

async function expandBackRelation(
  ctx: RecordsContext,
  source: Collection,
  back: FieldDef,
  records: Expandable[],
  name: string,
  subtree: ExpandTree,
  auth: AuthContext,
  budget: ExpandBudget,
): Promise<void> {
  const scope = viewScope(ctx, source, auth);
  if (!scope) return;
  const d = ctx.db.dialect;
  const q = d.quote;
  const table = q(source.name);
  const col = `${table}.${q(back.name)}`;
  const multi = fieldType('relation').isMulti(back);
  const parentIds = records.map((r) => String(r.values.id));
  const p = ctx.prepared(source);
  const rule = scope.kind === 'where' ? scope.sql : undefined;
  const items = multi ? queryDialect(d).items({ text: col, params: [] }, '_e') : undefined;
  const parent = items ? items.value.text : col;
  const from = items ? `${table}, ${items.from.text}` : table;
  const children = new Map<string, Expandable>();
  const byParent = new Map<string, Record<string, unknown>[]>();
  for (let i = 0; i < parentIds.length; i += ID_CHUNK) {
    const chunk = parentIds.slice(i, i + ID_CHUNK);
    const limit = budget.remaining + 1;
    // At most MAX_BACK_RELATED per parent (PocketBase's cap), counted by the database, and no more rows in
    // all than the answer may still carry: a back-relation with a million rows is not loaded to be cut.
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT * FROM (SELECT ${table}.*, ${parent} AS _plinth_parent, ${table}.${d.rowidSql()} AS _plinth_row, ROW_NUMBER() OVER (PARTITION BY ${parent} ORDER BY ${table}.${d.rowidSql()}) AS _plinth_n FROM ${from} WHERE ${parent} IN (${chunk.map(() => '?').join(', ')})${rule ? ` AND (${rule.text})` : ''}) _w WHERE _plinth_n <= ${MAX_BACK_RELATED} ORDER BY _plinth_row LIMIT ?`,
      [...chunk, ...(rule?.params ?? []), limit],
      auth.ticket,
    );
    if (rows.length >= limit) throw tooMuch();
    for (const row of rows) {
      const values = p.shape.fromRow(row);
      const id = String(values.id);
      let child = children.get(id);
      if (!child) {
        child = { values, json: p.shape.toJson(values, auth) };
        budget.loaded(child.json);
        children.set(id, child);
      }
      const key = String(row._plinth_parent);
      const list = byParent.get(key) ?? [];
      list.push(child.json);
      byParent.set(key, list);
    }
  }
  await expandRecords(ctx, source, [...children.values()], subtree, auth, budget);
  for (const r of records) {
    const list = byParent.get(String(r.values.id));
    if (list?.length) attach(r, name, list, budget);
  }
}

async function loadByIds(
  ctx: RecordsContext,
  target: Collection,
  ids: string[],
  auth: AuthContext,
  scope: RuleScope,
  budget: ExpandBudget,
): Promise<Map<string, Expandable>> {
  // Every id found is attached at least once: more than the answer may still carry is refused unread.
  if (ids.length > budget.remaining) throw tooMuch();
  const rule = scope.kind === 'where' ? scope.sql : undefined;
  const found = new Map<string, Expandable>();
  const p = ctx.prepared(target);
  const q = ctx.db.dialect.quote;
  // Managers of auth records read their private emails here too (a per-row column for expression rules).
  const managesAll = target.type === 'auth' && canManage(target, auth);
  const manages = managesAll ? undefined : managesColumn(ctx, target, auth);
  const extra = manages ? `, (CASE WHEN ${manages.text} THEN 1 ELSE 0 END) AS ${q(MANAGES)}` : '';
  for (let i = 0; i < ids.length; i += ID_CHUNK) {
    const chunk = ids.slice(i, i + ID_CHUNK);
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT ${q(target.name)}.*${extra} FROM ${q(target.name)} WHERE ${q(target.name)}.${q('id')} IN (${chunk.map(() => '?').join(', ')})${rule ? ` AND (${rule.text})` : ''}`,
      [...(manages?.params ?? []), ...chunk, ...(rule?.params ?? [])],
      auth.ticket,
    );
    for (const row of rows) {
      const values = p.shape.fromRow(row);
      const canSeeEmail = managesAll || Number(row[MANAGES]) === 1 || row[MANAGES] === true;
      const json = p.shape.toJson(values, auth, canSeeEmail);
      budget.loaded(json);
      found.set(String(values.id), { values, json });
    }
  }
  return found;
}

/** The target's view rule for expanding (context `expand`), or undefined when the caller may not view any. */
function viewScope(ctx: RecordsContext, target: Collection, auth: AuthContext): RuleScope | undefined {
  try {
    const request = { method: 'GET', headers: {}, query: {}, ...auth.request, context: 'expand' };
    return ruleScope(ctx, target, 'viewRule', { ...auth, request });
  } catch {
    return undefined;
  }
}

function attach(
  r: Expandable,
  name: string,
  value: Record<string, unknown> | Record<string, unknown>[],
  budget: ExpandBudget,
): void {
  for (const child of Array.isArray(value) ? value : [value]) budget.attach(r.json, child);
  if (!r.json.expand) r.json.expand = {};
  (r.json.expand as Record<string, unknown>)[name] = value;
}
