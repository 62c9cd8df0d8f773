import { GUARD_SQL, type SqlDialect } from '../db/index.ts';
import { joinSql, param, raw, type Sql, sql } from './sql.ts';

/**
 * A JSON value inside a column, read the same way on every engine. `kind` is never NULL: one of 'null'
 * (also for a missing path), 'bool', 'number', 'string', 'array', 'object'. `str`, `num` and `bool` (1/0)
 * are NULL unless the value has that kind.
 */
export interface JsonRef {
  kind: Sql;
  str: Sql;
  num: Sql;
  bool: Sql;
}

/**
 * What the query compiler needs from each engine, beyond quoting: typed parameters, case folding, LIKE,
 * JSON access and list items. Each function returns SQL with `?` placeholders and its parameters.
 */
export interface QueryDialect {
  readonly name: SqlDialect['name'];
  quote(identifier: string): string;
  randomSql(): string;
  rowidSql(): string;
  text(value: string): Sql;
  number(value: number): Sql;
  bool(value: boolean): Sql;
  /** A bool column as the number 1 or 0. */
  boolNumber(x: Sql): Sql;
  /**
   * A number as text, as PocketBase's SQLite spells it for `~` (NULL stays NULL): whole numbers in digits,
   * others in their shortest decimal form, exponents as `1.0e+20` / `1.5e-07`.
   */
  numberText(x: Sql): Sql;
  /** Text in code-point order for `<`, `>` and ORDER BY. */
  ordered(x: Sql): Sql;
  /** Derived text (JSON strings, list items) with the same exact comparison as stored text. */
  exact(x: Sql): Sql;
  /** A-Z lowered, nothing else (dialect.foldCaseSql). */
  fold(x: Sql): Sql;
  like(x: Sql, pattern: Sql): Sql;
  contains(haystack: Sql, needle: Sql): Sql;
  /** The items of the JSON array in `column` as a FROM item named `alias`, and the text of one item. */
  items(column: Sql, alias: string): { from: Sql; value: Sql };
  arrayLength(column: Sql): Sql;
  /** A JSON array column as compact text (`["a","b"]`), as clients stored it. */
  arrayText(column: Sql): Sql;
  json(column: Sql, path: readonly string[]): JsonRef;
  substr(x: Sql, start: number, length: number): Sql;
  concat(parts: Sql[]): Sql;
  /** Appended to an ORDER BY key so that NULLs come first ascending and last descending everywhere. */
  nullsOrder(desc: boolean): string;
  /**
   * A condition (always true) to put in the inner loop of every join through a list, where the engine
   * cannot otherwise stop a statement at its deadline (SQLite: db/sqlite-guard.ts); undefined elsewhere.
   */
  readonly guard?: Sql;
}

/** A mantissa without a decimal point before its exponent (`1e+20`), which SQLite writes `1.0e+20`. */
const BARE_MANTISSA = '^(-?[0-9]+)e';

const kindCase = (typeExpr: Sql, map: Record<string, string>): Sql =>
  sql`(CASE ${typeExpr} ${raw(
    Object.entries(map)
      .map(([k, v]) => `WHEN '${k}' THEN '${v}'`)
      .join(' '),
  )} ELSE 'null' END)`;

/** `$."a"."b"[0]`: the JSON path syntax SQLite and MySQL share. Keys are names or digits (parser-checked). */
const dollarPath = (path: readonly string[]) =>
  `$${path.map((p) => (/^\d+$/.test(p) ? `[${p}]` : `."${p}"`)).join('')}`;

