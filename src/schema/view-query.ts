import { isName, isOp, isWord, type Token, tokenize, ViewQueryError } from './view-tokens.ts';

/**
 * The checker of view queries. A view is read by clients under its list/view rules, so what it can read
 * must be exactly what the superuser wrote: one SELECT (or WITH ... SELECT), reading only collections'
 * tables and its own WITH names, calling only functions of bounded cost that touch no other data, and
 * never a wildcard or an auth collection's password or tokenKey. Anything the checker cannot be sure of
 * is refused with a message saying what.
 */

export { ViewQueryError } from './view-tokens.ts';

/** One column of the view: its name and, when it is a plain column reference, where it comes from. */
export interface ViewColumn {
  /** The column's name as written (the view field's name). */
  alias: string;
  /** True when written as a bare word: PostgreSQL folds its case, so it is referenced unquoted. */
  bare: boolean;
  tokens: Token[];
  source?: { table?: string; column: string };
}

export interface ParsedView {
  /** The query as it will be wrapped into the view (trimmed, no trailing `;`). */
  sql: string;
  columns: ViewColumn[];
  /** The main SELECT's tables: lower-cased alias (or name) → table name as written. */
  tables: Map<string, string>;
  /** Every table the query reads (lower-cased), for dependencies between views and collections. */
  reads: Set<string>;
}

export const MAX_VIEW_QUERY_LENGTH = 5000;

/** Words that never appear in a read-only SELECT; `for` and `replace` are handled where they can be legal. */
const DENIED = new Set(
  'insert update delete merge upsert create drop alter attach detach pragma vacuum reindex analyze grant revoke truncate into copy call execute exec prepare deallocate lock unlock handler load outfile dumpfile recursive table begin commit rollback savepoint release declare show describe explain use kill do notify listen returning procedure'.split(
    ' ',
  ),
);

/** Keywords that may stand before `(` without being a function call. */
const PAREN_KEYWORDS = new Set(
  'in exists values as over filter using on and or not from join select where when then else case is like ilike glob between all any some distinct by with union intersect except lateral having limit offset array row within group window partition order escape'.split(
    ' ',
  ),
);

/** Functions of bounded cost that read only their arguments. */
const FUNCTIONS = new Set(
  `count sum avg min max total group_concat string_agg json_group_array json_group_object json_agg jsonb_agg
  json_object_agg jsonb_object_agg bool_and bool_or every coalesce ifnull nullif iif if lower upper length
  char_length character_length octet_length substr substring trim ltrim rtrim btrim replace instr position
  strpos concat concat_ws left right reverse abs round floor ceil ceiling sign mod power pow sqrt exp ln log
  log10 greatest least cast date time datetime strftime julianday unixepoch now date_format to_char
  date_trunc date_part extract to_timestamp from_unixtime unix_timestamp json_extract json_array_length
  json_type json_valid json_object json_array json_quote json_unquote json_length json_build_object
  json_build_array jsonb_build_object jsonb_build_array jsonb_array_length jsonb_typeof json_typeof typeof
  hex unicode char chr ascii row_number rank dense_rank ntile lag lead first_value last_value nth_value
  percent_rank cume_dist`.split(/\s+/),
);

/** Table-valued functions allowed after FROM or JOIN: they expand a value, they read no table. */
const TABLE_FUNCTIONS = new Set(
  'json_each json_tree jsonb_array_elements jsonb_array_elements_text json_array_elements json_array_elements_text jsonb_each jsonb_each_text unnest'.split(
    ' ',
  ),
);

/** Words that end a FROM list at their depth. */
const FROM_ENDS = new Set(
  'where group having order limit offset union intersect except window fetch select'.split(' '),
);

const HIDDEN_COLUMNS = new Set(['password', 'tokenkey']);

interface Frame {
  kind: 'root' | 'call' | 'group' | 'cols';
  /** WITH names usable here, lower-cased (visible once their body has closed). */
  ctes: Set<string>;
  tables: Map<string, string>;
  /** The WITH list's state at this depth. */
  cte?: 'name' | 'afterName' | 'as' | 'next';
  pendingCte?: string;
  /** Set on a CTE body frame: the name that becomes visible in the parent when it closes. */
  declares?: string;
  inFromList: boolean;
}

