import type { Operand } from './ast.ts';
import type { CompileContext } from './compile.ts';
import { FilterError } from './errors.ts';
import { clip, parsePath } from './parse.ts';
import { resolvePath } from './resolve.ts';
import { joinSql, raw, type Sql, sql } from './sql.ts';

export type SortKey =
  /** One of the collection's own fields, unmodified: sortable by prepared SQL. */
  | { kind: 'field'; name: string; desc: boolean }
  | { kind: 'path'; path: Extract<Operand, { kind: 'path' }>; desc: boolean }
  | { kind: 'random' }
  | { kind: 'rowid'; desc: boolean };

export const MAX_SORT_KEYS = 8;
const MAX_SORT_KEY_LENGTH = 255;

/** Parses `sort=-created,author.name,@random`. Names are checked against the schema when compiled. */
export function parseSort(text: string): SortKey[] {
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length > MAX_SORT_KEYS) throw new FilterError(`more than ${MAX_SORT_KEYS} sort keys`);
  return parts.map((part) => {
    if (part.length > MAX_SORT_KEY_LENGTH) throw new FilterError('sort key too long');
    const desc = part.startsWith('-');
    const name = part.replace(/^[-+]/, '');
    if (name === '@random') return { kind: 'random' };
    if (name === '@rowid') return { kind: 'rowid', desc };
    const path = parsePath(name, 1);
    if (path.kind !== 'path' || path.path[0]?.startsWith('@'))
      throw new FilterError(`invalid sort key "${clip(name)}"`);
    if (path.path.length === 1 && !path.modifier) return { kind: 'field', name, desc };
    return { kind: 'path', path, desc };
  });
}

/** ORDER BY items for the keys (empty when there are none). Multi-valued paths cannot be sorted on. */
export function compileSort(keys: readonly SortKey[], ctx: CompileContext): Sql {
  const d = ctx.dialect;
  const items = keys.map((key): Sql => {
    if (key.kind === 'random') return raw(d.randomSql());
    if (key.kind === 'rowid') {
      // A view has no insertion order of its own: its ids stand in for it.
      const rowid = ctx.base.type === 'view' ? d.quote('id') : d.rowidSql();
      return raw(`${ctx.baseRef}.${rowid} ${key.desc ? 'DESC' : 'ASC'}`);
    }
    const path =
      key.kind === 'field' ? (parsePath(key.name, 1) as Extract<Operand, { kind: 'path' }>) : key.path;
    const value = resolvePath(path, ctx);
    const dir = raw(key.desc ? ' DESC' : ' ASC');
    if (value.kind === 'multi') throw new FilterError(`cannot sort by the list "${clip(path.raw)}"`);
    if (value.kind === 'lit') throw new FilterError(`invalid sort key "${clip(path.raw)}"`);
    if (value.kind === 'json') {
      // Kinds first (null, bool, number, string, array/object), then the value of that kind.
      const r = value.ref;
      const rank = sql`(CASE ${r.kind} WHEN 'null' THEN 0 WHEN 'bool' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3 ELSE 4 END)`;
      const nulls = raw(d.nullsOrder(key.desc));
      return joinSql(
        [
          sql`${rank}${dir}`,
          sql`${r.bool}${dir}${nulls}`,
          sql`${r.num}${dir}${nulls}`,
          sql`${d.ordered(r.str)}${dir}${nulls}`,
        ],
        ', ',
      );
    }
    const expr = value.type === 'text' ? d.ordered(value.sql) : value.sql;
    return sql`${expr}${dir}${raw(value.nullable ? d.nullsOrder(key.desc) : '')}`;
  });
  return joinSql(items, ', ');
}
