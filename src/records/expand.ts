import { badRequest } from '../errors/index.ts';
import { MAX_RELATION_DEPTH, queryDialect } from '../query/index.ts';
import { type Collection, type FieldDef, fieldType, findField, identityIndex } from '../schema/index.ts';
import { canManage } from './access.ts';
import type { RecordsContext } from './context.ts';
import { type ExpandBudget, tooMuch } from './expand-budget.ts';
import { MANAGES } from './read.ts';
import { managesColumn, type RuleScope, ruleScope } from './rules.ts';
import type { AuthContext, RecordValues } from './types.ts';

/** Paths that name real relations: each costs a query per level, so there is a bound (PocketBase has none). */
const MAX_EXPAND_PATHS = 20;
const MAX_BACK_RELATED = 1000;
const ID_CHUNK = 500;
const VIA = /^([A-Za-z_][A-Za-z0-9_]*)_via_([A-Za-z_][A-Za-z0-9_]*)$/;

/** `expand=author,author.org,comments_via_post` as a tree of names. */
export type ExpandTree = Map<string, ExpandTree>;

/**
 * Reads `expand` as PocketBase does: comma-separated paths, spaces removed, dots trimmed from both ends,
 * levels past MAX_RELATION_DEPTH left out (PocketBase stops there too). Never throws: a name that is not
 * a relation is ignored when the records are expanded, as in PocketBase.
 */
export function parseExpand(text: string | undefined): ExpandTree | undefined {
  if (!text) return undefined;
  const root: ExpandTree = new Map();
  for (const raw of text.split(',')) {
    const path = raw.replaceAll(' ', '').replace(/^\.+|\.+$/g, '');
    if (!path) continue;
    let node = root;
    for (const name of path.split('.').slice(0, MAX_RELATION_DEPTH)) {
      let next = node.get(name);
      if (!next) {
        next = new Map();
        node.set(name, next);
      }
      node = next;
    }
  }
  return root.size ? root : undefined;
}

/**
 * Counts the tree's paths that name relations all the way (before anything is written): more than
 * MAX_EXPAND_PATHS is a 400. Unknown names cost nothing and are not counted.
 */
export function checkExpand(ctx: RecordsContext, collection: Collection, tree: ExpandTree): void {
  if (countPaths(ctx, collection, tree) > MAX_EXPAND_PATHS)
    throw badRequest(`Invalid expand: more than ${MAX_EXPAND_PATHS} relation paths.`);
}

function countPaths(ctx: RecordsContext, collection: Collection, tree: ExpandTree): number {
  let n = 0;
  for (const [name, subtree] of tree) {
    const link = linkOf(ctx, collection, name);
    if (!link) continue;
    n += subtree.size ? countPaths(ctx, link.kind === 'relation' ? link.target : link.source, subtree) : 1;
    if (n > MAX_EXPAND_PATHS) break;
  }
  return n;
}

/** Where an expand name leads: a relation field, a back-relation (`comments_via_post`), or nowhere. */
type Link =
  | { kind: 'relation'; field: FieldDef; target: Collection }
  | { kind: 'back'; field: FieldDef; source: Collection };

function linkOf(ctx: RecordsContext, collection: Collection, name: string): Link | undefined {
  const field = findField(collection, name);
  if (field) {
    const target = field.type === 'relation' ? ctx.collections.find(String(field.collectionId)) : undefined;
    return target && { kind: 'relation', field, target };
  }
  const via = VIA.exec(name);
  const source = via ? ctx.collections.find(via[1] as string) : undefined;
  const back = source && findField(source, via?.[2] as string);
  if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id) return undefined;
  return { kind: 'back', field: back, source };
}

/** One record on its way out: its stored values and the JSON that will be sent. */
export interface Expandable {
  values: RecordValues;
  json: Record<string, unknown>;
}

/**
 * Adds `expand` to each record's JSON, loading related records level by level (one query per relation
 * and level, not per record). A related record the caller may not view is left out, like a missing one.
 *
 * As in PocketBase, each path succeeds whole or adds nothing: a name that is not a relation (or leads to a
 * collection the caller may not view) fails its path, unless there are no records at its level to expand.
 * A relation is attached when some path through it succeeds. Returns whether one did (true when
 * `records` is empty), for the level above.
 */
