import { type Collection, type FieldDef, fieldType, findField } from '../schema/index.ts';
import type { Operand } from './ast.ts';
import type { StatKey } from './cost.ts';
import type { QueryDialect } from './engines.ts';
import { FilterError } from './errors.ts';
import { clip } from './parse.ts';
import { joinSql, param, raw, type Sql, sql } from './sql.ts';
import type { Single, Value } from './values.ts';

export const MAX_RELATION_DEPTH = 6;

export type PathOperand = Extract<Operand, { kind: 'path' }>;

/** Everything path resolution needs: the schema, the caller, the engine. */
export interface ResolveContext {
  readonly dialect: QueryDialect;
  readonly base: Collection;
  /** How the base table is referenced in the outer query (a quoted table name or alias). */
  readonly baseRef: string;
  readonly isSuperuser: boolean;
  /**
   * The caller's list rule on a collection a client path goes through, as a condition on the row `alias`
   * (undefined: no restriction). Records the caller may not list then act as missing on the path.
   * Without it, only collections anyone may list (`""`) can be crossed.
   */
  listScope?(target: Collection, alias: string): Sql | undefined;
  /** Whether the caller manages the auth record `alias` (`manageRule`): managers read private emails. */
  manageScope?(target: Collection, alias: string): Sql | boolean;
  /** The signed-in auth record, if any: it may read its own private email. */
  readonly viewer?: { collectionId: string; id: string };
  collection(idOrName: string): Collection | undefined;
  /** Unique alias for a sub-query table. */
  alias(): string;
  /**
   * The joins that `?` comparisons share: each list reached by a path is joined once (by the path's
   * prefix), so that `tags.name ?= 'a' && tags.color ?= 'red'` asks about one and the same tag, as in
   * PocketBase. Undefined where no sharing is possible (sort keys).
   */
  readonly shared?: SharedJoins;
  /**
   * Resolves paths that start with `@` (`@request.*`, `@collection.*`): the rules' extension point.
   * Undefined answers "unknown".
   */
  special?(operand: PathOperand, shared: boolean, ctx: ResolveContext): Value | undefined;
}

/**
 * LEFT JOINs registered by `?` comparisons, by key, in the order they were first needed; `stat` bounds the
 * rows of a join through a list (cost.ts).
 */
export class SharedJoins {
  readonly joins: Array<{ key: string; alias: string; join: Sql; stat?: StatKey }> = [];
  find(key: string): string | undefined {
    return this.joins.find((j) => j.key === key)?.alias;
  }
  add(key: string, alias: string, join: Sql, stat?: StatKey): void {
    this.joins.push({ key, alias, join, stat });
  }
}

/** One step from a row to related rows. */
type Hop =
  | { kind: 'relation'; name: string; field: FieldDef; target: Collection; multi: boolean; from: Collection }
  | { kind: 'back'; name: string; field: FieldDef; source: Collection };

/** Where a path ends: a field (with its modifier) or a JSON path inside a field. */
type End = { field: FieldDef; modifier?: string; json?: string[] };

const VIA = /^([A-Za-z_][A-Za-z0-9_]*)_via_([A-Za-z_][A-Za-z0-9_]*)$/;
const LIST_TYPES = new Set(['select', 'relation', 'file']);

/** A field path (`author.org.name`, `comments_via_post.text`, `meta.a.0`, `tags:each`) → a typed value. */
export function resolvePath(op: PathOperand, ctx: ResolveContext, shared = false): Value {
  if (op.path[0]?.startsWith('@')) {
    const v = ctx.special?.(op, shared, ctx);
    if (!v) throw new FilterError(`unknown identifier "${clip(op.raw)}"`, op.pos);
    return v;
  }
  const walk = walkPath(op.path, op.modifier, ctx.base, ctx, op);
  return buildValue(walk, { ref: ctx.baseRef, key: '', pending: [] }, ctx, op, shared);
}

