import { type Collection, type FieldDef, fieldType, findField } from '../schema/index.ts';
import { compileFilter } from './compile.ts';
import { FilterError } from './errors.ts';
import { clip, parseFilter } from './parse.ts';
import { buildValue, type PathOperand, type ResolveContext, walkPath } from './resolve.ts';
import { joinSql, param, raw, sql } from './sql.ts';
import { foldAscii, type LiteralValue, type Single, type Value } from './values.ts';

/**
 * What a rule may ask about the request (`@request.*`). Made by the HTTP and records layers; the query
 * layer only reads it.
 */
export interface RequestInfo {
  /** The signed-in auth record and its collection, or null for a guest. */
  auth: { collection: Collection; record: Record<string, unknown> } | null;
  method: string;
  /** `default`, `oauth2`, `otp`, `password`, `realtime`, `protectedFile`, `expand`, `batch`... */
  context: string;
  query: Record<string, string>;
  /** Lower-case names with `-` as `_`. */
  headers: Record<string, string>;
  /** The submitted body (create/update), keyed by field name; empty otherwise. */
  body: Record<string, unknown>;
  /** The stored record before an update (for `:changed`). */
  original?: Record<string, unknown>;
}

/** Plain auth fields read from the token's record, without a join (as PocketBase does). */
const PLAIN_AUTH = new Set(['id', 'collectionId', 'collectionName', 'email', 'emailVisibility', 'verified']);

/**
 * Resolves `@request.*` and `@collection.*` paths (rules, and superusers' client filters: others get a 403
 * before parsing). Hidden fields are allowed here: rules are written by the developer, not the client.
 */
export function resolveRequestPath(
  info: RequestInfo,
  op: PathOperand,
  shared: boolean,
  ctx: ResolveContext,
): Value | undefined {
  const [head, second, ...rest] = op.path;
  const all: ResolveContext = { ...ctx, isSuperuser: true };
  if (head === '@collection') return collectionPath(second, rest, op, shared, all);
  if (head !== '@request') return undefined;
  switch (second) {
    case 'method':
    case 'context':
      return exactly(op, 2) && literal(second === 'method' ? info.method.toUpperCase() : info.context, op);
    case 'query':
    case 'headers': {
      if (op.path.length !== 3) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
      const source = second === 'query' ? info.query : info.headers;
      const key = op.path[2] as string;
      return literal(Object.hasOwn(source, key) ? (source[key] ?? null) : null, op);
    }
    case 'auth':
      return authPath(info, rest, op, shared, all);
    case 'body':
      return bodyPath(info, rest, op, shared, all);
    default:
      return undefined;
  }
}

function exactly(op: PathOperand, n: number): true {
  if (op.path.length !== n) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
  return true;
}

/** A literal, with `:lower` applied and other modifiers refused. */
function literal(value: LiteralValue, op: PathOperand): Single {
  if (op.modifier === 'lower')
    return { kind: 'lit', value: typeof value === 'string' ? foldAscii(value) : value };
  if (op.modifier === 'isset' || op.modifier === undefined) return { kind: 'lit', value };
  throw new FilterError(`modifier ":${clip(op.modifier)}" does not apply to "${clip(op.raw)}"`, op.pos);
}

/** A stored or submitted value as a literal: lists and objects as their JSON text. */
function asLiteral(value: unknown): LiteralValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

function authPath(
  info: RequestInfo,
  rest: string[],
  op: PathOperand,
  shared: boolean,
  ctx: ResolveContext,
): Value {
  if (rest.length === 0) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
  const auth = info.auth;
  // A guest has no auth record: every `@request.auth.*` is null (so `@request.auth.id = ""` holds).
  if (!auth) return { kind: 'lit', value: null };
  const name = rest[0] as string;
  if (rest.length === 1 && PLAIN_AUTH.has(name) && !op.modifier) {
    if (name === 'collectionId') return { kind: 'lit', value: auth.collection.id };
    if (name === 'collectionName') return { kind: 'lit', value: auth.collection.name };
    return { kind: 'lit', value: asLiteral(auth.record[name]) };
  }
  const q = ctx.dialect.quote;
  const walk = walkPath(rest, op.modifier, auth.collection, ctx, op);
  const table = q(auth.collection.name);
  const id = String(auth.record.id);
  return buildValue(
    walk,
    {
      ref: ctx.baseRef,
      key: '@request.auth',
      pending: [
        {
          key: '@request.auth',
          list: false,
          build: (a) => ({ item: raw(`${table} ${a}`), on: sql`${raw(`${a}.${q('id')}`)} = ${param(id)}` }),
        },
      ],
    },
    ctx,
    op,
    shared,
  );
}

