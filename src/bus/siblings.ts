import type { Bus } from './bus.ts';
import type { WindowCounters } from './counters.ts';
import type { WorkerBus } from './ipc.ts';
import type { RedisBus } from './redis.ts';

/**
 * The bus of one worker of `plinth serve --workers N` in a cluster (Redis configured). While Redis answers
 * it is the Redis bus alone: each worker is a node of its own to Redis. While it does not, what this
 * worker publishes still goes to the other workers of its machine, through the primary: a realtime event,
 * a subscription asked of the worker that holds the stream, a schema change, a revoked session. The
 * counters then fall back on the primary's too (the Redis bus is made with them: `fallbackCounters`).
 *
 * No message arrives twice: a worker relays through the primary only what Redis did not take, so its
 * siblings cannot have had it from Redis.
 */
export function withSiblings(
  redis: RedisBus,
  siblings: WorkerBus,
): Bus & { readonly counters: WindowCounters } {
  return {
    counters: redis.counters,
    async publish(topic, message, options) {
      // Ordered through Redis while it is up; should Redis not take it, this worker's handlers hear it then.
      const { here, others } = await redis.send(topic, message, options);
      if (others !== undefined) return here + others;
      return here + (await siblings.relay(topic, JSON.stringify(message ?? null)));
    },
    // Both: while Redis is down, a change reaches this worker through the primary alone.
    subscribed: () => Promise.all([redis.subscribed(), siblings.subscribed?.()]).then(() => {}),
    subscribe(topic, handler) {
      const fromRedis = redis.subscribe(topic, handler);
      const fromSiblings = siblings.subscribe(topic, handler);
      return () => {
        fromRedis();
        fromSiblings();
      };
    },
    async close() {
      await Promise.all([redis.close(), siblings.close()]);
    },
  };
}