const newFrame = (kind: Frame['kind']): Frame => ({
  kind,
  ctes: new Set(),
  tables: new Map(),
  inFromList: false,
});

/** What a table name is to the checker: a collection a view may read (an auth one or another), or neither. */
export type TableKind = 'auth' | 'readable' | undefined;

/**
 * Checks a view query. `tableKind(name)` says whether a table name is a collection a view may read.
 * Throws ViewQueryError with a message for the superuser when the query is refused.
 */
export function parseViewQuery(text: string, tableKind: (table: string) => TableKind): ParsedView {
  if (text.length > MAX_VIEW_QUERY_LENGTH)
    throw new ViewQueryError(`the query is longer than ${MAX_VIEW_QUERY_LENGTH} characters`);
  const sql = text.trim().replace(/[\s;]+$/, '');
  const tokens = tokenize(sql);
  if (!isWord(tokens[0], 'select', 'with'))
    throw new ViewQueryError('the query must start with SELECT or WITH');
  if (tokens.some((t) => isOp(t, ';'))) throw new ViewQueryError('multiple statements are not supported');
  const root = checkTokens(tokens, tableKind);
  return { sql, columns: mainColumns(tokens, root.tables), tables: root.tables, reads: root.reads };
}

function checkTokens(tokens: Token[], tableKind: (table: string) => TableKind) {
  const stack: Frame[] = [newFrame('root')];
  const reads = new Set<string>();
  // Names standing for a whole row of an auth collection (PostgreSQL reads `u` or `u::text` as the row,
  // password hash included); `tableTokens` are where they are declared.
  const authRows = new Set<string>();
  const tableTokens = new Set<number>();
  const top = () => stack[stack.length - 1]!;
  const cteVisible = (name: string) => stack.some((f) => f.ctes.has(name));

  /** A table reference at `i`; returns the index of its last token. */
  function tableRef(i: number): number {
    let t = tokens[i];
    if (isWord(t, 'lateral')) t = tokens[++i];
    if (isOp(t, '(')) return i - 1; // a derived table: the main loop checks what is inside
    if (!isName(t)) throw new ViewQueryError(`expected a table name after FROM or JOIN, got ${describe(t)}`);
    if (isOp(tokens[i + 1], '.'))
      throw new ViewQueryError(`schema-qualified names are not supported ("${t.text}.")`);
    if (isOp(tokens[i + 1], '(')) {
      if (!TABLE_FUNCTIONS.has(t.value.toLowerCase()))
        throw new ViewQueryError(`the table function "${t.text}" is not allowed in view queries`);
      return i;
    }
    const name = t.value;
    const kind = cteVisible(name.toLowerCase()) ? 'readable' : tableKind(name);
    if (!kind)
      throw new ViewQueryError(
        `"${name}" is not a collection a view can read (system collections and other tables cannot be read)`,
      );
    if (!cteVisible(name.toLowerCase())) reads.add(name.toLowerCase());
    let alias = name;
    let end = i;
    if (isWord(tokens[i + 1], 'as') && isName(tokens[i + 2])) {
      alias = tokens[i + 2]!.value;
      end = i + 2;
    } else if (isWord(tokens[i + 1], ...DENIED)) {
      throw new ViewQueryError(`"${tokens[i + 1]!.text}" is not allowed in a view query`);
    } else if (isName(tokens[i + 1]) && !isClauseWord(tokens[i + 1]!)) {
      alias = tokens[i + 1]!.value;
      end = i + 1;
    }
    top().tables.set(alias.toLowerCase(), name);
    for (let k = i; k <= end; k++) tableTokens.add(k);
    if (kind === 'auth') authRows.add(alias.toLowerCase()).add(name.toLowerCase());
    return end;
  }

  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    const prev = tokens[i - 1];
    const frame = top();

    // The WITH list: name [(columns)] AS [NOT] [MATERIALIZED] (body), ...
    if (frame.cte === 'name') {
      if (!isName(t)) throw new ViewQueryError(`expected a WITH name, got ${describe(t)}`);
      frame.pendingCte = t.value.toLowerCase();
      frame.cte = 'afterName';
      continue;
    }
    if (frame.cte === 'afterName' && isOp(t, '(')) {
      stack.push(newFrame('cols'));
      continue;
    }
    if (frame.cte === 'afterName') {
      if (!isWord(t, 'as')) throw new ViewQueryError(`expected AS after a WITH name, got ${describe(t)}`);
      frame.cte = 'as';
      continue;
    }
    if (frame.cte === 'as') {
      if (isWord(t, 'not', 'materialized')) continue;
      if (!isOp(t, '(')) throw new ViewQueryError(`expected ( after AS, got ${describe(t)}`);
      const body = newFrame('group');
      body.declares = frame.pendingCte;
      stack.push(body);
      frame.cte = 'next';
      continue;
    }
    if (frame.cte === 'next') {
      frame.cte = undefined;
      if (isOp(t, ',')) {
        frame.cte = 'name';
        continue;
      }
    }
    if (frame.kind === 'cols') {
      if (isOp(t, ')')) stack.pop();
      else if (!isName(t) && !isOp(t, ',')) throw new ViewQueryError('a WITH column list holds only names');
      continue;
    }

    if (t.kind === 'op') {
      if (t.value === '(') {
        stack.push(newFrame(openParen(tokens, i)));
      } else if (t.value === ')') {
        if (stack.length === 1) throw new ViewQueryError('unbalanced parentheses');
        const closed = stack.pop()!;
        if (closed.declares) top().ctes.add(closed.declares);
      } else if (t.value === '*') {
        checkStar(prev, tokens[i + 1]);
      } else if (t.value === ',' && frame.inFromList && frame.kind !== 'call') {
        i = tableRef(i + 1);
      }
      continue;
    }
    if (t.kind === 'string' || t.kind === 'number') continue;

    if (isName(t) && HIDDEN_COLUMNS.has(t.value.toLowerCase()) && !isOp(tokens[i + 1], '('))
      throw new ViewQueryError(`the "${t.text}" column cannot be read by a view`);
    if (t.kind !== 'word') continue;
    const word = t.value;
    if (DENIED.has(word)) throw new ViewQueryError(`"${t.text}" is not allowed in a view query`);
    if (frame.kind === 'call') {
      if (word === 'select')
        throw new ViewQueryError('a subquery in a function call needs its own parentheses');
      continue; // FROM, IN and FOR inside extract(), substring(), trim(), position() are not clauses
    }
    if (word === 'for') throw new ViewQueryError('"FOR" (locking reads) is not allowed in a view query');
    if (word === 'with') frame.cte = 'name';
    else if (word === 'in' && !isOp(tokens[i + 1], '(')) throw new ViewQueryError('IN must be followed by (');
    else if (word === 'from' || word === 'join') {
      frame.inFromList = true;
      i = tableRef(i + 1);
    } else if (FROM_ENDS.has(word)) frame.inFromList = false;
  }
  if (stack.length !== 1 || top().cte) throw new ViewQueryError('unbalanced parentheses or unfinished WITH');
  tokens.forEach((t, k) => {
    if (!isName(t) || tableTokens.has(k) || isOp(tokens[k + 1], '.') || isOp(tokens[k - 1], '.')) return;
    if (authRows.has(t.value.toLowerCase()))
      throw new ViewQueryError(`"${t.value}" names a whole auth record; select its columns instead`);
  });
  return { tables: stack[0]!.tables, reads };
}

