import { serviceUnavailable } from '../errors/index.ts';

/** Limits of a lane of database work (see `createGate`). */
export interface GateOptions {
  /** Queries that may run at once (SQLite: reader threads; server engines: pooled connections). */
  slots: number;
  /** A caller's share while others wait: one client sending many slow queries queues behind itself. */
  perCaller: number;
  /**
   * The most one caller may hold when nobody else is waiting (work-conserving: a lone client may use the
   * lane), below `slots` so that a newcomer always finds a slot free at once.
   */
  maxPerCaller: number;
  /** Queries that may wait for a slot; past this, new ones are refused at once (503). */
  maxWaiting: number;
  /** Longest wait for a slot before a 503. */
  maxWaitMs: number;
}

/** Who asks, for fairness: an IP or account key; work without one shares one key. */
export interface Ticket {
  readonly caller?: string;
  /** Aborts when the client has gone away; read only when the query has to wait (it may be a getter). */
  readonly signal?: AbortSignal;
}

export interface Gate {
  /** Waits for a slot (fairly: callers take turns) and returns its release function. */
  enter(ticket: Ticket): Promise<() => void>;
  readonly running: number;
  readonly waiting: number;
}

interface Waiter {
  caller: string;
  grant: (release: () => void) => void;
  fail: (err: unknown) => void;
  timer: ReturnType<typeof setTimeout>;
  signal?: AbortSignal;
  onAbort?: () => void;
}

const SHARED = '';
const busy = () => serviceUnavailable(1, 'The server is busy; try again shortly.');

/**
 * A counting gate in front of data-dependent queries. Slots go to waiting callers in turn (round robin over
 * callers, FIFO within one), and no caller holds more than `perCaller` slots, so a client sending many
 * slow queries queues behind itself while others keep getting theirs.
 */
export function createGate(options: GateOptions): Gate {
  const held = new Map<string, number>();
  /** Waiters per caller, in arrival order; the map's order is the round robin. */
  const queues = new Map<string, Waiter[]>();
  let running = 0;
  let waiting = 0;

  const take = (caller: string) => {
    running++;
    held.set(caller, (held.get(caller) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      running--;
      const n = (held.get(caller) ?? 1) - 1;
      if (n === 0) held.delete(caller);
      else held.set(caller, n);
      dispatch();
    };
  };

  const removeWaiter = (w: Waiter) => {
    const q = queues.get(w.caller);
    const i = q?.indexOf(w) ?? -1;
    if (!q || i < 0) return false;
    q.splice(i, 1);
    if (q.length === 0) queues.delete(w.caller);
    waiting--;
    clearTimeout(w.timer);
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
    return true;
  };

  /** Grants a free slot to the next caller in turn within its share, else to one within the maximum. */
  function dispatch(): void {
    while (running < options.slots && waiting > 0) {
      if (!grantNext(options.perCaller) && !grantNext(options.maxPerCaller)) return;
    }
  }

  /** Grants one slot to the first caller in turn holding less than `limit`; false if there is none. */
  function grantNext(limit: number): boolean {
    for (const [caller, q] of queues) {
      if ((held.get(caller) ?? 0) >= limit) continue;
      const w = q[0] as Waiter;
      removeWaiter(w);
      // Round robin: the caller served goes to the back of the line.
      const rest = queues.get(caller);
      if (rest) {
        queues.delete(caller);
        queues.set(caller, rest);
      }
      w.grant(take(caller));
      return true;
    }
    return false;
  }

  return {
    get running() {
      return running;
    },
    get waiting() {
      return waiting;
    },
    enter(ticket) {
      const caller = ticket.caller ?? SHARED;
      // Nobody waits, so nobody else wants a slot: a caller may go past its share up to the maximum.
      if (running < options.slots && waiting === 0 && (held.get(caller) ?? 0) < options.maxPerCaller)
        return Promise.resolve(take(caller));
      if (waiting >= options.maxWaiting) return Promise.reject(busy());
      const signal = ticket.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      return new Promise((grant, fail) => {
        const w: Waiter = {
          caller,
          grant,
          fail,
          signal,
          timer: setTimeout(() => removeWaiter(w) && fail(busy()), options.maxWaitMs),
        };
        w.timer.unref?.();
        if (signal) {
          // A client that has gone away does not keep its place in the queue.
          w.onAbort = () => removeWaiter(w) && fail(signal.reason);
          signal.addEventListener('abort', w.onAbort, { once: true });
        }
        const q = queues.get(caller);
        if (q) q.push(w);
        else queues.set(caller, [w]);
        waiting++;
        dispatch();
      });
    },
  };
}