function bodyPath(
  info: RequestInfo,
  rest: string[],
  op: PathOperand,
  shared: boolean,
  ctx: ResolveContext,
): Value {
  const name = rest[0];
  if (!name) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
  const present = Object.hasOwn(info.body, name);
  const raw_ = present ? info.body[name] : undefined;
  const field = findField(ctx.base, name);
  if (rest.length === 1) {
    switch (op.modifier) {
      case 'isset':
        return { kind: 'lit', value: present };
      case 'changed': {
        if (!field)
          throw new FilterError(`":changed" needs a field of the collection in "${clip(op.raw)}"`, op.pos);
        const before = info.original?.[name];
        return {
          kind: 'lit',
          value: present && JSON.stringify(normalized(field, raw_)) !== JSON.stringify(before),
        };
      }
      case 'length': {
        const v = field ? normalized(field, raw_) : raw_;
        return {
          kind: 'lit',
          value: Array.isArray(v) ? v.length : v === undefined || v === null || v === '' ? 0 : 1,
        };
      }
      case 'each': {
        const v = field ? normalized(field, raw_) : raw_;
        const items = (Array.isArray(v) ? v : v === undefined || v === null || v === '' ? [] : [v]).map(
          String,
        );
        const d = ctx.dialect;
        const json = param(JSON.stringify(items));
        const key = `@request.body.${name}:each`;
        const share = shared && ctx.shared !== undefined;
        const known = share ? ctx.shared?.find(key) : undefined;
        const alias = known ?? ctx.alias();
        const source = d.items(d.name === 'postgres' ? sql`CAST(${json} AS JSONB)` : json, alias);
        const join = sql`LEFT JOIN ${source.from} ON 1=1`;
        const stat = { kind: 'fixed', n: items.length } as const;
        if (share && !known) ctx.shared?.add(key, alias, join, stat);
        const item: Single = { kind: 'expr', type: 'text', sql: d.exact(source.value), nullable: true };
        return {
          kind: 'multi',
          joins: share ? [] : [join],
          item,
          steps: 1,
          stats: share ? [] : [stat],
          shared: share,
        };
      }
      default:
        return literal(asLiteral(field ? normalized(field, raw_) : raw_), op);
    }
  }
  // `@request.body.author.name`: through the submitted relation ids.
  if (field?.type !== 'relation')
    throw new FilterError(`"${clip(name)}" is not a relation in "${clip(op.raw)}"`, op.pos);
  const target = ctx.collection(String(field.collectionId));
  if (!target) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
  const v = normalized(field, raw_);
  const ids = (Array.isArray(v) ? v : v ? [v] : []).map(String);
  if (ids.length === 0) return { kind: 'lit', value: null };
  const q = ctx.dialect.quote;
  const walk = walkPath(rest.slice(1), op.modifier, target, ctx, op);
  const inList = joinSql(
    ids.map((id) => param(id)),
    ', ',
  );
  return buildValue(
    walk,
    {
      ref: ctx.baseRef,
      key: `@request.body.${name}`,
      pending: [
        {
          key: `@request.body.${name}`,
          list: fieldType('relation').isMulti(field),
          stat: { kind: 'fixed', n: ids.length },
          build: (a) => ({
            item: raw(`${q(target.name)} ${a}`),
            on: sql`${raw(`${a}.${q('id')}`)} IN (${inList})`,
          }),
        },
      ],
    },
    ctx,
    op,
    shared,
  );
}

/** A submitted value in the field's canonical form (or as sent, when it does not convert). */
function normalized(field: FieldDef, value: unknown): unknown {
  if (value === undefined) return undefined;
  const r = fieldType(field.type).normalize(field, value);
  return 'value' in r ? r.value : value;
}

function collectionPath(
  target: string | undefined,
  rest: string[],
  op: PathOperand,
  shared: boolean,
  ctx: ResolveContext,
): Value {
  if (!target || rest.length === 0) throw new FilterError(`invalid "${clip(op.raw)}"`, op.pos);
  const [name, alias_ = ''] = target.split(':');
  const collection = ctx.collection(name as string);
  if (!collection) throw new FilterError(`unknown collection in "${clip(op.raw)}"`, op.pos);
  const walk = walkPath(rest, op.modifier, collection, ctx, op);
  const key = `@collection.${collection.name}:${alias_}`;
  const table = ctx.dialect.quote(collection.name);
  const pending = [
    {
      key,
      list: true,
      stat: { kind: 'rows', collection: collection.name } as const,
      build: (a: string) => ({ item: raw(`${table} ${a}`), on: raw('1=1') }),
    },
  ];
  return buildValue(walk, { ref: ctx.baseRef, key, pending }, ctx, op, shared);
}

/**
 * Checks that a rule compiles against the schema (as a guest's request would see it): for saving
 * collections. Answers the problem, or undefined.
 */
export function checkRule(
  rule: string,
  collection: Collection,
  lookup: (idOrName: string) => Collection | undefined,
  dialect: ResolveContext['dialect'],
): string | undefined {
  const info: RequestInfo = {
    auth: null,
    method: 'GET',
    context: 'default',
    query: {},
    headers: {},
    body: {},
  };
  let n = 0;
  const ctx: ResolveContext & { now: Date } = {
    dialect,
    base: collection,
    baseRef: dialect.quote(collection.name),
    isSuperuser: true,
    collection: lookup,
    alias: () => `_q${++n}`,
    now: new Date(),
    special: (op, shared, c) => resolveRequestPath(info, op, shared, c),
  };
  try {
    compileFilter(parseFilter(rule), ctx);
    return undefined;
  } catch (err) {
    if (err instanceof FilterError)
      return `Invalid rule: ${err.message}${err.pos === undefined ? '' : ` at character ${err.pos}`}.`;
    throw err;
  }
}