export async function expandRecords(
  ctx: RecordsContext,
  collection: Collection,
  records: Expandable[],
  tree: ExpandTree,
  auth: AuthContext,
  budget: ExpandBudget,
): Promise<boolean> {
  if (records.length === 0) return true;
  let succeeded = false;
  for (const [name, subtree] of tree) {
    const link = linkOf(ctx, collection, name);
    // Hidden relations are not expanded for clients (their ids are not shown either).
    if (!link || (link.field.hidden && !auth.isSuperuser)) continue;
    const done =
      link.kind === 'relation'
        ? await expandRelation(ctx, link.field, link.target, records, name, subtree, auth, budget)
        : await expandBackRelation(ctx, link.source, link.field, records, name, subtree, auth, budget);
    succeeded ||= done;
  }
  return succeeded;
}

async function expandRelation(
  ctx: RecordsContext,
  field: FieldDef,
  target: Collection,
  records: Expandable[],
  name: string,
  subtree: ExpandTree,
  auth: AuthContext,
  budget: ExpandBudget,
): Promise<boolean> {
  const scope = viewScope(ctx, target, auth);
  if (!scope) return false;
  const multi = fieldType('relation').isMulti(field);
  const idsOf = (r: Expandable): string[] => {
    const v = r.values[field.name];
    return Array.isArray(v) ? (v as string[]) : typeof v === 'string' && v ? [v] : [];
  };
  const ids = [...new Set(records.flatMap(idsOf))];
  const found = await loadByIds(ctx, target, ids, auth, scope, budget);
  if (subtree.size && !(await expandRecords(ctx, target, [...found.values()], subtree, auth, budget)))
    return false;
  for (const r of records) {
    // PocketBase answers `expand: {}` on records whose relation was expanded to nothing.
    r.json.expand ??= {};
    const related = idsOf(r)
      .map((id) => found.get(id)?.json)
      .filter((j) => j !== undefined);
    if (related.length === 0) continue;
    attach(r, name, multi ? related : (related[0] as Record<string, unknown>), budget);
  }
  return true;
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
): Promise<boolean> {
  const scope = viewScope(ctx, source, auth);
  if (!scope) return false;
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
  // A view has no insertion order of its own: its ids stand in for it.
  const rowid = source.type === 'view' ? q('id') : d.rowidSql();
  const children = new Map<string, Expandable>();
  const byParent = new Map<string, Record<string, unknown>[]>();
  for (let i = 0; i < parentIds.length; i += ID_CHUNK) {
    const chunk = parentIds.slice(i, i + ID_CHUNK);
    const limit = budget.remaining + 1;
    // At most MAX_BACK_RELATED per parent (PocketBase's cap), counted by the database, and no more rows in
    // all than the answer may still carry: a back-relation with a million rows is not loaded to be cut.
    const rows = await ctx.db.query<Record<string, unknown>>(
      `SELECT * FROM (SELECT ${table}.*, ${parent} AS _plinth_parent, ${table}.${rowid} AS _plinth_row, ROW_NUMBER() OVER (PARTITION BY ${parent} ORDER BY ${table}.${rowid}) AS _plinth_n FROM ${from} WHERE ${parent} IN (${chunk.map(() => '?').join(', ')})${rule ? ` AND (${rule.text})` : ''}) _w WHERE _plinth_n <= ${MAX_BACK_RELATED} ORDER BY _plinth_row ${d.boundLimitSql()}`,
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
  if (subtree.size && !(await expandRecords(ctx, source, [...children.values()], subtree, auth, budget)))
    return false;
  // A unique index on the field makes it one record per parent: PocketBase expands it as one, not a list.
  const single = identityIndex(source.indexes, back.name) !== undefined;
  for (const r of records) {
    r.json.expand ??= {};
    const list = byParent.get(String(r.values.id));
    if (list?.length) attach(r, name, single ? (list[0] as Record<string, unknown>) : list, budget);
  }
  return true;
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