function sqliteDialect(base: SqlDialect): QueryDialect {
  return {
    name: 'sqlite',
    quote: base.quote,
    randomSql: base.randomSql,
    rowidSql: base.rowidSql,
    text: (v) => param(v),
    number: (v) => param(v),
    bool: (v) => param(v ? 1 : 0),
    boolNumber: (x) => x,
    // The reference: numbers are stored with NUMERIC affinity, as PocketBase stores them.
    numberText: (x) => sql`CAST(${x} AS TEXT)`,
    ordered: (x) => x,
    exact: (x) => x,
    fold: (x) => ({ text: base.foldCaseSql(x.text), params: x.params }),
    // `+?`, not `?`: SQLite compiles a statement again at every run when a LIKE's pattern is a bare
    // parameter (the pattern may allow an index; never here, the left side is folded). The unary plus
    // changes no value.
    like: (x, p) => sql`${x} LIKE +${p} ESCAPE '\\'`,
    contains: (h, n) => sql`instr(${h}, ${n}) > 0`,
    items: (column, alias) => ({
      from: sql`json_each(${column}) AS ${raw(alias)}`,
      value: raw(`${alias}.value`),
    }),
    arrayLength: (c) => sql`json_array_length(${c})`,
    // An expression, not the bare column: SQLite would otherwise propagate `tags = ''` into
    // `json_array_length(tags)` elsewhere in the WHERE and fail on the malformed JSON.
    arrayText: (c) => sql`CAST(${c} AS TEXT)`,
    json(column, path) {
      const p = param(dollarPath(path));
      const type = sql`json_type(${column}, ${p})`;
      return {
        kind: kindCase(type, {
          integer: 'number',
          real: 'number',
          text: 'string',
          true: 'bool',
          false: 'bool',
          array: 'array',
          object: 'object',
        }),
        str: sql`(CASE ${type} WHEN 'text' THEN json_extract(${column}, ${p}) END)`,
        num: sql`(CASE WHEN ${type} IN ('integer', 'real') THEN json_extract(${column}, ${p}) END)`,
        bool: sql`(CASE ${type} WHEN 'true' THEN 1 WHEN 'false' THEN 0 END)`,
      };
    },
    substr: (x, start, length) => sql`substr(${x}, ${raw(String(start))}, ${raw(String(length))})`,
    concat: (parts) => (parts.length ? joinSql(parts, ' || ') : raw("''")),
    nullsOrder: () => '',
    guard: raw(GUARD_SQL),
  };
}

function postgresDialect(base: SqlDialect): QueryDialect {
  return {
    name: 'postgres',
    quote: base.quote,
    randomSql: base.randomSql,
    rowidSql: base.rowidSql,
    text: (v) => sql`CAST(${param(v)} AS TEXT)`,
    number: (v) => sql`CAST(${param(v)} AS DOUBLE PRECISION)`,
    bool: (v) => sql`CAST(${param(v)} AS BOOLEAN)`,
    boolNumber: (x) => sql`CAST(${x} AS INTEGER)`,
    // Shortest decimal digits already (whole numbers below 1e15 without exponent); `1e+20` → `1.0e+20`.
    numberText: (x) =>
      sql`regexp_replace(CAST(CAST(${x} AS DOUBLE PRECISION) AS TEXT), CAST(${param(BARE_MANTISSA)} AS TEXT), CAST(${param('\\1.0e')} AS TEXT))`,
    // Stored text is COLLATE "C" already (a no-op there, so indexes still serve ORDER BY); derived text
    // (JSON strings, list items, sub-queries) needs it said.
    ordered: (x) => sql`(${x}) COLLATE "C"`,
    exact: (x) => x,
    fold: (x) => ({ text: base.foldCaseSql(x.text), params: x.params }),
    like: (x, p) => sql`${x} LIKE ${p} ESCAPE '\\'`,
    contains: (h, n) => sql`strpos(${h}, ${n}) > 0`,
    items: (column, alias) => ({
      from: sql`jsonb_array_elements_text(${column}) AS ${raw(alias)}(v)`,
      value: raw(`${alias}.v`),
    }),
    arrayLength: (c) => sql`jsonb_array_length(${c})`,
    // jsonb prints `["a", "b"]`; clients (and the other engines) store `["a","b"]`.
    arrayText: (c) =>
      sql`(SELECT '[' || COALESCE(string_agg(to_json(_e.v)::text, ',' ORDER BY _e.n), '') || ']' FROM jsonb_array_elements_text(${c}) WITH ORDINALITY AS _e(v, n))`,
    json(column, path) {
      // `#>` would read a digit as an object key too: every index must land in an array.
      const arrays = path.flatMap((p, i) =>
        /^\d+$/.test(p)
          ? [sql`jsonb_typeof(${column} #> CAST(${param(path.slice(0, i))} AS TEXT[])) = 'array'`]
          : [],
      );
      const extract = sql`(${column} #> CAST(${param(path)} AS TEXT[]))`;
      const e = arrays.length ? sql`(CASE WHEN ${joinSql(arrays, ' AND ')} THEN ${extract} END)` : extract;
      const type = sql`jsonb_typeof(${e})`;
      return {
        kind: kindCase(type, {
          boolean: 'bool',
          number: 'number',
          string: 'string',
          array: 'array',
          object: 'object',
        }),
        str: sql`(CASE ${type} WHEN 'string' THEN ${e} #>> '{}' END)`,
        num: sql`(CASE ${type} WHEN 'number' THEN CAST(${e} #>> '{}' AS DOUBLE PRECISION) END)`,
        bool: sql`(CASE ${type} WHEN 'boolean' THEN (CASE WHEN ${e} = 'true'::jsonb THEN 1 ELSE 0 END) END)`,
      };
    },
    substr: (x, start, length) => sql`substr(${x}, ${raw(String(start))}, ${raw(String(length))})`,
    concat: (parts) => (parts.length ? joinSql(parts, ' || ') : raw("''")),
    nullsOrder: (desc) => (desc ? ' NULLS LAST' : ' NULLS FIRST'),
  };
}

