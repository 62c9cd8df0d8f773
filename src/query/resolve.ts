import { type Collection, type FieldDef, fieldType, findField } from '../schema/index.ts';
import type { Operand } from './ast.ts';
import type { QueryDialect } from './engines.ts';
import { FilterError } from './errors.ts';
import { clip } from './parse.ts';
import { joinSql, raw, type Sql, sql } from './sql.ts';
import type { Single, Value } from './values.ts';

export const MAX_RELATION_DEPTH = 6;

/** Everything path resolution needs: the schema, the caller, the engine. */
export interface ResolveContext {
  readonly dialect: QueryDialect;
  readonly base: Collection;
  /** How the base table is referenced in the outer query (a quoted table name or alias). */
  readonly baseRef: string;
  readonly isSuperuser: boolean;
  collection(idOrName: string): Collection | undefined;
  /** Unique alias for a sub-query table. */
  alias(): string;
  /**
   * Resolves paths that start with `@` (`@request.*`, `@collection.*`): the rules' extension point.
   * Undefined answers "unknown".
   */
  special?(operand: Extract<Operand, { kind: 'path' }>): Value | undefined;
}

const VIA = /^([A-Za-z_][A-Za-z0-9_]*)_via_([A-Za-z_][A-Za-z0-9_]*)$/;
const LIST_TYPES = new Set(['select', 'relation', 'file']);

