import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';
import type { RecordEvent, RecordService, RecordValues } from '../records/index.ts';
import type { CollectionStore } from '../schema/index.ts';
import { Broker, type RealtimeLimits } from './broker.ts';
import { type Outgoing, prepareRecordEvent, type RecordAction } from './delivery.ts';
import {
  type AuthRef,
  authRefOf,
  resolveAuthRef,
  type SubscribeOutcome,
  type SubscribeRequest,
  subscribeHere,
} from './subscribe.ts';

/** Bus topics: record events and custom messages reach the subscribers of every node. */
const RECORDS_TOPIC = 'realtime.records';
const CUSTOM_TOPIC = 'realtime.custom';
/** A `POST /api/realtime` for a stream held by another node, and the answers to it. */
const SUBSCRIBE_TOPIC = 'realtime.subscribe';
const replyTopic = (nodeId: string) => `realtime.subscribed.${nodeId}`;
/** Nodes say they are there this often; one not heard from for three times as long is gone. */
const PRESENCE_TOPIC = 'realtime.presence';
const PRESENCE_MS = 2000;
/** How long a node waits for the others to say whether they hold a stream. */
const ASK_TIMEOUT_MS = 2000;

interface SubscribeMessage {
  id: string;
  from: string;
  clientId: string;
  ip: string;
  auth?: AuthRef;
  subscriptions: string[];
}
interface SubscribeReply {
  id: string;
  outcome: SubscribeOutcome;
}

interface RecordMessage {
  action: RecordAction;
  collectionId: string;
  record: RecordValues;
  /** The node that wrote it: that node has checked its own subscribers for a delete already. */
  origin?: string;
}

export interface Realtime {
  readonly broker: Broker;
  /** Sends `data` (JSON) to every client subscribed to the custom topic `topic`, on every node. */
  publish(topic: string, data: unknown): Promise<void>;
  /**
   * `POST /api/realtime`: applies the subscriptions to the stream `clientId`, on this node or, behind a
   * load balancer, on the node that holds it (asked over the bus).
   */
  subscribe(request: SubscribeRequest): Promise<SubscribeOutcome>;
  /** Turns the clients of these sessions into guests (sign-out, revocation, password change). */
  endSessions(ids: readonly string[]): void;
  /** Ends every stream (shutdown), so that clients reconnect to another node. */
  close(): void;
}

/**
 * Realtime on one node: record events from the records layer, checked per subscriber and sent in the
 * order they arrive. Every event travels over the bus with the record's values (secrets left out), and
 * each node checks it for its own subscribers against those values. A delete is also checked on its own
 * node before it commits, while what the record points to (a parent a cascade removes with it) can
 * still be read, and sent once it has committed; nothing is sent for a rolled-back write.
 */
