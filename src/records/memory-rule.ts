import { compareLiterals, type Expr, type LiteralValue, type Operand, parseFilter } from '../query/index.ts';
import { type Collection, fieldType } from '../schema/index.ts';
import type { AuthContext, RecordValues } from './types.ts';

/** Field types whose single value is stored as plain text and compared exactly (`=`, `!=`) in SQL. */
const TEXT_TYPES = new Set(['text', 'email', 'url', 'editor', 'relation', 'select']);
/** `@request.auth.*` fields the query layer reads from the token's record without a join. */
const PLAIN_AUTH = new Set(['id', 'collectionId', 'collectionName', 'email', 'emailVisibility', 'verified']);
const UNDECIDED = Symbol('undecided');
type Term = { value: LiteralValue; text: boolean } | typeof UNDECIDED;

const parsed = new Map<string, Expr | null>();
const MAX_PARSED = 2000;

/**
 * Decides a rule or filter about one record without the database, where that is certain to give the
 * answer the SQL would: comparisons with `=` and `!=` (and ordering between non-text values) of the
 * record's own text-like fields, `@request.*` values the query layer reads as constants, and literals.
 * Anything else (relations, `@collection`, other fields, modifiers, `?=`, `~`, functions, macros) anywhere
 * in the text leaves it undecided (undefined), for the database to answer. Both sides of such a comparison are
 * constants once the record is known, and the comparison is the query layer's own `compareLiterals`,
 * the function the compiler folds constant comparisons with; where a text field meets a number or a bool
 * (text versus numeric comparison) it is left to the database.
 *
 * `client`: the text is a client's filter, which may not read hidden fields unless a superuser's.
 */
export function decideInMemory(
  text: string,
  collection: Collection,
  values: RecordValues,
  auth: AuthContext,
  client: boolean,
): boolean | undefined {
  const expr = parse(text);
  if (!expr) return undefined;
  const result = evaluate(expr);
  return result === UNDECIDED ? undefined : result;

  function evaluate(e: Expr): boolean | typeof UNDECIDED {
    if (e.kind !== 'cmp') {
      // No short cut past an undecided side: it might not compile (an unknown field), and the SQL would
      // then refuse the whole text.
      const left = evaluate(e.left);
      const right = evaluate(e.right);
      if (left === UNDECIDED || right === UNDECIDED) return UNDECIDED;
      return e.kind === 'and' ? left && right : left || right;
    }
    if (e.any) return UNDECIDED;
    const a = term(e.left);
    const b = term(e.right);
    if (a === UNDECIDED || b === UNDECIDED) return UNDECIDED;
    if (e.op === '=' || e.op === '!=') {
      const mixed = (x: typeof a, y: typeof a) =>
        x.text && (typeof y.value === 'number' || typeof y.value === 'boolean');
      if (mixed(a, b) || mixed(b, a)) return UNDECIDED;
      return compareLiterals(a.value, e.op, b.value);
    }
    if (e.op === '~' || e.op === '!~' || a.text || b.text) return UNDECIDED;
    return compareLiterals(a.value, e.op, b.value);
  }

  function term(o: Operand): Term {
    switch (o.kind) {
      case 'text':
      case 'number':
      case 'bool':
        return { value: o.value, text: false };
      case 'null':
        return { value: null, text: false };
      case 'path':
        return o.modifier ? UNDECIDED : path(o.path);
      default:
        return UNDECIDED;
    }
  }

  function path(p: string[]): Term {
    const [head, second, third] = p;
    if (head === '@request') {
      if (client && !auth.isSuperuser) return UNDECIDED;
      const r = auth.request;
      if (second === 'method' && p.length === 2) return constant((r?.method ?? 'GET').toUpperCase());
      if (second === 'context' && p.length === 2) return constant(r?.context ?? 'default');
      if ((second === 'query' || second === 'headers') && p.length === 3) {
        const source = (second === 'query' ? r?.query : r?.headers) ?? {};
        return constant(Object.hasOwn(source, third as string) ? (source[third as string] ?? null) : null);
      }
      if (second === 'auth' && p.length === 3) {
        // A guest's every `@request.auth.*` is null.
        if (!auth.collection || !auth.record) return constant(null);
        if (!PLAIN_AUTH.has(third as string)) return UNDECIDED;
        if (third === 'collectionId') return constant(auth.collection.id);
        if (third === 'collectionName') return constant(auth.collection.name);
        return constant(literalOf(auth.record[third as string]));
      }
      return UNDECIDED;
    }
    if (p.length !== 1 || head === undefined) return UNDECIDED;
    if (head === 'id') return { value: String(values.id ?? ''), text: true };
    const field = collection.fields.find((f) => f.name === head);
    if (!field || !TEXT_TYPES.has(field.type) || fieldType(field.type).column(field) !== 'text')
      return UNDECIDED;
    if (client && field.hidden && !auth.isSuperuser) return UNDECIDED;
    const value = values[head];
    return typeof value === 'string' ? { value, text: true } : UNDECIDED;
  }
}

/**
 * The field a rule requires to equal the caller's id, when it says so at its top level: `owner =
 * @request.auth.id` (either way round), alone or and-ed with anything else, on a field holding one text
 * value compared exactly (the fields decideInMemory reads). A signed-in caller who is not a superuser then
 * passes the rule only if the record's text in that field is their id, whatever else the rule says (SQL
 * compares such text exactly: binary collations on every engine). Realtime uses it to check an event
 * against the subscribers signed in as its owner alone, not against every subscriber. Says nothing about
 * guests (whose id reads as null, which equals "") nor superusers (who skip rules).
 */
export function ownerFieldOf(text: string | null, collection: Collection): string | undefined {
  const expr = text?.trim() ? parse(text) : null;
  return expr ? ownerField(expr, collection) : undefined;
}

function ownerField(e: Expr, collection: Collection): string | undefined {
  if (e.kind === 'and') return ownerField(e.left, collection) ?? ownerField(e.right, collection);
  if (e.kind !== 'cmp' || e.op !== '=' || e.any) return undefined;
  const isAuthId = (o: Operand) =>
    o.kind === 'path' && !o.modifier && o.path.length === 3 && o.path.join('.') === '@request.auth.id';
  const other = isAuthId(e.left) ? e.right : isAuthId(e.right) ? e.left : undefined;
  if (other?.kind !== 'path' || other.modifier || other.path.length !== 1) return undefined;
  const name = other.path[0] as string;
  if (name === 'id') return name;
  const field = collection.fields.find((f) => f.name === name);
  if (!field || !TEXT_TYPES.has(field.type) || fieldType(field.type).column(field) !== 'text')
    return undefined;
  return name;
}

const constant = (value: LiteralValue): Term => ({ value, text: false });

/** A stored value as the query layer reads it into a literal: lists and objects as their JSON text. */
function literalOf(value: unknown): LiteralValue {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

/** Parsed once per text (rules and subscription filters repeat); a text that does not parse is null. */
function parse(text: string): Expr | null {
  let expr = parsed.get(text);
  if (expr !== undefined) return expr;
  try {
    expr = parseFilter(text);
  } catch {
    expr = null;
  }
  if (parsed.size >= MAX_PARSED) parsed.delete(parsed.keys().next().value as string);
  parsed.set(text, expr);
  return expr;
}
