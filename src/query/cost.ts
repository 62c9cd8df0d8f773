/**
 * The planner-side bound on joins through lists. The compiler cannot know how many rows a list step
 * (a back-relation, a multi relation's items, `@collection`) brings, but it knows which statistic bounds
 * it: each list step names its `StatKey`, and each sub-query whose joins multiply (one EXISTS) becomes a
 * group. The records layer looks the statistics up (records/fanout-stats.ts) and refuses a client's filter
 * whose groups could multiply past `MAX_ROWS_PER_RECORD`, before anything runs.
 */
export type StatKey =
  /** `@collection.name`: every row of the collection. */
  | { kind: 'rows'; collection: string }
  /** `name_via_field`: at most as many as the most any one record is pointed at through `field`. */
  | { kind: 'back'; collection: string; field: string }
  /** A list field's items (multi relation, `:each`): at most the longest stored list. */
  | { kind: 'items'; collection: string; field: string }
  /** A list whose length is known when compiling (`@request.body.tags:each`). */
  | { kind: 'fixed'; n: number };

/** Steps whose rows multiply together, per record of the outer query. */
export type CostGroup = StatKey[];

/**
 * A product of two or more list steps that may reach past this many rows per record is refused: its cost
 * grows with the data faster than the data (a cross product of lists), so no time limit measured on small
 * data bounds it. One step alone is never refused: it reads each related row once.
 */
export const MAX_ROWS_PER_RECORD = 100_000;

/** A stable name for a statistic (cache key). */
export function statId(key: StatKey): string {
  switch (key.kind) {
    case 'rows':
      return `rows:${key.collection}`;
    case 'fixed':
      return `fixed:${key.n}`;
    default:
      return `${key.kind}:${key.collection}:${key.field}`;
  }
}

/**
 * The groups that could multiply past the bound, given each statistic's value (unknown ones count as 1:
 * the time limit still holds). Answers the worst product found, or undefined when every group is within it.
 */
export function overBound(
  groups: CostGroup[],
  statValue: (key: StatKey) => number | undefined,
): number | undefined {
  let worst: number | undefined;
  for (const group of groups) {
    if (group.length < 2) continue;
    let product = 1;
    for (const key of group) product *= Math.max(1, key.kind === 'fixed' ? key.n : (statValue(key) ?? 1));
    if (product > MAX_ROWS_PER_RECORD && (worst === undefined || product > worst)) worst = product;
  }
  return worst;
}
