import { type FieldsTree, parseFields, pickFields } from '../query/index.ts';
import {
  type AuthContext,
  ownerFieldOf,
  type RecordService,
  type RecordValues,
  type VisibilityCheck,
} from '../records/index.ts';
import type { Collection } from '../schema/index.ts';
import type { Broker, Group } from './broker.ts';
import type { RealtimeClient } from './client.ts';
import { type KeyedCheck, questionsOf, readsRequest } from './questions.ts';
import { recordTopics } from './topics.ts';

export type RecordAction = 'create' | 'update' | 'delete';

/** One message to one client: the subscription it is sent under and its JSON text. */
export interface Outgoing {
  client: RealtimeClient;
  event: string;
  data: string;
}

interface Candidate {
  group: Group;
  auth: AuthContext;
  check: number;
  manage: number;
}

/**
 * Works out who receives one record event and what each receives. The broker keeps subscriptions in
 * groups (same topic, same auth record, same options); groups whose checks are the same (same rule, same
 * caller, same filter) share one check, and all the checks of one event go to the records layer together
 * (`checkVisibility`: none for rules decided in memory, one statement per 64 for the rest); under an
 * owner rule only the owner's groups are checked, not every user's. Answers are
 * built once per distinct caller and options, following the records API: the caller's view of hidden
 * fields and emails, `expand` as the caller, then `fields`.
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
  const addCheck = ({ key, check }: KeyedCheck) => {
    let index = checkIndex.get(key);
    if (index === undefined) {
      index = checks.push(check) - 1;
      checkIndex.set(key, index);
    }
    return index;
  };
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  const manageReads = readsRequest(manageRuleOf(collection), '');
  for (const { topic, rule } of recordTopics(collection, id)) {
    if (seen.has(topic)) continue;
    seen.add(topic);
    const ruleReads = readsRequest(collection[rule], '');
    // An owner rule (`owner = @request.auth.id`) passes for the owner alone among signed-in callers:
    // the other users' groups are not asked at all (guests' and superusers' still are).
    const ownerField = ownerFieldOf(collection[rule], collection);
    const owner = ownerField === undefined ? undefined : values[ownerField];
    const groups = typeof owner === 'string' ? broker.groupsOf(topic, owner) : broker.groups(topic);
    for (const group of groups) {
      const first = group.members.values().next().value;
      if (!first) continue;
      const questions = questionsOf(group, first.client.auth);
      const check = addCheck(questions.check(rule, ruleReads || questions.filterReads));
      const manage = collection.type === 'auth' ? addCheck(questions.check('manageRule', manageReads)) : -1;
      candidates.push({ group, auth: questions.auth, check, manage });
    }
  }
  if (candidates.length === 0) return [];
  const answers = await records.checkVisibility(collection, values, checks);
  const bodies = new Map<string, Promise<string>>();
  const out: Outgoing[] = [];
  for (const c of candidates) {
    if (!answers[c.check]) continue;
    const manages = c.manage >= 0 && answers[c.manage] === true;
    const expand = c.group.sub.query.expand ?? '';
    const fields = c.group.sub.query.fields ?? '';
    const key = `${c.group.authKey}\n${manages}\n${expand}\n${fields}`;
    let body = bodies.get(key);
    if (!body) {
      body = answer(records, collection, action, values, c.auth, manages, expand, fields);
      bodies.set(key, body);
    }
    const data = await body;
    for (const member of c.group.members) out.push({ client: member.client, event: member.sub.raw, data });
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

function manageRuleOf(collection: Collection): string | null {
  const value = collection.options.manageRule;
  return typeof value === 'string' ? value : null;
}