/** A field path (`author.org.name`, `comments_via_post.text`, `meta.a.0`, `tags:each`) → a typed value. */
export function resolvePath(op: Extract<Operand, { kind: 'path' }>, ctx: ResolveContext): Value {
  const fail = (message: string): never => {
    throw new FilterError(message, op.pos);
  };
  if (op.path[0]?.startsWith('@')) {
    const v = ctx.special?.(op);
    return v ?? fail(`unknown identifier "${clip(op.raw)}"`);
  }
  const q = ctx.dialect.quote;
  let collection = ctx.base;
  let ref = ctx.baseRef;
  const from: Sql[] = [];
  const where: Sql[] = [];
  let multi = false;
  let steps = 0;
  let hops = 0;
  const path = op.path;

  for (let i = 0; i < path.length; i++) {
    const name = path[i] as string;
    const last = i === path.length - 1;
    const field = findField(collection, name);
    if (field) checkVisible(field, ctx, op.raw, op.pos);
    if (last) {
      if (!field) fail(`unknown field "${clip(op.raw)}"`);
      return finish(field as FieldDef, `${ref}.${q(name)}`);
    }
    if (field && (field.type === 'json' || field.type === 'geoPoint')) {
      if (op.modifier) fail(`modifier "${op.modifier}" does not apply to a JSON path`);
      return wrap({ kind: 'json', ref: ctx.dialect.json(raw(`${ref}.${q(name)}`), path.slice(i + 1)) });
    }
    if (++hops > MAX_RELATION_DEPTH) fail(`more than ${MAX_RELATION_DEPTH} relations in "${clip(op.raw)}"`);
    const a = ctx.alias();
    if (field) {
      if (field.type !== 'relation') fail(`"${name}" is not a relation field in "${clip(op.raw)}"`);
      const target = ctx.collection(String(field.collectionId));
      if (!target) fail(`unknown field "${clip(op.raw)}"`);
      const isMulti = fieldType('relation').isMulti(field);
      // `author.id` is the stored `author`: no sub-query needed.
      if (!isMulti && i === path.length - 2 && path[i + 1] === 'id' && !op.modifier) {
        return finish(field, `${ref}.${q(name)}`);
      }
      if (isMulti) {
        const j = ctx.alias();
        const items = ctx.dialect.items(raw(`${ref}.${q(name)}`), j);
        from.push(items.from, raw(`${q((target as Collection).name)} ${a}`));
        where.push(sql`${raw(`${a}.${q('id')}`)} = ${items.value}`);
        multi = true;
        steps++;
      } else {
        from.push(raw(`${q((target as Collection).name)} ${a}`));
        where.push(raw(`${a}.${q('id')} = ${ref}.${q(name)}`));
      }
      collection = target as Collection;
    } else {
      const via = VIA.exec(name) ?? fail(`unknown field "${clip(op.raw)}"`);
      const source = ctx.collection(via[1] as string);
      const back = source && findField(source, via[2] as string);
      if (!source || !back || back.type !== 'relation' || back.collectionId !== collection.id)
        fail(`invalid back-relation "${clip(name)}"`);
      checkVisible(back as FieldDef, ctx, op.raw, op.pos);
      const s = source as Collection;
      from.push(raw(`${q(s.name)} ${a}`));
      if (fieldType('relation').isMulti(back as FieldDef)) {
        const j = ctx.alias();
        const items = ctx.dialect.items(raw(`${a}.${q((back as FieldDef).name)}`), j);
        where.push(
          sql`EXISTS (SELECT 1 FROM ${items.from} WHERE ${items.value} = ${raw(`${ref}.${q('id')}`)})`,
        );
      } else {
        where.push(raw(`${a}.${q((back as FieldDef).name)} = ${ref}.${q('id')}`));
      }
      multi = true;
      steps++;
      collection = s;
    }
    ref = a;
  }
  return fail(`unknown field "${clip(op.raw)}"`);

  /** The last field of the path, read from `column`. */
  function finish(field: FieldDef, column: string): Value {
    const col = raw(column);
    const isList = LIST_TYPES.has(field.type);
    const isMulti = isList && fieldType(field.type).isMulti(field);
    switch (op.modifier) {
      case undefined:
        break;
      case 'each':
        if (!isList) fail(`":each" applies to select, relation and file fields, not "${clip(op.raw)}"`);
        if (isMulti) {
          const j = ctx.alias();
          const items = ctx.dialect.items(col, j);
          from.push(items.from);
          multi = true;
          steps++;
          return wrap({ kind: 'expr', type: 'text', sql: ctx.dialect.exact(items.value), nullable: false });
        }
        return wrap({ kind: 'expr', type: 'text', sql: col, nullable: false });
      case 'length':
        if (!isList) fail(`":length" applies to select, relation and file fields, not "${clip(op.raw)}"`);
        return wrap({
          kind: 'expr',
          type: 'number',
          sql: isMulti ? ctx.dialect.arrayLength(col) : sql`(CASE WHEN ${col} = '' THEN 0 ELSE 1 END)`,
          nullable: false,
        });
      case 'lower': {
        const plain = plainValue(field, col);
        if (plain.kind !== 'expr' || plain.type !== 'text')
          return fail(`":lower" applies to text, not "${clip(op.raw)}"`);
        return wrap({ ...plain, sql: ctx.dialect.fold(plain.sql) });
      }
      default:
        fail(`unknown modifier ":${clip(op.modifier)}"`);
    }
    return wrap(plainValue(field, col));
  }

  function plainValue(field: FieldDef, col: Sql): Single {
    // An auth record's email is readable only where it is public (emailVisibility): elsewhere it is null
    // to filters and sorts, so they reveal nothing of it. The rules release adds owners and managers.
    if (collection.type === 'auth' && field.name === 'email' && !ctx.isSuperuser) {
      const visible = raw(`${col.text.slice(0, col.text.lastIndexOf('.'))}.${q('emailVisibility')}`);
      return { kind: 'expr', type: 'text', sql: sql`(CASE WHEN ${visible} THEN ${col} END)`, nullable: true };
    }
    switch (field.type) {
      case 'number':
        return { kind: 'expr', type: 'number', sql: col, nullable: false };
      case 'bool':
        return { kind: 'expr', type: 'bool', sql: col, nullable: false };
      case 'json':
      case 'geoPoint':
        return { kind: 'json', ref: ctx.dialect.json(col, []) };
      default: {
        const list = LIST_TYPES.has(field.type) && fieldType(field.type).isMulti(field);
        const date = field.type === 'date' || field.type === 'autodate';
        return {
          kind: 'expr',
          type: 'text',
          sql: list ? ctx.dialect.arrayText(col) : col,
          nullable: false,
          date,
        };
      }
    }
  }

  /** The value as seen from the outer row: itself, a scalar sub-query, or a list of items. */
  function wrap(value: Single): Value {
    if (from.length === 0) return value;
    const fromSql = joinSql(from, ', ');
    const whereSql = where.length ? joinSql(where, ' AND ') : raw('1=1');
    if (multi) return { kind: 'multi', from: fromSql, where: whereSql, item: value, steps };
    const scalar = (x: Sql) => sql`(SELECT ${x} FROM ${fromSql} WHERE ${whereSql})`;
    if (value.kind === 'json') {
      const r = value.ref;
      return {
        kind: 'json',
        ref: {
          kind: sql`COALESCE(${scalar(r.kind)}, 'null')`,
          str: scalar(r.str),
          num: scalar(r.num),
          bool: scalar(r.bool),
        },
      };
    }
    if (value.kind === 'expr') return { ...value, sql: scalar(value.sql), nullable: true };
    return value;
  }
}

/** Hidden fields (and passwords, for everyone) cannot be filtered or sorted on: no leak through results. */
function checkVisible(field: FieldDef, ctx: ResolveContext, raw: string, pos: number): void {
  if (field.type === 'password' || (field.hidden && !ctx.isSuperuser))
    throw new FilterError(`field "${clip(raw)}" cannot be used here`, pos);
}
