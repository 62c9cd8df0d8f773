import type { IndexSpec } from '../db/index.ts';

/**
 * Parses the `CREATE [UNIQUE] INDEX` statements that collections carry (PocketBase keeps indexes as SQL
 * text). Only a strict subset is accepted — named columns with optional COLLATE NOCASE and ASC/DESC, and an
 * optional `WHERE column op literal [AND ...]` — because the statement is re-rendered for each engine and
 * must never carry arbitrary SQL.
 */
export function parseIndex(sql: string, table: string): IndexSpec | string {
  const tokens = tokenize(sql);
  if (typeof tokens === 'string') return tokens;
  let i = 0;
  const peek = () => tokens[i];
  const word = (w: string) => {
    const t = tokens[i];
    if (t && t.kind === 'word' && t.text.toUpperCase() === w) {
      i++;
      return true;
    }
    return false;
  };
  const ident = (): string | undefined => {
    const t = tokens[i];
    if (t && (t.kind === 'word' || t.kind === 'quoted') && /^\w{1,63}$/.test(t.text)) {
      i++;
      return t.text;
    }
    return undefined;
  };
  const emptyQuoted = () => {
    const t = tokens[i];
    if (t && t.kind === 'quoted' && t.text === '') {
      i++;
      return true;
    }
    return false;
  };
  const punct = (p: string) => {
    const t = tokens[i];
    if (t && t.kind === 'punct' && t.text === p) {
      i++;
      return true;
    }
    return false;
  };

  if (!word('CREATE')) return 'must start with CREATE INDEX';
  const unique = word('UNIQUE');
  if (!word('INDEX')) return 'must be CREATE [UNIQUE] INDEX';
  if (word('IF') && !(word('NOT') && word('EXISTS'))) return 'expected IF NOT EXISTS';
  const name = ident();
  if (!name) return 'missing or invalid index name';
  if (/^sqlite_/i.test(name)) return 'index names starting with sqlite_ are reserved';
  // The table named is ignored (the collection's own is used), and may be empty: PocketBase's scaffolds
  // and its dashboard write `ON \`\`` for a collection that has no name yet.
  if (!word('ON') || !(ident() || emptyQuoted())) return 'missing ON table';
  if (!punct('(')) return 'missing column list';
  const columns: IndexSpec['columns'] = [];
  do {
    const col = ident();
    if (!col) return 'invalid column name';
    let nocase = false;
    if (word('COLLATE')) {
      if (!word('NOCASE')) return 'only COLLATE NOCASE is supported';
      nocase = true;
    }
    const desc = word('DESC');
    if (!desc) word('ASC');
    columns.push({ name: col, nocase, desc });
  } while (punct(','));
  if (!punct(')')) return 'unclosed column list';
  const where: NonNullable<IndexSpec['where']> = [];
  if (word('WHERE')) {
    do {
      const column = ident();
      const op = peek();
      if (!column || !op || op.kind !== 'op')
        return 'WHERE supports only `column op literal` terms joined by AND';
      i++;
      const lit = peek();
      if (!lit || (lit.kind !== 'string' && lit.kind !== 'number'))
        return 'WHERE terms must compare with a literal';
      i++;
      where.push({
        column,
        op: op.text as '=' | '!=' | '<>',
        value: lit.kind === 'number' ? Number(lit.text) : lit.text,
      });
    } while (word('AND'));
  }
  punct(';');
  if (i !== tokens.length) return 'unexpected text after the index definition';
  return { name, table, unique, columns, ...(where.length ? { where } : {}) };
}

/**
 * The columns of the index named `name` among a collection's `indexes`: for engines that report a violated
 * unique index by its name rather than by its columns (MySQL).
 */
export function indexColumns(indexes: readonly string[], name: string): string[] | undefined {
  for (const text of indexes) {
    const spec = parseIndex(text, '');
    if (typeof spec !== 'string' && spec.name.toLowerCase() === name.toLowerCase())
      return spec.columns.map((c) => c.name);
  }
  return undefined;
}

/** The canonical text of an index, as stored in the collection. */
export function formatIndex(spec: IndexSpec): string {
  const cols = spec.columns.map(
    (c) => `\`${c.name}\`${c.nocase ? ' COLLATE NOCASE' : ''}${c.desc ? ' DESC' : ''}`,
  );
  const where = spec.where?.length
    ? ` WHERE ${spec.where.map((w) => `\`${w.column}\` ${w.op} ${typeof w.value === 'number' ? w.value : `'${w.value.replaceAll("'", "''")}'`}`).join(' AND ')}`
    : '';
  return `CREATE ${spec.unique ? 'UNIQUE ' : ''}INDEX \`${spec.name}\` ON \`${spec.table}\` (${cols.join(', ')})${where}`;
}

type Token = { kind: 'word' | 'quoted' | 'punct' | 'op' | 'string' | 'number'; text: string };

function tokenize(sql: string): Token[] | string {
  if (sql.length > 2000) return 'index definition is too long';
  const tokens: Token[] = [];
  const re =
    /\s+|([A-Za-z_]\w*)|"([^"]*)"|`([^`]*)`|\[([^\]]*)\]|'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?)|(!=|<>|=)|([(),;])/y;
  let pos = 0;
  while (pos < sql.length) {
    re.lastIndex = pos;
    const m = re.exec(sql);
    if (!m) return `unexpected character at position ${pos}`;
    pos = re.lastIndex;
    if (m[1] !== undefined) tokens.push({ kind: 'word', text: m[1] });
    else if (m[2] !== undefined || m[3] !== undefined || m[4] !== undefined)
      tokens.push({ kind: 'quoted', text: m[2] ?? m[3] ?? m[4]! });
    else if (m[5] !== undefined) tokens.push({ kind: 'string', text: m[5].replaceAll("''", "'") });
    else if (m[6] !== undefined) tokens.push({ kind: 'number', text: m[6] });
    else if (m[7] !== undefined) tokens.push({ kind: 'op', text: m[7] });
    else if (m[8] !== undefined) tokens.push({ kind: 'punct', text: m[8] });
  }
  return tokens;
}

/**
 * The unique index on `field` alone, which makes it usable as a sign-in identity; `nocase` says whether
 * it compares case-insensitively (as the email index does), and so whether sign-in does.
 */
export function identityIndex(indexes: readonly string[], field: string): { nocase: boolean } | undefined {
  for (const text of indexes) {
    const spec = parseIndex(text, '');
    if (typeof spec === 'string' || !spec.unique || spec.columns.length !== 1) continue;
    const column = spec.columns[0]!;
    if (column.name === field) return { nocase: column.nocase === true };
  }
  return undefined;
}
