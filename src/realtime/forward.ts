import { randomUUID } from 'node:crypto';
import type { Bus } from '../bus/index.ts';

/** A request for the node that holds a stream: what it is, for which client, and its data. */
export interface Forwarded {
  kind: string;
  clientId: string;
  payload: unknown;
}

/** How long a node waits for the others to say whether they hold a stream. */
const ASK_TIMEOUT_MS = 2000;
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
   * outcome of the node that holds it, or `notHeld` once every node reached has said it does not (or none
   * answers within 2 s). A node alone resolves at once.
   */
  ask<T>(request: Forwarded, notHeld: T): Promise<T>;
  /**
   * Asks every other node to handle `request` and waits until all reached have answered, or `timeoutMs`
   * has passed (a node that does not answer is not waited for longer). A node alone resolves at once.
   */
  askAll(request: Forwarded, timeoutMs: number): Promise<void>;
  close(): void;
}

/**
 * Requests that must reach the node holding a realtime stream (a subscription change, an OAuth2 answer),
 * when a load balancer sent them to another node: asked over the bus, answered by every node (held or
 * not). The bus says how many nodes an ask reached, so the asker knows how many answers to wait for and
 * need not wait for the timeout, nor guess which nodes are up. `handle` answers undefined for a stream
 * this node does not hold.
 */
export function createForwarder(deps: {
  bus: Bus;
  handle: (request: Forwarded) => Promise<unknown | undefined>;
  onError: (err: unknown) => void;
}): Forwarder {
  const { bus } = deps;
  const node = randomUUID();
  type Settle = (held: boolean, outcome?: unknown) => void;
  const waiting = new Map<string, { answer: Settle; finish: Settle }>();

  const offs = [
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
      waiting.get(id)?.answer(held, outcome);
    }),
  ];

  return {
    ask<T>(request: Forwarded, notHeld: T): Promise<T> {
      const id = randomUUID();
      return new Promise<T>((resolve) => {
        // Answers may come before the bus says how many nodes the ask reached: count both ways.
        let expected = Number.POSITIVE_INFINITY;
        let answered = 0;
        const timer = setTimeout(() => finish(false), ASK_TIMEOUT_MS);
        const finish = (held: boolean, outcome?: unknown) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(held ? (outcome as T) : notHeld);
        };
        const answer: Settle = (held, outcome) => {
          answered++;
          if (held || answered >= expected) finish(held, outcome);
        };
        waiting.set(id, { answer, finish });
        const ask: Ask = { ...request, id, from: node };
        bus.publish(ASK_TOPIC, ask).then(
          (reached) => {
            // This node is one of those reached (it listens to asks too) and never answers itself.
            expected = reached - 1;
            if (answered >= expected && waiting.has(id)) finish(false);
          },
          () => finish(false),
        );
      });
    },
    askAll(request: Forwarded, timeoutMs: number): Promise<void> {
      const id = randomUUID();
      return new Promise<void>((resolve) => {
        let expected = Number.POSITIVE_INFINITY;
        let answered = 0;
        const timer = setTimeout(() => finish(), timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve();
        };
        const answer: Settle = () => {
          if (++answered >= expected) finish();
        };
        waiting.set(id, { answer, finish });
        const ask: Ask = { ...request, id, from: node };
        bus.publish(ASK_TOPIC, ask).then(
          (reached) => {
            expected = reached - 1;
            if (answered >= expected && waiting.has(id)) finish();
          },
          () => finish(),
        );
      });
    },
    close() {
      for (const off of offs) off();
      for (const { finish } of [...waiting.values()]) finish(false);
    },
  };
}