export function createRealtime(deps: {
  records: RecordService;
  collections: CollectionStore;
  bus: Bus;
  limits: RealtimeLimits;
  onError: (err: unknown) => void;
}): Realtime {
  const { records, collections, bus } = deps;
  const broker = new Broker(deps.limits);
  const nodeId = randomUUID();
  // Events are checked side by side but sent one after another, in the order they came.
  let sending: Promise<void> = Promise.resolve();
  const enqueue = (prepared: Promise<Outgoing[]>) => {
    sending = sending.then(async () => {
      try {
        for (const m of await prepared) m.client.send(m.event, m.data);
      } catch (err) {
        deps.onError(err);
      }
    });
  };
  const prepare = (message: RecordMessage): Promise<Outgoing[]> => {
    const collection = collections.find(message.collectionId);
    if (!collection || broker.size === 0) return Promise.resolve([]);
    return prepareRecordEvent(broker, records, collection, message.action, message.record);
  };

  // Other nodes, by id, with when they were last heard from: a stream this node does not hold may be theirs.
  const peers = new Map<string, number>();
  const livePeers = () => {
    const since = Date.now() - 3 * PRESENCE_MS;
    for (const [id, seen] of peers) if (seen < since) peers.delete(id);
    return peers.size;
  };
  const announcePresence = () => bus.publish(PRESENCE_TOPIC, nodeId).catch(deps.onError);
  const presence = setInterval(announcePresence, PRESENCE_MS);
  presence.unref();
  announcePresence();
  const waiting = new Map<string, { pending: number; resolve: (o: SubscribeOutcome) => void }>();

  async function subscribeFor(message: SubscribeMessage): Promise<void> {
    const client = broker.find(message.clientId);
    let outcome: SubscribeOutcome = 'missing';
    if (client) {
      const auth = await resolveAuthRef(message.auth, collections, records);
      outcome = subscribeHere(broker, client, { ip: message.ip, auth, subscriptions: message.subscriptions });
    }
    await bus.publish(replyTopic(message.from), { id: message.id, outcome } satisfies SubscribeReply);
  }

  const unsubscribers = [
    bus.subscribe(PRESENCE_TOPIC, (id) => {
      if (typeof id === 'string' && id !== nodeId) {
        // A node that just started answers with its own presence, so that it knows this one at once.
        if (!peers.has(id)) announcePresence();
        peers.set(id, Date.now());
      }
    }),
    bus.subscribe(SUBSCRIBE_TOPIC, (message) => {
      const m = message as SubscribeMessage;
      if (m.from !== nodeId) subscribeFor(m).catch(deps.onError);
    }),
    bus.subscribe(replyTopic(nodeId), (message) => {
      const { id, outcome } = message as SubscribeReply;
      const wait = waiting.get(id);
      if (!wait) return;
      wait.pending--;
      if (outcome !== 'missing' || wait.pending <= 0) wait.resolve(outcome);
    }),
    bus.subscribe(RECORDS_TOPIC, (message) => {
      const m = message as RecordMessage;
      refreshAuth(m);
      if (m.action === 'delete' && m.origin === nodeId) return;
      enqueue(prepare(m));
    }),
    bus.subscribe(CUSTOM_TOPIC, (message) => {
      const { topic, data } = message as { topic: string; data: string };
      for (const client of broker.subscribers(topic) ?? [])
        for (const sub of client.subscriptions.values()) if (sub.topic === topic) client.send(sub.raw, data);
    }),
  ];
  const announce = (action: RecordAction) => (event: RecordEvent, next: () => Promise<void>) => {
    const message: RecordMessage = {
      action,
      collectionId: event.collection.id,
      record: withoutSecrets(event),
      origin: nodeId,
    };
    bus.publish(RECORDS_TOPIC, message).catch(deps.onError);
    return next();
  };
  const hookIds = [
    records.hooks.afterCreate.bind(announce('create')),
    records.hooks.afterUpdate.bind(announce('update')),
  ];
  // Deletes: checked inside the delete, before its statement runs; sent after the commit.
  const deletes = new WeakMap<RecordEvent, Promise<Outgoing[]>>();
  // Last of the delete handlers (highest priority number), right before the statement runs.
  const deleteId = records.hooks.delete.bind(
    async (event, next) => {
      if (broker.size > 0) {
        const prepared = prepare({
          action: 'delete',
          collectionId: event.collection.id,
          record: event.record,
        });
        // Awaited: the record must still be readable when the checks run.
        await prepared.catch(() => {});
        deletes.set(event, prepared);
      }
      await next();
    },
    { priority: 1000 },
  );
  const announceDelete = announce('delete');
  const afterDeleteId = records.hooks.afterDelete.bind((event, next) => {
    const prepared = deletes.get(event);
    if (prepared) enqueue(prepared);
    // Other nodes check theirs from the values: the record itself is gone, what it points to is not.
    return announceDelete(event, next);
  });

  /** Clients signed in as a changed auth record see it as changed; a deleted one makes them guests. */
  function refreshAuth({ action, collectionId, record }: RecordMessage): void {
    if (action === 'create' || collections.find(collectionId)?.type !== 'auth') return;
    for (const client of broker.clients()) {
      const auth = client.auth?.context;
      if (auth?.collection?.id !== collectionId || auth.record?.id !== record.id) continue;
      // The same auth record (the same groups): its new values are what `@request.auth.*` reads now.
      if (action === 'delete') broker.bind(client, undefined);
      else if (client.auth) client.auth = { ...client.auth, context: { ...auth, record } };
    }
  }

  function ask(request: SubscribeRequest): Promise<SubscribeOutcome> {
    const peerCount = livePeers();
    if (peerCount === 0) return Promise.resolve('missing');
    const id = randomUUID();
    return new Promise((resolve) => {
      const timer = setTimeout(() => done('missing'), ASK_TIMEOUT_MS);
      const done = (outcome: SubscribeOutcome) => {
        clearTimeout(timer);
        waiting.delete(id);
        resolve(outcome);
      };
      waiting.set(id, { pending: peerCount, resolve: done });
      const message: SubscribeMessage = {
        id,
        from: nodeId,
        clientId: request.clientId,
        ip: request.ip,
        subscriptions: [...request.subscriptions],
        ...(request.auth ? { auth: authRefOf(request.auth) } : {}),
      };
      bus.publish(SUBSCRIBE_TOPIC, message).catch(() => done('missing'));
    });
  }

  return {
    broker,
    subscribe(request) {
      const client = broker.find(request.clientId);
      if (client) return Promise.resolve(subscribeHere(broker, client, request));
      return ask(request);
    },
    publish: (topic, data) => bus.publish(CUSTOM_TOPIC, { topic, data: JSON.stringify(data ?? null) }),
    endSessions(ids) {
      const ended = new Set(ids);
      for (const client of broker.clients()) {
        const session = client.auth?.context.sessionId;
        if (session && ended.has(session)) broker.bind(client, undefined);
      }
    },
    close() {
      clearInterval(presence);
      for (const off of unsubscribers) off();
      records.hooks.afterCreate.unbind(hookIds[0] as string);
      records.hooks.afterUpdate.unbind(hookIds[1] as string);
      records.hooks.delete.unbind(deleteId);
      records.hooks.afterDelete.unbind(afterDeleteId);
      broker.closeAll('The server is shutting down.');
    },
  };
}

/** Password hashes and token keys never leave the node (the bus may be a shared Redis). */
function withoutSecrets(event: RecordEvent): RecordValues {
  const record = { ...event.record };
  for (const field of event.collection.fields)
    if (field.type === 'password' || field.name === 'tokenKey') delete record[field.name];
  return record;
}
