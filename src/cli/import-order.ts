import { TransferError } from '../transfer/index.ts';

/** The parts of a collection definition (as `collections.json` holds it) that decide the import order. */
export interface OrderDef {
  id: string;
  name: string;
  fields: { name: string; type: string; collectionId?: string; required?: boolean }[];
}

/** Which collection to import when, and which relation fields wait for the second pass. */
export interface ImportOrder {
  order: string[];
  /** Per collection, the relation fields left out of the first pass and set by an update afterwards. */
  deferred: Map<string, string[]>;
}

/**
 * Orders collections so that a relation's target is imported before the collection that points at it
 * (the records API refuses a relation to an id that does not exist yet). Relations that cannot be
 * ordered — to the same collection, or around a cycle of collections — wait for a second pass when they
 * are optional; a cycle held together by required relations alone cannot be imported and is refused
 * before anything is written. Relations to collections outside the import are not ordered (their rows
 * must already be there). Ties keep the input order, so the plan is the same on every run.
 */
export function planImportOrder(defs: OrderDef[]): ImportOrder {
  const byId = new Map(defs.map((d) => [d.id, d.name]));
  const edges = new Map<string, { field: string; target: string; required: boolean }[]>();
  for (const d of defs)
    edges.set(
      d.name,
      d.fields
        .filter((f) => f.type === 'relation' && f.collectionId && byId.has(f.collectionId))
        .map((f) => ({ field: f.name, target: byId.get(f.collectionId!)!, required: f.required === true })),
    );
  const component = components(
    defs.map((d) => d.name),
    (n) => edges.get(n)!.map((e) => e.target),
  );
  const deferred = new Map<string, string[]>();
  const needs = new Map<string, Set<string>>();
  for (const d of defs) {
    const wait: string[] = [];
    const before = new Set<string>();
    for (const e of edges.get(d.name)!) {
      const cyclic = component.get(e.target) === component.get(d.name);
      if (cyclic && !e.required) wait.push(e.field);
      else before.add(e.target);
    }
    if (wait.length) deferred.set(d.name, wait);
    needs.set(d.name, before);
  }
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < defs.length) {
    const next = defs.find((d) => !placed.has(d.name) && [...needs.get(d.name)!].every((t) => placed.has(t)));
    if (!next) throw new TransferError(describeCycle(defs, placed, edges));
    order.push(next.name);
    placed.add(next.name);
  }
  return { order, deferred };
}

function describeCycle(
  defs: OrderDef[],
  placed: Set<string>,
  edges: Map<string, { field: string; target: string; required: boolean }[]>,
): string {
  const left = defs.filter((d) => !placed.has(d.name)).map((d) => d.name);
  const links = left.flatMap((n) =>
    edges
      .get(n)!
      .filter((e) => e.required && left.includes(e.target))
      .map((e) => `${n}.${e.field} → ${e.target}`),
  );
  return (
    `required relations form a cycle (${links.join(', ')}): no order can import them. ` +
    'Make one of these fields optional for the import, and required again afterwards'
  );
}

/** Strongly connected components (Tarjan): answers each node's component number. */
function components(nodes: string[], next: (n: string) => string[]): Map<string, number> {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const component = new Map<string, number>();
  const stack: string[] = [];
  let counter = 0;
  let found = 0;
  const visit = (n: string) => {
    index.set(n, counter);
    low.set(n, counter++);
    stack.push(n);
    for (const m of next(n)) {
      if (!index.has(m)) {
        visit(m);
        low.set(n, Math.min(low.get(n)!, low.get(m)!));
      } else if (!component.has(m)) low.set(n, Math.min(low.get(n)!, index.get(m)!));
    }
    if (low.get(n) !== index.get(n)) return;
    for (;;) {
      const m = stack.pop()!;
      component.set(m, found);
      if (m === n) break;
    }
    found++;
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return component;
}