/** Follows a path through the schema: the relations it crosses and the field it ends on. */
export function walkPath(
  path: readonly string[],
  modifier: string | undefined,
  start: Collection,
  ctx: ResolveContext,
  op: PathOperand,
): { hops: Hop[]; end: End; collection: Collection } {
  const fail = (message: string): never => {
    throw new FilterError(message, op.pos);
  };
  const hops: Hop[] = [];
  let collection = start;
  for (let i = 0; i < path.length; i++) {
    const name = path[i] as string;
    const field = findField(collection, name);
    if (field) checkVisible(field, ctx, op.raw, op.pos);
    if (i === path.length - 1) {
      if (!field) fail(`unknown field "${clip(op.raw)}"`);
      return { hops, end: { field: field as FieldDef, modifier }, collection };
    }
    if (field && (field.type === 'json' || field.type === 'geoPoint')) {
      if (modifier) fail(`modifier "${modifier}" does not apply to a JSON path`);
      return { hops, end: { field, json: path.slice(i + 1) }, collection };
    }
    if (hops.length >= MAX_RELATION_DEPTH)
      fail(`more than ${MAX_RELATION_DEPTH} relations in "${clip(op.raw)}"`);
    if (field) {
      if (field.type !== 'relation') fail(`"${name}" is not a relation field in "${clip(op.raw)}"`);
      const target = ctx.collection(String(field.collectionId)) ?? fail(`unknown field "${clip(op.raw)}"`);
      const multi = fieldType('relation').isMulti(field);
      // `author.id` is the stored `author`: no join needed.
      if (!multi && i === path.length - 2 && path[i + 1] === 'id' && !modifier)
        return { hops, end: { field }, collection };
      checkListable(target, ctx, op);
      hops.push({ kind: 'relation', name, field, target, multi, from: collection });
      collection = target;
    } else {
      const via = VIA.exec(name) ?? fail(`unknown field "${clip(op.raw)}"`);
      const source = ctx.collection(via[1] as string);
      const back = source && findField(source, via[2] as string);
      if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id)
        fail(`invalid back-relation "${clip(name)}"`);
      checkVisible(back as FieldDef, ctx, op.raw, op.pos);
      checkListable(source as Collection, ctx, op);
      hops.push({ kind: 'back', name, field: back as FieldDef, source: source as Collection });
      collection = source as Collection;
    }
  }
  return fail(`unknown field "${clip(op.raw)}"`);
}

/**
 * Where a path starts: the SQL reference of its first row, a key prefix naming it among shared joins,
 * and joins that must come before the path's own (`@collection.x` joins its table first).
 */
export interface PathStart {
  /** The first row's reference when there are no pending joins (the outer query's table). */
  ref: string;
  key: string;
  /** Joins before the path's own; the last one's alias is where the path starts. `stat`: see cost.ts. */
  pending: Array<{
    key: string;
    list: boolean;
    stat?: StatKey;
    build(alias: string): { item: Sql; on: Sql };
  }>;
}

/**
 * The SQL for a walked path. Single relations make a scalar sub-query; a path through a list (multi
 * relation, back-relation, `:each`) makes a list of items, reached by LEFT JOINs from one row so that a
 * list with no items (or a record on the way that leads nowhere) gives one null item, as in PocketBase.
 * `shared` (a `?` comparison) registers those joins in `ctx.shared`, where other `?` comparisons on the same
 * path prefix find the same rows.
 */
