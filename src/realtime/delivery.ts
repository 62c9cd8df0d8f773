import { type FieldsTree, parseFields, pickFields } from '../query/index.ts';
import type { AuthContext, RecordService, RecordValues, VisibilityCheck } from '../records/index.ts';
import type { Collection } from '../schema/index.ts';
import type { Broker } from './broker.ts';
import type { RealtimeClient } from './client.ts';
import { recordTopics, type Subscription } from './topics.ts';

export type RecordAction = 'create' | 'update' | 'delete';

/** One message to one client: the subscription it is sent under and its JSON text. */
export interface Outgoing {
  client: RealtimeClient;
  event: string;
  data: string;
}

interface Target {
  client: RealtimeClient;
  sub: Subscription;
  auth: AuthContext;
  authKey: string;
  check: number;
  manage: number;
}

/** `@request.*` parts that vary per subscription; when a rule or filter reads none, subscribers can share a check. */
const PER_SUBSCRIPTION = ['@request.query', '@request.headers'];

/**
 * Works out who receives one record event and what each receives. Subscribers whose checks are the same
 * (same rule, same caller, same filter) share one check, and all the checks of one event go to the
 * database together (records' `checkVisibility`: one statement per 64, none for checks that need no
 * database). Answers are built once per distinct caller and options, following the records API: the
 * caller's view of hidden fields and emails, `expand` as the caller, then `fields`.
 */
export async function prepareRecordEvent(
  broker: Broker,
  records: RecordService,
  collection: Collection,
  action: RecordAction,
  values: RecordValues,
): Promise<Outgoing[]> {
  const id = String(values.id);
  const checks: VisibilityCheck[] = [];
  const checkIndex = new Map<string, number>();
  const addCheck = (key: string, check: VisibilityCheck) => {
    let index = checkIndex.get(key);
    if (index === undefined) {
      index = checks.push(check) - 1;
      checkIndex.set(key, index);
    }
    return index;
  };
  const targets: Target[] = [];
  const seen = new Set<string>();
  const now = Date.now();
  for (const { topic, rule } of recordTopics(collection, id)) {
    if (seen.has(topic)) continue;
    seen.add(topic);
    for (const client of broker.subscribers(topic) ?? []) {
      for (const sub of client.subscriptions.values()) {
        if (sub.topic !== topic) continue;
        const auth = callerOf(client, sub, now);
        const authKey = keyOf(auth);
        const filter = sub.query.filter ?? '';
        const perSub = readsRequest(collection[rule], filter) ? `${json(sub.query)}${json(sub.headers)}` : '';
        const check = addCheck(`${rule}\n${authKey}\n${filter}\n${perSub}`, { rule, auth, filter });
        const manage =
          collection.type === 'auth'
            ? addCheck(
                `manageRule\n${authKey}\n${readsRequest(manageRuleOf(collection), '') ? perSub : ''}`,
                {
                  rule: 'manageRule',
                  auth,
                },
              )
            : -1;
        targets.push({ client, sub, auth, authKey, check, manage });
      }
    }
  }
  if (targets.length === 0) return [];
  const answers = await records.checkVisibility(collection, values, checks);
  const bodies = new Map<string, Promise<string>>();
  const out: Outgoing[] = [];
  for (const t of targets) {
    if (!answers[t.check]) continue;
    const manages = t.manage >= 0 && answers[t.manage] === true;
    const expand = t.sub.query.expand ?? '';
    const fields = t.sub.query.fields ?? '';
    const key = `${t.authKey}\n${manages}\n${expand}\n${fields}`;
    let body = bodies.get(key);
    if (!body) {
      body = answer(records, collection, action, values, t.auth, manages, expand, fields);
      bodies.set(key, body);
    }
    out.push({ client: t.client, event: t.sub.raw, data: await body });
  }
  return out;
}

async function answer(
  records: RecordService,
  collection: Collection,
  action: RecordAction,
  values: RecordValues,
  auth: AuthContext,
  manages: boolean,
  expand: string,
  fields: string,
): Promise<string> {
  const record = records.toJson(collection, values, auth, manages);
  // A bad `expand` or `fields` is ignored, as PocketBase does: there is no request to answer 400 to.
  try {
    if (expand) await records.expand(collection, [record], records.parseExpand(collection, expand), auth);
  } catch {
    delete record.expand;
  }
  let picked: unknown = record;
  if (fields) {
    let tree: FieldsTree | undefined;
    try {
      tree = parseFields(fields);
    } catch {
      tree = undefined;
    }
    if (tree) picked = pickFields(record, tree);
  }
  return JSON.stringify({ action, record: picked });
}

/** The caller a subscription's checks run as: the client's auth with the subscription's query and headers. */
function callerOf(client: RealtimeClient, sub: Subscription, now: number): AuthContext {
  const auth = client.authContext(now);
  return {
    collection: auth?.collection ?? null,
    record: auth?.record ?? null,
    isSuperuser: auth?.isSuperuser ?? false,
    request: { method: 'GET', headers: sub.headers, query: sub.query, context: 'realtime' },
  };
}

const keyOf = (auth: AuthContext) =>
  auth.isSuperuser ? 's' : auth.collection && auth.record ? `${auth.collection.id}/${auth.record.id}` : 'g';

const json = (value: unknown) => JSON.stringify(value);

function readsRequest(rule: string | null, filter: string): boolean {
  return PER_SUBSCRIPTION.some((part) => rule?.includes(part) || filter.includes(part));
}

function manageRuleOf(collection: Collection): string | null {
  const value = collection.options.manageRule;
  return typeof value === 'string' ? value : null;
}
