import type { ServerResponse } from 'node:http';
import { type ClientAuth, RealtimeClient } from './client.ts';
import type { GroupQuestions } from './questions.ts';
import type { Subscription } from './topics.ts';

/**
 * The subscriptions to one topic that ask the same question: the same auth record (or guest, or any
 * superuser) with the same options. An event is checked and serialized once per group, then sent to each
 * member: 10,000 streams of 1,000 users cost 1,000 checks, not 10,000.
 */
export interface Group {
  readonly key: string;
  /** `s` (superusers), `g` (guests), or the auth record's `collectionId/id`. */
  readonly authKey: string;
  /** The auth record's id, for callers signed in who are not superusers. */
  readonly authId: string | undefined;
  /** The options every member subscribed with (a representative subscription). */
  readonly sub: Subscription;
  readonly members: Set<Member>;
  /** What delivery.ts asks about events for this group, kept between events (questions.ts). */
  questions?: GroupQuestions;
}

export interface Member {
  client: RealtimeClient;
  sub: Subscription;
}

/**
 * Who a group's members are, for sharing answers: one key per signed-in record (superusers included: a
 * filter may read `@request.auth.id`, and two superusers are two answers), `g` for guests.
 */
export const authKeyOf = (auth: ClientAuth | undefined): string => {
  const c = auth?.context;
  const who = c?.collection && c.record ? `${c.collection.id}/${String(c.record.id)}` : 'g';
  return c?.isSuperuser ? `s:${who}` : who;
};

const authIdOf = (auth: ClientAuth | undefined): string | undefined => {
  const c = auth?.context;
  return !c?.isSuperuser && c?.collection && c.record ? String(c.record.id) : undefined;
};

/** The groups of one topic, by key, and by auth record id for an event only its owner may see. */
interface TopicGroups {
  readonly byKey: Map<string, Group>;
  readonly byAuthId: Map<string, Set<Group>>;
  /** Guests' and superusers' groups. */
  readonly others: Set<Group>;
}

/** Streams written to in one turn of the event loop by the keep-alive round. */
const HEARTBEAT_SLICE = 500;
/** Longest a timer may wait (about 24.8 days); a later expiry is re-armed when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Boot config of realtime (src/config/realtime.ts). */
export interface RealtimeLimits {
  /** Open streams one IP may hold; past this, 429. */
  maxClientsPerIp: number;
  /** Subscriptions one client may hold (PocketBase allows 1000 per request). */
  maxSubscriptions: number;
  /** Bytes a client may leave unread before it is disconnected. */
  bufferBytes: number;
  /** Seconds without a message or subscription change before a stream is closed. */
  idleTimeout: number;
  /** Seconds between SSE comments on a quiet stream. */
  heartbeat: number;
}

/**
 * The clients connected to this node and their subscriptions, indexed by topic so that an event finds its
 * subscribers without scanning every client.
 */
export class Broker {
  readonly #clients = new Map<string, RealtimeClient>();
  readonly #perIp = new Map<string, number>();
  readonly #byTopic = new Map<string, Set<RealtimeClient>>();
  readonly #groups = new Map<string, TopicGroups>();
  readonly #memberships = new Map<RealtimeClient, { group: Group; member: Member }[]>();
  readonly #expiry = new Map<RealtimeClient, NodeJS.Timeout>();
  readonly #timer: NodeJS.Timeout;

  readonly limits: RealtimeLimits;