const EXACT = 'utf8mb4_nopad_bin';

function mysqlDialect(base: SqlDialect): QueryDialect {
  const exact = (x: Sql) => sql`(${x}) COLLATE ${raw(EXACT)}`;
  return {
    name: 'mysql',
    quote: base.quote,
    randomSql: base.randomSql,
    rowidSql: base.rowidSql,
    text: (v) => sql`(${param(v)} COLLATE ${raw(EXACT)})`,
    number: (v) => param(v),
    bool: (v) => param(v ? 1 : 0),
    boolNumber: (x) => x,
    // Shortest decimal digits already; `1e20` → `1.0e+20` (small numbers stay in plain decimals here).
    numberText: (x) =>
      exact(
        sql`REGEXP_REPLACE(REGEXP_REPLACE(CAST(${x} AS CHAR CHARACTER SET utf8mb4), ${param('e([0-9])')}, ${param('e+\\1')}), ${param(BARE_MANTISSA)}, ${param('\\1.0e')})`,
      ),
    ordered: (x) => x,
    exact,
    fold: (x) => ({ text: base.foldCaseSql(x.text), params: x.params }),
    // The default LIKE escape character is `\` already (spelling it would depend on sql_mode).
    like: (x, p) => sql`${x} LIKE ${p}`,
    contains: (h, n) => sql`LOCATE(${n}, ${h}) > 0`,
    items: (column, alias) => ({
      from: sql`JSON_TABLE(${column}, '$[*]' COLUMNS (v LONGTEXT CHARACTER SET utf8mb4 COLLATE ${raw(EXACT)} PATH '$')) AS ${raw(alias)}`,
      value: raw(`${alias}.v`),
    }),
    arrayLength: (c) => sql`JSON_LENGTH(${c})`,
    arrayText: (c) => c,
    json(column, path) {
      // MariaDB reads `[0]` on a non-array as the value itself: every index must land in an array.
      const arrays = path.flatMap((p, i) =>
        /^\d+$/.test(p)
          ? [sql`JSON_TYPE(JSON_EXTRACT(${column}, ${param(dollarPath(path.slice(0, i)))})) = 'ARRAY'`]
          : [],
      );
      const extract = sql`JSON_EXTRACT(${column}, ${param(dollarPath(path))})`;
      const e = arrays.length ? sql`(CASE WHEN ${joinSql(arrays, ' AND ')} THEN ${extract} END)` : extract;
      const type = sql`JSON_TYPE(${e})`;
      return {
        kind: kindCase(type, {
          INTEGER: 'number',
          DOUBLE: 'number',
          STRING: 'string',
          BOOLEAN: 'bool',
          ARRAY: 'array',
          OBJECT: 'object',
        }),
        str: sql`(CASE ${type} WHEN 'STRING' THEN ${exact(sql`JSON_UNQUOTE(${e})`)} END)`,
        num: sql`(CASE WHEN ${type} IN ('INTEGER', 'DOUBLE') THEN CAST(${e} AS DOUBLE) END)`,
        bool: sql`(CASE ${type} WHEN 'BOOLEAN' THEN (CASE WHEN ${e} = 'true' THEN 1 ELSE 0 END) END)`,
      };
    },
    substr: (x, start, length) => sql`SUBSTR(${x}, ${raw(String(start))}, ${raw(String(length))})`,
    concat: (parts) => (parts.length ? sql`CONCAT(${joinSql(parts, ', ')})` : raw("''")),
    nullsOrder: () => '',
  };
}

const cache = new WeakMap<SqlDialect, QueryDialect>();

/** The query dialect for a storage dialect (one per engine, built once). */
export function queryDialect(base: SqlDialect): QueryDialect {
  let d = cache.get(base);
  if (!d) {
    d =
      base.name === 'postgres'
        ? postgresDialect(base)
        : base.name === 'mysql'
          ? mysqlDialect(base)
          : sqliteDialect(base);
    cache.set(base, d);
  }
  return d;
}