/** What a `(` at `i` opens: a function call (its name checked) or a group/subquery. */
function openParen(tokens: Token[], i: number): Frame['kind'] {
  const prev = tokens[i - 1];
  if (prev === undefined || prev.kind === 'op') return 'group';
  if (prev.kind === 'string' || prev.kind === 'number')
    throw new ViewQueryError(`unexpected ( after ${prev.text}`);
  if (prev.kind === 'word' && PAREN_KEYWORDS.has(prev.value)) return 'group';
  if (isOp(tokens[i - 2], '.'))
    throw new ViewQueryError(`schema-qualified functions are not supported ("${prev.text}")`);
  if (!FUNCTIONS.has(prev.value.toLowerCase()) && !TABLE_FUNCTIONS.has(prev.value.toLowerCase()))
    throw new ViewQueryError(`the function "${prev.text}" is not allowed in view queries`);
  return 'call';
}

function checkStar(prev: Token | undefined, next: Token | undefined) {
  if (isOp(prev, '(') && isOp(next, ')')) return; // count(*)
  if (prev === undefined || prev.kind === 'op' || isWord(prev, 'select', 'distinct', 'all'))
    throw new ViewQueryError('wildcard columns (*) are not supported: name the columns the view should have');
}

function isClauseWord(t: Token): boolean {
  return (
    t.kind === 'word' &&
    (FROM_ENDS.has(t.value) ||
      PAREN_KEYWORDS.has(t.value) ||
      ['join', 'left', 'right', 'inner', 'outer', 'full', 'cross', 'natural', 'on', 'using'].includes(
        t.value,
      ))
  );
}