  constructor(limits: RealtimeLimits) {
    this.limits = limits;
    // One timer for every client: heartbeats and idle checks at the heartbeat's pace.
    this.#timer = setInterval(() => this.#tick(), limits.heartbeat * 1000);
    this.#timer.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** A new client for this stream, or undefined if its IP holds too many already. */
  register(ip: string, res: ServerResponse): RealtimeClient | undefined {
    const count = this.#perIp.get(ip) ?? 0;
    if (count >= this.limits.maxClientsPerIp) return undefined;
    const client = new RealtimeClient(ip, res, this.limits, (c) => this.#unregister(c));
    this.#clients.set(client.id, client);
    this.#perIp.set(ip, count + 1);
    return client;
  }

  find(id: string): RealtimeClient | undefined {
    return this.#clients.get(id);
  }

  clients(): IterableIterator<RealtimeClient> {
    return this.#clients.values();
  }

  /** Replaces all of a client's subscriptions (PocketBase's `POST /api/realtime` semantics). */
  replace(client: RealtimeClient, subscriptions: readonly Subscription[]): void {
    this.#ungroup(client);
    for (const sub of client.subscriptions.values()) this.#unindex(client, sub.topic);
    client.subscriptions.clear();
    for (const sub of subscriptions) {
      if (!sub.raw) continue;
      client.subscriptions.set(sub.raw, sub);
      let set = this.#byTopic.get(sub.topic);
      if (!set) {
        set = new Set();
        this.#byTopic.set(sub.topic, set);
      }
      set.add(client);
    }
    this.#group(client);
    client.lastActive = Date.now();
  }

  /**
   * Binds `auth` to the client (undefined: a guest from now on) and moves its subscriptions to the groups
   * of that auth. A signed-in client becomes a guest by itself when its token expires.
   */
  bind(client: RealtimeClient, auth: ClientAuth | undefined): void {
    this.#ungroup(client);
    clearTimeout(this.#expiry.get(client));
    this.#expiry.delete(client);
    client.auth = auth;
    if (auth && Number.isFinite(auth.expiresAt)) {
      const arm = () => {
        const left = auth.expiresAt - Date.now();
        if (left <= 0) return this.bind(client, undefined);
        this.#expiry.set(client, setTimeout(arm, Math.min(left, MAX_TIMER_MS)).unref());
      };
      arm();
      if (client.auth !== auth) return;
    }
    this.#group(client);
  }

  /** The clients subscribed to `topic` (with or without options). */
  subscribers(topic: string): ReadonlySet<RealtimeClient> | undefined {
    return this.#byTopic.get(topic);
  }

  /** The groups subscribed to `topic`. */
  groups(topic: string): Iterable<Group> {
    return this.#groups.get(topic)?.byKey.values() ?? [];
  }

  /**
   * The groups subscribed to `topic` that could see a record only the caller whose id is `authId` may
   * see (besides guests and superusers): those signed in with that id, guests' and superusers'.
   */
  groupsOf(topic: string, authId: string): Group[] {
    const groups = this.#groups.get(topic);
    if (!groups) return [];
    const own = groups.byAuthId.get(authId);
    return own ? [...groups.others, ...own] : [...groups.others];
  }

  #group(client: RealtimeClient): void {
    const authKey = authKeyOf(client.auth);
    const authId = authIdOf(client.auth);
    const memberships: { group: Group; member: Member }[] = [];
    for (const sub of client.subscriptions.values()) {
      let groups = this.#groups.get(sub.topic);
      if (!groups) {
        groups = { byKey: new Map(), byAuthId: new Map(), others: new Set() };
        this.#groups.set(sub.topic, groups);
      }
      const key = `${authKey}\n${sub.optionsKey}`;
      let group = groups.byKey.get(key);
      if (!group) {
        group = { key, authKey, authId, sub, members: new Set() };
        groups.byKey.set(key, group);
        if (authId === undefined) groups.others.add(group);
        else {
          let own = groups.byAuthId.get(authId);
          if (!own) {
            own = new Set();
            groups.byAuthId.set(authId, own);
          }
          own.add(group);
        }
      }
      const member = { client, sub };
      group.members.add(member);
      memberships.push({ group, member });
    }
    this.#memberships.set(client, memberships);
  }

  #ungroup(client: RealtimeClient): void {
    for (const { group, member } of this.#memberships.get(client) ?? []) {
      group.members.delete(member);
      if (group.members.size > 0) continue;
      const groups = this.#groups.get(group.sub.topic);
      if (!groups) continue;
      groups.byKey.delete(group.key);
      groups.others.delete(group);
      const own = group.authId === undefined ? undefined : groups.byAuthId.get(group.authId);
      own?.delete(group);
      if (own?.size === 0) groups.byAuthId.delete(group.authId as string);
      if (groups.byKey.size === 0) this.#groups.delete(group.sub.topic);
    }
    this.#memberships.delete(client);
  }

  /** Ends every stream (shutdown): clients reconnect, through a load balancer to another node. */
  closeAll(reason: string): void {
    clearInterval(this.#timer);
    for (const client of [...this.#clients.values()]) client.close(reason);
  }

  #unindex(client: RealtimeClient, topic: string): void {
    const set = this.#byTopic.get(topic);
    if (!set) return;
    set.delete(client);
    if (set.size === 0) this.#byTopic.delete(topic);
  }

  #unregister(client: RealtimeClient): void {
    if (!this.#clients.delete(client.id)) return;
    this.#ungroup(client);
    clearTimeout(this.#expiry.get(client));
    this.#expiry.delete(client);
    for (const sub of client.subscriptions.values()) this.#unindex(client, sub.topic);
    const count = (this.#perIp.get(client.ip) ?? 1) - 1;
    if (count <= 0) this.#perIp.delete(client.ip);
    else this.#perIp.set(client.ip, count);
  }

  #tick(): void {
    const idleBefore = Date.now() - this.limits.idleTimeout * 1000;
    const clients = [...this.#clients.values()];
    // In slices, each on its own turn of the event loop: 10,000 writes at once would hold the loop for
    // hundreds of milliseconds, long enough for requests to be shed as overload.
    const slice = (start: number) => {
      for (const client of clients.slice(start, start + HEARTBEAT_SLICE)) {
        if (client.closed) continue;
        if (client.lastActive < idleBefore) client.close('The connection was idle for too long.');
        else client.heartbeat();
      }
      if (start + HEARTBEAT_SLICE < clients.length) setImmediate(slice, start + HEARTBEAT_SLICE);
    };
    slice(0);
  }
}
