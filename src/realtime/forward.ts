import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';

/** A request for the node that holds a stream: what it is, for which client, and its data. */
export interface Forwarded {
  kind: string;
  clientId: string;
  payload: unknown;
}

/** Nodes say they are there this often; one not heard from for three times as long is gone. */
const PRESENCE_MS = 2000;
/** How long a node waits for the others to say whether they hold a stream. */
const ASK_TIMEOUT_MS = 2000;
const PRESENCE_TOPIC = 'realtime.presence';
const ASK_TOPIC = 'realtime.ask';
const replyTopic = (node: string) => `realtime.answer.${node}`;

interface Ask extends Forwarded {
  id: string;
  from: string;
}
interface Answer {
  id: string;
  /** Whether the answering node holds the stream; `outcome` is its result if it does. */
  held: boolean;
  outcome?: unknown;
}

export interface Forwarder {
  /**
   * Asks the other nodes to handle `request` for a stream this node does not hold. Resolves with the
   * outcome of the node that holds it, or `notHeld` if none does (or none answers within 2 s). A node alone
   * (no other node heard from) resolves at once.
   */
  ask<T>(request: Forwarded, notHeld: T): Promise<T>;
  close(): void;
}

/**
 * Requests that must reach the node holding a realtime stream (a subscription change, an OAuth2 answer),
 * when a load balancer sent them to another node: asked over the bus, answered by every node (held or
 * not), so that the asker need not wait for the timeout. `handle` answers undefined for a stream this
 * node does not hold.
 */
export function createForwarder(deps: {
  bus: Bus;
  /** The bus reaches other nodes (Redis): ask even before any other node has been heard from. */
  clustered: boolean;
  handle: (request: Forwarded) => Promise<unknown | undefined>;
  onError: (err: unknown) => void;
}): Forwarder {
  const { bus } = deps;
  const node = randomUUID();
  const peers = new Map<string, number>();
  const waiting = new Map<string, { pending: number; finish: (held: boolean, outcome?: unknown) => void }>();
  const livePeers = () => {
    const since = Date.now() - 3 * PRESENCE_MS;
    for (const [id, seen] of peers) if (seen < since) peers.delete(id);
    return peers.size;
  };
  const announce = () => bus.publish(PRESENCE_TOPIC, node).catch(deps.onError);
  const presence = setInterval(announce, PRESENCE_MS);
  presence.unref();
  announce();

  const offs = [
    bus.subscribe(PRESENCE_TOPIC, (id) => {
      if (typeof id !== 'string' || id === node) return;
      // A node heard from for the first time hears back at once, so both know each other.
      if (!peers.has(id)) announce();
      peers.set(id, Date.now());
    }),
    bus.subscribe(ASK_TOPIC, (message) => {
      const ask = message as Ask;
      if (ask.from === node) return;
      deps
        .handle(ask)
        .then((outcome) => {
          const answer: Answer = { id: ask.id, held: outcome !== undefined, outcome };
          return bus.publish(replyTopic(ask.from), answer);
        })
        .catch(deps.onError);
    }),
    bus.subscribe(replyTopic(node), (message) => {
      const { id, held, outcome } = message as Answer;
      const wait = waiting.get(id);
      if (!wait) return;
      wait.pending--;
      if (held || wait.pending <= 0) wait.finish(held, outcome);
    }),
  ];

  return {
    ask<T>(request: Forwarded, notHeld: T): Promise<T> {
      // Before the first presence message arrives, a node of a cluster waits for an answer or the timeout.
      const pending = livePeers() || (deps.clustered ? Number.POSITIVE_INFINITY : 0);
      if (pending === 0) return Promise.resolve(notHeld);
      const id = randomUUID();
      return new Promise<T>((resolve) => {
        const timer = setTimeout(() => finish(false), ASK_TIMEOUT_MS);
        const finish = (held: boolean, outcome?: unknown) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(held ? (outcome as T) : notHeld);
        };
        waiting.set(id, { pending, finish });
        const ask: Ask = { ...request, id, from: node };
        bus.publish(ASK_TOPIC, ask).catch(() => finish(false));
      });
    },
    close() {
      clearInterval(presence);
      for (const off of offs) off();
      for (const wait of waiting.values()) wait.finish(false);
    },
  };
}
