import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';
import type { RecordEvent, RecordService, RecordValues } from '../records/index.ts';
import type { CollectionStore } from '../schema/index.ts';
import { Broker, type RealtimeLimits } from './broker.ts';
import { type Outgoing, prepareRecordEvent, type RecordAction } from './delivery.ts';
import { createForwarder } from './forward.ts';
import {
  deliverOAuth2,
  MAX_OAUTH2_STATE_LENGTH,
  type OAuth2Delivery,
  type OAuth2Redirect,
} from './oauth2.ts';
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
/** Asked of every node before a delete commits: check it for your subscribers while the record is there. */
const PREPARE_DELETE = 'prepare-delete';
/**
 * How long a delete waits for the other nodes' checks (inside its transaction). A node that has not answered
 * by then checks the delete after the commit, from its values, as a node does that missed the question.
 */
const PREPARE_DELETE_WAIT_MS = 500;
/** How long a node keeps checks of a delete that has not been announced (rolled back, or the writer died). */
const PREPARED_DELETE_TTL_MS = 30_000;
interface RecordMessage {
  action: RecordAction;
  collectionId: string;
  record: RecordValues;
  /** A delete every node checked before it committed (the node that wrote it too), kept under this id. */
  prepared?: string;
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
  /** `/api/oauth2-redirect`: the provider's answer to the stream named by `state`, on whichever node. */
  oauth2(message: OAuth2Redirect, ip: string): Promise<OAuth2Delivery>;
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

  // Requests for streams held by other nodes (behind a load balancer), and theirs for ours.
  // Deletes another node is about to commit, checked here while the record can still be read (by id).
  const preparedDeletes = new Map<string, Promise<Outgoing[]>>();
  /** Kept until the delete is announced; one that is rolled back is never announced. */
  const keepPrepared = (id: string, prepared: Promise<Outgoing[]>) => {
    preparedDeletes.set(id, prepared);
    setTimeout(() => preparedDeletes.delete(id), PREPARED_DELETE_TTL_MS).unref();
  };
  const forwarder = createForwarder({
    bus,
    onError: deps.onError,
    async handle({ kind, clientId, payload }) {
      if (kind === PREPARE_DELETE) {
        const { id, message } = payload as { id: string; message: RecordMessage };
        const prepared = prepare(message);
        keepPrepared(id, prepared);
        await prepared.catch(() => {});
        return true;
      }
      const client = broker.find(clientId);
      if (!client) return undefined;
      if (kind === 'oauth2') {
        const { message, ip } = payload as { message: OAuth2Redirect; ip: string };
        return deliverOAuth2(broker, message, ip);
      }
      const p = payload as { ip: string; auth?: AuthRef; subscriptions: string[] };
      const auth = await resolveAuthRef(p.auth, collections, records);
      return subscribeHere(broker, client, { ip: p.ip, auth, subscriptions: p.subscriptions });
    },
  });

  const unsubscribers = [
    bus.subscribe(RECORDS_TOPIC, (message) => {
      const m = message as RecordMessage;
      refreshAuth(m);
      // A delete checked before the commit (here, or on the node that deleted) is sent as checked;
      // otherwise it is checked now.
      const prepared = m.prepared ? preparedDeletes.get(m.prepared) : undefined;
      if (m.prepared) preparedDeletes.delete(m.prepared);
      enqueue(prepared ?? prepare(m));
    }),
    bus.subscribe(CUSTOM_TOPIC, (message) => {
      const { topic, data } = message as { topic: string; data: string };
      for (const client of broker.subscribers(topic) ?? [])
        for (const sub of client.subscriptions.values()) if (sub.topic === topic) client.send(sub.raw, data);
    }),
  ];
  const announce = (action: RecordAction) => (event: RecordEvent, next: () => Promise<void>) => {
    // One node and no stream open: nobody to tell (and no signed-in client to refresh). This skips a copy of
    // the record and its JSON round trip on every write of a server nobody listens to.
    if (bus.local && broker.size === 0) return next();
    const message: RecordMessage = {
      action,
      collectionId: event.collection.id,
      record: withoutSecrets(event),
      prepared: deleteIds.get(event),
    };
    // Ordered: this node's clients get it in the order every node's do, after the events of writes other
    // nodes answered before this one (a create there, then an update here, arrive as create, update).
    bus.publish(RECORDS_TOPIC, message, { ordered: true }).catch(deps.onError);
    return next();
  };
  const hookIds = [
    records.hooks.afterCreate.bind(announce('create')),
    records.hooks.afterUpdate.bind(announce('update')),
  ];
  // Deletes: checked inside the delete, before its statement runs, here and (asked over the bus) on every
  // other node; sent after the commit.
  const deleteIds = new WeakMap<RecordEvent, string>();
  // Last of the delete handlers (highest priority number), right before the statement runs.
  const deleteId = records.hooks.delete.bind(
    async (event, next) => {
      const message: RecordMessage = {
        action: 'delete',
        collectionId: event.collection.id,
        record: withoutSecrets(event),
      };
      const id = randomUUID();
      deleteIds.set(event, id);
      // The other nodes check it for their subscribers now too (a node alone does not wait at all).
      const elsewhere = forwarder.askAll(
        { kind: PREPARE_DELETE, clientId: '', payload: { id, message } },
        PREPARE_DELETE_WAIT_MS,
      );
      if (broker.size > 0) {
        const prepared = prepare({ ...message, record: event.record });
        // Awaited: the record must still be readable when the checks run.
        await prepared.catch(() => {});
        keepPrepared(id, prepared);
      }
      await elsewhere;
      await next();
    },
    { priority: 1000 },
  );
  // Every node, this one too, sends what it checked before the commit when the announce reaches it (or,
  // if it could not check it then, checks it now).
  const afterDeleteId = records.hooks.afterDelete.bind(announce('delete'));

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

  return {
    broker,
    subscribe(request) {
      const client = broker.find(request.clientId);
      if (client) return Promise.resolve(subscribeHere(broker, client, request));
      const payload = {
        ip: request.ip,
        subscriptions: [...request.subscriptions],
        auth: authRefOf(request.auth),
      };
      return forwarder.ask({ kind: 'subscribe', clientId: request.clientId, payload }, 'missing');
    },
    oauth2(message, ip) {
      const here = deliverOAuth2(broker, message, ip);
      if (here !== 'unknown-client' || !message.state || message.state.length > MAX_OAUTH2_STATE_LENGTH)
        return Promise.resolve(here);
      return forwarder.ask({ kind: 'oauth2', clientId: message.state, payload: { message, ip } }, here);
    },
    async publish(topic, data) {
      await bus.publish(CUSTOM_TOPIC, { topic, data: JSON.stringify(data ?? null) });
    },
    endSessions(ids) {
      const ended = new Set(ids);
      for (const client of broker.clients()) {
        const session = client.auth?.context.sessionId;
        if (session && ended.has(session)) broker.bind(client, undefined);
      }
    },
    close() {
      forwarder.close();
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
