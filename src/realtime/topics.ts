/**
 * A realtime subscription as the PocketBase SDK sends it: a topic, optionally followed by
 * `?options=<JSON {query, headers}>` (the `filter`, `expand`, `fields` and headers a subscriber's rules and
 * answers are read with). The whole string is also the SSE event name its messages are sent under.
 */
export interface Subscription {
  raw: string;
  /** The part before `?`: `posts/*`, `posts/<id>`, `posts` (PocketBase's older form of `posts/*`), or a custom topic. */
  topic: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  /** The options as one string: subscriptions with equal options (and auth) share their checks. */
  optionsKey: string;
}

/** PocketBase's limits on `POST /api/realtime`. */
export const MAX_SUBSCRIPTION_LENGTH = 2500;

export function parseSubscription(raw: string): Subscription {
  const mark = raw.indexOf('?');
  const topic = mark < 0 ? raw : raw.slice(0, mark);
  const subscription: Subscription = { raw, topic, query: {}, headers: {}, optionsKey: '{}{}' };
  if (mark < 0) return subscription;
  const options = readOptions(new URLSearchParams(raw.slice(mark + 1)).get('options'));
  for (const [key, value] of Object.entries(options.query)) {
    const text = asText(value);
    if (text !== undefined) subscription.query[key] = text;
  }
  for (const [key, value] of Object.entries(options.headers)) {
    const text = asText(value);
    // Header names as rules read them on HTTP requests: lower case, `-` as `_`.
    if (text !== undefined) subscription.headers[key.toLowerCase().replaceAll('-', '_')] = text;
  }
  subscription.optionsKey = sortedJson(subscription.query) + sortedJson(subscription.headers);
  return subscription;
}

const sortedJson = (o: Record<string, string>) =>
  JSON.stringify(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : 1)));

/** Options that are not JSON objects are ignored, as PocketBase ignores them. */
function readOptions(text: string | null): {
  query: Record<string, unknown>;
  headers: Record<string, unknown>;
} {
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  const object = (value: unknown) =>
    value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const options = object(parsed);
  return { query: object(options.query), headers: object(options.headers) };
}

/** Single values only, as on HTTP requests: strings, numbers and booleans as their text. */
function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The topics a record event is sent to, each with the rule that decides who receives it: the record's own
 * topic (view rule) and the collection's (list rule), by name and by id.
 */
export function recordTopics(
  collection: { id: string; name: string },
  id: string,
): { topic: string; rule: 'viewRule' | 'listRule' }[] {
  const { name, id: cid } = collection;
  return [
    { topic: `${name}/${id}`, rule: 'viewRule' },
    { topic: `${cid}/${id}`, rule: 'viewRule' },
    { topic: `${name}/*`, rule: 'listRule' },
    { topic: `${cid}/*`, rule: 'listRule' },
    { topic: name, rule: 'listRule' },
    { topic: cid, rule: 'listRule' },
  ];
}