const describe = (t: Token | undefined) => (t ? JSON.stringify(t.text) : 'the end of the query');

/** The main SELECT's columns, each with its name and, for a plain column reference, its source. */
function mainColumns(tokens: Token[], tables: Map<string, string>): ViewColumn[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')')) depth--;
    else if (depth === 0 && isWord(tokens[i], 'select')) {
      start = i + 1;
      break;
    }
  }
  if (start < 0) throw new ViewQueryError('no SELECT found');
  while (isWord(tokens[start], 'distinct', 'all')) start++;
  const items: Token[][] = [[]];
  depth = 0;
  for (let i = start; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (depth === 0 && t.kind === 'word' && (t.value === 'from' || FROM_ENDS.has(t.value))) break;
    if (isOp(t, '(')) depth++;
    if (isOp(t, ')')) depth--;
    if (depth === 0 && isOp(t, ',')) items.push([]);
    else items[items.length - 1]!.push(t);
  }
  const seen = new Set<string>();
  return items.map((item, n) => {
    const column = toColumn(item, tables);
    if (!column) throw new ViewQueryError(`column ${n + 1} needs a name: add AS name`);
    if (seen.has(column.alias.toLowerCase()))
      throw new ViewQueryError(`duplicated column name "${column.alias}"`);
    seen.add(column.alias.toLowerCase());
    return column;
  });
}

function toColumn(item: Token[], tables: Map<string, string>): ViewColumn | undefined {
  if (item.length === 0) return undefined;
  let expr = item;
  let alias: Token | undefined;
  const last = item[item.length - 1]!;
  const beforeLast = item[item.length - 2];
  if (item.length >= 2 && isName(last) && isWord(beforeLast, 'as')) {
    alias = last;
    expr = item.slice(0, -2);
  } else if (item.length >= 2 && isName(last) && endsOperand(beforeLast!) && !isOp(beforeLast, '.')) {
    alias = last;
    expr = item.slice(0, -1);
  }
  const source = columnRef(expr, tables);
  alias ??= source ? expr[expr.length - 1] : undefined;
  if (!alias) return undefined;
  return { alias: nameOf(alias), bare: alias.kind === 'word', tokens: expr, ...(source ? { source } : {}) };
}

const endsOperand = (t: Token) =>
  t.kind === 'op' ? t.value === ')' : !(t.kind === 'word' && PAREN_KEYWORDS.has(t.value));

function columnRef(expr: Token[], tables: Map<string, string>): ViewColumn['source'] {
  if (expr.length === 1 && isName(expr[0]) && !isWord(expr[0], 'null', 'true', 'false'))
    return { column: nameOf(expr[0]) };
  if (expr.length === 3 && isName(expr[0]) && isOp(expr[1], '.') && isName(expr[2])) {
    const table = tables.get(expr[0].value.toLowerCase());
    return { ...(table ? { table } : { table: `?${expr[0].value}` }), column: nameOf(expr[2]) };
  }
  return undefined;
}

const nameOf = (t: Token) => (t.kind === 'word' ? t.text : t.value);
