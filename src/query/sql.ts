/**
 * A piece of SQL with `?` placeholders and its parameters, in order. The compiler builds queries only from
 * these: identifiers come from the schema (quoted by the dialect), values travel as parameters, and the
 * few fixed keywords are written here. Nothing a client sends is ever pasted into `text`.
 */
export interface Sql {
  readonly text: string;
  readonly params: readonly unknown[];
}

export const raw = (text: string): Sql => ({ text, params: [] });
export const param = (value: unknown): Sql => ({ text: '?', params: [value] });

/** `sql\`a ${x} b\`` where every interpolation is itself a fragment. */
export function sql(strings: TemplateStringsArray, ...parts: Sql[]): Sql {
  let text = strings[0] ?? '';
  const params: unknown[] = [];
  parts.forEach((p, i) => {
    text += p.text + (strings[i + 1] ?? '');
    params.push(...p.params);
  });
  return { text, params };
}

export function joinSql(parts: readonly Sql[], separator: string): Sql {
  return { text: parts.map((p) => p.text).join(separator), params: parts.flatMap((p) => p.params) };
}

/**
 * A page's ` LIMIT n OFFSET ?`: the one number written into the text, which is why it is checked here to
 * be a whole number. SQLite compiles a statement again at every run when its LIMIT is a parameter (the
 * value may change the plan): 5 µs of a 16 µs page (docs/benchmarks.md, "A page's LIMIT written into the
 * SQL"). The statements of one list then differ by the page size alone.
 */
export function pageClause(perPage: number, offset: number): Sql {
  if (!Number.isSafeInteger(perPage) || perPage < 0) throw new RangeError(`not a page size: ${perPage}`);
  return { text: ` LIMIT ${perPage} OFFSET ?`, params: [offset] };
}

export const TRUE: Sql = raw('(1=1)');
export const FALSE: Sql = raw('(1=0)');
