import type { AuthContext, RecordService } from '../records/index.ts';
import type { CollectionStore } from '../schema/index.ts';
import type { Broker } from './broker.ts';
import type { ClientAuth, RealtimeClient } from './client.ts';
import { parseSubscription } from './topics.ts';

/** What `POST /api/realtime` comes to: 204, 404 (no such client), 400 (another IP), 403 (another auth). */
export type SubscribeOutcome = 'ok' | 'missing' | 'ip' | 'auth';

export interface SubscribeRequest {
  clientId: string;
  ip: string;
  /** The request's auth (undefined: a guest), with its token's expiry. */
  auth: ClientAuth | undefined;
  subscriptions: readonly string[];
}

/** The request's auth as it crosses the bus: ids only; the node that holds the stream reads the record. */
export interface AuthRef {
  collectionId: string;
  recordId: string;
  isSuperuser: boolean;
  sessionId?: string;
  expiresAt: number;
}

export const authRefOf = (auth: ClientAuth | undefined): AuthRef | undefined => {
  const c = auth?.context;
  if (!auth || !c?.collection || !c.record) return undefined;
  return {
    collectionId: c.collection.id,
    recordId: String(c.record.id),
    isSuperuser: c.isSuperuser,
    ...(c.sessionId ? { sessionId: c.sessionId } : {}),
    // JSON has no Infinity: a token without expiry crosses as 0.
    expiresAt: Number.isFinite(auth.expiresAt) ? auth.expiresAt : 0,
  };
};

/** The auth an `AuthRef` names, read afresh; undefined (a guest) if its record is gone. */
export async function resolveAuthRef(
  ref: AuthRef | undefined,
  collections: CollectionStore,
  records: RecordService,
): Promise<ClientAuth | undefined> {
  if (!ref) return undefined;
  const collection = collections.find(ref.collectionId);
  const record = collection ? await records.find(collection, ref.recordId) : undefined;
  if (!collection || !record) return undefined;
  const context: AuthContext = {
    collection,
    record,
    isSuperuser: ref.isSuperuser,
    ...(ref.sessionId ? { sessionId: ref.sessionId } : {}),
  };
  return { context, expiresAt: ref.expiresAt || Number.POSITIVE_INFINITY };
}

/**
 * PocketBase's checks and update for a stream this node holds: the same IP as the stream's, and the same
 * auth unless the stream is a guest's (a guest may sign in; any other change is refused).
 */
export function subscribeHere(
  broker: Broker,
  client: RealtimeClient,
  request: Omit<SubscribeRequest, 'clientId'>,
): SubscribeOutcome {
  if (client.closed) return 'missing';
  if (client.ip !== request.ip) return 'ip';
  const bound = client.authContext();
  const next = request.auth?.context;
  const same =
    (bound?.record?.id ?? null) === (next?.record?.id ?? null) &&
    (bound?.collection?.id ?? null) === (next?.collection?.id ?? null);
  if (bound && !same) return 'auth';
  broker.bind(client, request.auth);
  broker.replace(client, request.subscriptions.map(parseSubscription));
  return 'ok';
}