export function buildValue(
  walk: { hops: Hop[]; end: End; collection: Collection },
  start: PathStart,
  ctx: ResolveContext,
  op: PathOperand,
  shared: boolean,
): Value {
  const q = ctx.dialect.quote;
  const { field, modifier, json } = walk.end;
  const endsInList = modifier === 'each' && isMultiField(field);
  const isListPath =
    start.pending.some((p) => p.list) || walk.hops.some((h) => h.kind === 'back' || h.multi) || endsInList;
  const share = shared && isListPath && ctx.shared !== undefined;
  const steps: Array<{ key: string; alias: string; item: Sql; on: Sql; stat?: StatKey }> = [];
  /**
   * Adds a join step (or finds the shared one with this key) and answers its alias. A step through a list
   * (its rows multiply the work) carries the engine's guard first in its ON, so that a statement whose joins
   * multiply past the time limit can be stopped there (sqlite-guard.ts).
   */
  const step = (key: string, build: (alias: string) => { item: Sql; on: Sql }, stat?: StatKey): string => {
    const known = share ? ctx.shared?.find(key) : undefined;
    if (known) return known;
    const alias = ctx.alias();
    const { item, on } = build(alias);
    const guard = stat ? ctx.dialect.guard : undefined;
    steps.push({ key, alias, item, on: guard ? sql`${guard} AND ${on}` : on, stat });
    return alias;
  };
  /** The items of a JSON array column, joined as a step; answers the SQL of one item. */
  const itemsStep = (key: string, column: Sql, stat: StatKey): Sql => {
    const alias = step(key, (a) => ({ item: ctx.dialect.items(column, a).from, on: raw('1=1') }), stat);
    return ctx.dialect.items(column, alias).value;
  };
  const listStat = (list: boolean, stat: StatKey | undefined): StatKey | undefined =>
    list ? (stat ?? { kind: 'fixed', n: 1 }) : undefined;

  let ref = start.ref;
  for (const p of start.pending) ref = step(p.key, p.build, listStat(p.list, p.stat));
  let listSteps = start.pending.filter((p) => p.list).length;
  let key = start.key;
  for (const hop of walk.hops) {
    key = `${key}.${hop.name}`;
    if (hop.kind === 'relation') {
      const target = q(hop.target.name);
      const column = raw(`${ref}.${q(hop.field.name)}`);
      if (hop.multi) {
        listSteps++;
        const value = itemsStep(`${key}#`, column, {
          kind: 'items',
          collection: hop.from.name,
          field: hop.field.name,
        });
        ref = step(key, (a) => ({
          item: raw(`${target} ${a}`),
          on: restrict(sql`${raw(`${a}.${q('id')}`)} = ${value}`, hop.target, a, ctx),
        }));
      } else {
        ref = step(key, (a) => ({
          item: raw(`${target} ${a}`),
          on: restrict(raw(`${a}.${q('id')} = ${column.text}`), hop.target, a, ctx),
        }));
      }
    } else {
      listSteps++;
      const parentId = raw(`${ref}.${q('id')}`);
      const backMulti = isMultiField(hop.field);
      ref = step(
        key,
        (a) => {
          const col = raw(`${a}.${q(hop.field.name)}`);
          const item = raw(`${q(hop.source.name)} ${a}`);
          if (!backMulti) return { item, on: restrict(sql`${col} = ${parentId}`, hop.source, a, ctx) };
          const items = ctx.dialect.items(col, ctx.alias());
          const on = sql`EXISTS (SELECT 1 FROM ${items.from} WHERE ${items.value} = ${parentId})`;
          return { item, on: restrict(on, hop.source, a, ctx) };
        },
        { kind: 'back', collection: hop.source.name, field: hop.field.name },
      );
    }
  }

  const column = raw(`${ref}.${q(field.name)}`);
  let item: Single;
  if (json) item = { kind: 'json', ref: ctx.dialect.json(column, json) };
  else if (endsInList) {
    listSteps++;
    const value = itemsStep(`${key}.${field.name}:each`, column, {
      kind: 'items',
      collection: walk.collection.name,
      field: field.name,
    });
    item = { kind: 'expr', type: 'text', sql: ctx.dialect.exact(value), nullable: false };
  } else item = endValue(field, modifier, column, walk.collection, ctx, op);

  if (!isListPath) return steps.length ? scalar(item, steps) : item;
  const joins = steps.map((s) => sql`LEFT JOIN ${s.item} ON ${s.on}`);
  if (share) for (const [i, s] of steps.entries()) ctx.shared?.add(s.key, s.alias, joins[i] as Sql, s.stat);
  return {
    kind: 'multi',
    joins: share ? [] : joins,
    item: nullableItem(item),
    steps: listSteps,
    stats: share ? [] : steps.flatMap((s) => (s.stat ? [s.stat] : [])),
    shared: share,
  };
}

/** A single-valued path through single relations: a scalar sub-query (NULL when it reaches nothing). */
function scalar(item: Single, steps: Array<{ item: Sql; on: Sql }>): Single {
  const from = joinSql(
    steps.map((s) => s.item),
    ', ',
  );
  const where = joinSql(
    steps.map((s) => s.on),
    ' AND ',
  );
  const sub = (x: Sql) => sql`(SELECT ${x} FROM ${from} WHERE ${where})`;
  if (item.kind === 'json') {
    const r = item.ref;
    return {
      kind: 'json',
      ref: {
        kind: sql`COALESCE(${sub(r.kind)}, 'null')`,
        str: sub(r.str),
        num: sub(r.num),
        bool: sub(r.bool),
      },
    };
  }
  if (item.kind === 'expr') return { ...item, sql: sub(item.sql), nullable: true };
  return item;
}

/** Items of a LEFT JOINed list may be NULL (no items, or a record on the way that leads nowhere). */
function nullableItem(item: Single): Single {
  if (item.kind === 'expr') return { ...item, nullable: true };
  if (item.kind === 'json')
    return { kind: 'json', ref: { ...item.ref, kind: sql`COALESCE(${item.ref.kind}, 'null')` } };
  return item;
}

const isList = (field: FieldDef) => LIST_TYPES.has(field.type);
const isMultiField = (field: FieldDef) => isList(field) && fieldType(field.type).isMulti(field);

