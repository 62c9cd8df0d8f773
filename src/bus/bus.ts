/** A message handler; it runs after `publish` returns, never inside it. */
export type BusHandler = (message: unknown) => void;

export interface PublishOptions {
  /**
   * This node's handlers hear the message in the one order in which every node hears every node's
   * messages (Redis's, or the primary's between workers), a round trip later, rather than at once. Without
   * it, a message published here after one from another node could reach this node's handlers first,
   * though that one was sent before this one's write began. Should the round trip fail, they hear it then.
   */
  ordered?: boolean;
}

/**
 * Cross-node events: schema-cache invalidation, realtime fan-out, session revocation. One node uses the
 * in-memory bus; a cluster puts Redis (or PostgreSQL LISTEN/NOTIFY) behind the same interface.
 */
export interface Bus {
  /**
   * Sends `message` (JSON-serializable) to every subscriber of `topic`, on every node. Resolves with how
   * many it reached: each handler on this node, and one for each other node with a subscriber (Redis
   * counts nodes, not their handlers). While the other nodes cannot be reached, only this node's count;
   * right after this node subscribes, possibly one too many (never too few).
   */
  publish(topic: string, message: unknown, options?: PublishOptions): Promise<number>;
  /**
   * True when no other process hears this bus (one node, the memory bus): a message that no subscriber of
   * this process wants can be left unsent. Buses between processes leave it unset.
   */
  readonly local?: boolean;
  /** Returns the function that unsubscribes. */
  subscribe(topic: string, handler: BusHandler): () => void;
  /**
   * Resolves once every subscription made so far hears what other nodes publish from then on (Redis: it
   * has confirmed them). Whoever reads shared state at start reads it again after this, or a change
   * published in between is missed. Unset where a subscription is in force as soon as it is made.
   */
  subscribed?(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Hands each handler its own copy of a message (parsed from `text`) on a later turn of the event loop, as
 * a networked bus would: no shared objects, no handler running inside `publish`. A handler that throws is
 * reported and does not stop the others.
 */
export function deliverCopies(
  handlers: ReadonlySet<BusHandler> | undefined,
  text: string,
  onError: (err: unknown) => void,
): void {
  if (!handlers?.size) return;
  for (const handler of [...handlers]) {
    setImmediate(() => {
      try {
        handler(JSON.parse(text));
      } catch (err) {
        onError(err);
      }
    });
  }
}

/**
 * The single-node bus. Messages go through JSON and are delivered asynchronously, exactly as a networked
 * bus would deliver them, so code that works on it works on Redis too: no shared object references, no
 * re-entrant handlers. A throwing handler is reported through `onError` and does not stop the others.
 */
export function createMemoryBus(onError: (err: unknown, topic: string) => void = () => {}): Bus {
  const topics = new Map<string, Set<BusHandler>>();
  let closed = false;
  return {
    local: true,
    async publish(topic, message) {
      if (closed) throw new Error('the bus is closed');
      const handlers = topics.get(topic);
      deliverCopies(handlers, JSON.stringify(message ?? null), (err) => onError(err, topic));
      return handlers?.size ?? 0;
    },
    subscribe(topic, handler) {
      const set = topics.get(topic) ?? new Set<BusHandler>();
      topics.set(topic, set);
      set.add(handler);
      return () => {
        set.delete(handler);
        if (!set.size) topics.delete(topic);
      };
    },
    async close() {
      closed = true;
      topics.clear();
    },
  };
}
