import type { AuthContext, VisibilityCheck } from '../records/index.ts';
import type { RuleName } from '../schema/index.ts';
import type { Group } from './broker.ts';
import type { ClientAuth } from './client.ts';
import type { Subscription } from './topics.ts';

/** `@request.*` parts that vary per subscription; when a rule or filter reads none, subscribers can share a check. */
const PER_SUBSCRIPTION = ['@request.query', '@request.headers'];

/** A check with the key that tells which groups can share it (same rule, caller, filter and options). */
export interface KeyedCheck {
  key: string;
  check: VisibilityCheck;
}

/**
 * What a group's checks are asked with, kept on the group between events and rebuilt when the auth its
 * members hold changes (sign-in, a refreshed record, another first member): without it every event made
 * a caller, a key and a check for every group, which at 100 events a second over 1,000 groups was most
 * of the server's garbage.
 */
export class GroupQuestions {
  readonly from: ClientAuth | undefined;
  /** The caller the checks run as. */
  readonly auth: AuthContext;
  /** Whether the subscription's filter reads its query or headers (then its checks are its own). */
  readonly filterReads: boolean;
  readonly #group: Group;
  readonly #checks = new Map<RuleName, [KeyedCheck | undefined, KeyedCheck | undefined]>();

  constructor(group: Group, from: ClientAuth | undefined) {
    this.#group = group;
    this.from = from;
    this.auth = callerOf(from?.context, group.sub);
    this.filterReads = readsRequest(null, group.sub.query.filter ?? '');
  }

  /** The check of `rule` (with the filter, except for the manage rule); `perSub`: it reads the options. */
  check(rule: RuleName, perSub: boolean): KeyedCheck {
    let pair = this.#checks.get(rule);
    if (!pair) {
      pair = [undefined, undefined];
      this.#checks.set(rule, pair);
    }
    const slot = perSub ? 1 : 0;
    let keyed = pair[slot];
    if (!keyed) {
      const { authKey, sub } = this.#group;
      const options = perSub ? sub.optionsKey : '';
      if (rule === 'manageRule')
        keyed = { key: `manageRule\n${authKey}\n${options}`, check: { rule, auth: this.auth } };
      else {
        const filter = sub.query.filter ?? '';
        keyed = {
          key: `${rule}\n${authKey}\n${filter}\n${options}`,
          check: { rule, auth: this.auth, filter },
        };
      }
      pair[slot] = keyed;
    }
    return keyed;
  }
}

/** The group's questions for the auth its first member holds now. */
export function questionsOf(group: Group, from: ClientAuth | undefined): GroupQuestions {
  let questions = group.questions;
  if (!questions || questions.from !== from) {
    questions = new GroupQuestions(group, from);
    group.questions = questions;
  }
  return questions;
}

/** The caller a subscription's checks run as: the bound auth with the subscription's query and headers. */
function callerOf(auth: AuthContext | undefined, sub: Subscription): AuthContext {
  return {
    collection: auth?.collection ?? null,
    record: auth?.record ?? null,
    isSuperuser: auth?.isSuperuser ?? false,
    request: { method: 'GET', headers: sub.headers, query: sub.query, context: 'realtime' },
  };
}

/** Whether a rule or filter reads what varies per subscription (its query or headers). */
export function readsRequest(rule: string | null, filter: string): boolean {
  return PER_SUBSCRIPTION.some((part) => rule?.includes(part) || filter.includes(part));
}