/** The value of the field a path ends on, with its modifier. */
function endValue(
  field: FieldDef,
  modifier: string | undefined,
  col: Sql,
  collection: Collection,
  ctx: ResolveContext,
  op: PathOperand,
): Single {
  const fail = (message: string): never => {
    throw new FilterError(message, op.pos);
  };
  switch (modifier) {
    case undefined:
      return plainValue(field, col, collection, ctx);
    case 'each':
      if (!isList(field)) fail(`":each" applies to select, relation and file fields, not "${clip(op.raw)}"`);
      return { kind: 'expr', type: 'text', sql: col, nullable: false };
    case 'length':
      if (!isList(field))
        fail(`":length" applies to select, relation and file fields, not "${clip(op.raw)}"`);
      return {
        kind: 'expr',
        type: 'number',
        sql: isMultiField(field)
          ? ctx.dialect.arrayLength(col)
          : sql`(CASE WHEN ${col} = '' THEN 0 ELSE 1 END)`,
        nullable: false,
      };
    case 'lower': {
      const plain = plainValue(field, col, collection, ctx);
      if (plain.kind !== 'expr' || plain.type !== 'text')
        return fail(`":lower" applies to text, not "${clip(op.raw)}"`);
      return { ...plain, sql: ctx.dialect.fold(plain.sql) };
    }
    default:
      return fail(`unknown modifier ":${clip(modifier)}"`);
  }
}

function plainValue(field: FieldDef, col: Sql, collection: Collection, ctx: ResolveContext): Single {
  // An auth record's email is readable only where it is public (emailVisibility) or the caller's own:
  // elsewhere it is null to filters and sorts, so they reveal nothing of it. Managers read it too.
  if (collection.type === 'auth' && field.name === 'email' && !ctx.isSuperuser) {
    const row = col.text.slice(0, col.text.lastIndexOf('.'));
    let visible = raw(`${row}.${ctx.dialect.quote('emailVisibility')}`);
    if (ctx.viewer?.collectionId === collection.id)
      visible = sql`(${visible} OR ${raw(`${row}.${ctx.dialect.quote('id')}`)} = ${param(ctx.viewer.id)})`;
    const manages = ctx.manageScope?.(collection, row) ?? false;
    if (manages === true) return plainByType(field, col, ctx);
    if (manages !== false) visible = sql`(${visible} OR (${manages}))`;
    return { kind: 'expr', type: 'text', sql: sql`(CASE WHEN ${visible} THEN ${col} END)`, nullable: true };
  }
  return plainByType(field, col, ctx);
}

/**
 * A client's filter or sort may go through a relation only into collections the client may list: not into
 * superuser-only ones (`null`), and through an expression list rule only where it can be applied to the
 * path (records it hides then act as missing), so that no filter probes records the caller cannot see.
 */
function checkListable(target: Collection, ctx: ResolveContext, op: PathOperand): void {
  if (ctx.isSuperuser || target.listRule === '' || (target.listRule !== null && ctx.listScope)) return;
  throw new FilterError(`"${clip(op.raw)}" goes through "${target.name}", which you may not list`, op.pos);
}

/** The caller's list rule on the row `alias` of `target`, ANDed into the join that reaches it. */
function restrict(on: Sql, target: Collection, alias: string, ctx: ResolveContext): Sql {
  if (ctx.isSuperuser || target.listRule === '' || !ctx.listScope) return on;
  const scope = ctx.listScope(target, alias);
  return scope ? sql`${on} AND (${scope})` : on;
}

/** Hidden fields (and passwords, for everyone) cannot be filtered or sorted on: no leak through results. */
function checkVisible(field: FieldDef, ctx: ResolveContext, raw: string, pos: number): void {
  if (field.type === 'password' || (field.hidden && !ctx.isSuperuser))
    throw new FilterError(`field "${clip(raw)}" cannot be used here`, pos);
}

function plainByType(field: FieldDef, col: Sql, ctx: ResolveContext): Single {
  switch (field.type) {
    case 'number':
      return { kind: 'expr', type: 'number', sql: col, nullable: false };
    case 'bool':
      return { kind: 'expr', type: 'bool', sql: col, nullable: false };
    case 'json':
    case 'geoPoint':
      return { kind: 'json', ref: ctx.dialect.json(col, []) };
    default: {
      const date = field.type === 'date' || field.type === 'autodate';
      const text = isMultiField(field) ? ctx.dialect.arrayText(col) : col;
      return { kind: 'expr', type: 'text', sql: text, nullable: false, date };
    }
  }
}
