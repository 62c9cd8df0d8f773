import { badRequest } from '../errors/index.ts';
import { MAX_RELATION_DEPTH, queryDialect } from '../query/index.ts';
import { type Collection, type FieldDef, fieldType, findField } from '../schema/index.ts';
import { canManage } from './access.ts';
import type { RecordsContext } from './context.ts';
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
): Promise<void> {
  if (records.length === 0) return;
  for (const [name, subtree] of tree) {
    const field = findField(collection, name);
    if (field) {
      if (field.type !== 'relation') throw badRequest(`Invalid expand: "${name}" is not a relation field.`);
      if (field.hidden && !auth.isSuperuser) continue;
      await expandRelation(ctx, field, records, name, subtree, auth);
      continue;
    }
    const via = VIA.exec(name);
    const source = via ? ctx.collections.find(via[1] as string) : undefined;
    const back = source && findField(source, via?.[2] as string);
    if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id)
      throw badRequest(`Invalid expand: unknown relation "${name.slice(0, 60)}".`);
    if (back.hidden && !auth.isSuperuser) continue;
    await expandBackRelation(ctx, source, back, records, name, subtree, auth);
  }
}

async function expandRelation(
  ctx: RecordsContext,
  field: FieldDef,
  records: Expandable[],
  name: string,
  subtree: ExpandTree,
  auth: AuthContext,
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
  const found = await loadByIds(ctx, target, ids, auth, scope);
  await expandRecords(ctx, target, [...found.values()], subtree, auth);
  for (const r of records) {
    const related = idsOf(r)
      .map((id) => found.get(id)?.json)
      .filter((j) => j !== undefined);
    if (related.length === 0) continue;
    attach(r, name, multi ? related : related[0]);
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
): Promise<void> {
  const scope = viewScope(ctx, source, auth);
  if (!scope) return;
  const d = ctx.db.dialect;
  const q = d.quote;
  const col = `${q(source.name)}.${q(back.name)}`;
  const multi = fieldType('relation').isMulti(back);
  const parentIds = records.map((r) => String(r.values.id));
  const p = ctx.prepared(source);
  const children: Expandable[] = [];
  for (let i = 0; i < parentIds.length; i += ID_CHUNK) {
    const chunk = parentIds.slice(i, i + ID_CHUNK);
    const marks = chunk.map(() => '?').join(', ');
    let where = `${col} IN (${marks})`;
    if (multi) {
      const items = queryDialect(d).items({ text: col, params: [] }, '_e');
      where = `EXISTS (SELECT 1 FROM ${items.from.text} WHERE ${items.value.text} IN (${marks}))`;
    }
    const rule = scope.kind === 'where' ? scope.sql : undefined;
    const rows = await ctx.db.run<Record<string, unknown>>(
      ctx.db.kysely,
      `SELECT * FROM ${q(source.name)} WHERE ${where}${rule ? ` AND (${rule.text})` : ''} ORDER BY ${q(source.name)}.${d.rowidSql()}`,
      [...chunk, ...(rule?.params ?? [])],
    );
    for (const row of rows) {
      const values = p.shape.fromRow(row);
      children.push({ values, json: p.shape.toJson(values, auth) });
    }
  }
  await expandRecords(ctx, source, children, subtree, auth);
  const byParent = new Map<string, Record<string, unknown>[]>();
  for (const child of children) {
    const v = child.values[back.name];
    const targets = Array.isArray(v) ? (v as string[]) : [String(v)];
    for (const id of targets) {
      const list = byParent.get(id) ?? [];
      if (list.length < MAX_BACK_RELATED) list.push(child.json);
      byParent.set(id, list);
    }
  }
  for (const r of records) {
    const list = byParent.get(String(r.values.id));
    if (list?.length) attach(r, name, list);
  }
}

async function loadByIds(
  ctx: RecordsContext,
  target: Collection,
  ids: string[],
  auth: AuthContext,
  scope: RuleScope,
): Promise<Map<string, Expandable>> {
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
    const rows = await ctx.db.run<Record<string, unknown>>(
      ctx.db.kysely,
      `SELECT ${q(target.name)}.*${extra} FROM ${q(target.name)} WHERE ${q(target.name)}.${q('id')} IN (${chunk.map(() => '?').join(', ')})${rule ? ` AND (${rule.text})` : ''}`,
      [...(manages?.params ?? []), ...chunk, ...(rule?.params ?? [])],
    );
    for (const row of rows) {
      const values = p.shape.fromRow(row);
      const canSeeEmail = managesAll || Number(row[MANAGES]) === 1 || row[MANAGES] === true;
      found.set(String(values.id), { values, json: p.shape.toJson(values, auth, canSeeEmail) });
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

function attach(r: Expandable, name: string, value: unknown): void {
  if (!r.json.expand) r.json.expand = {};
  (r.json.expand as Record<string, unknown>)[name] = value;
}
