/** The limits a gate enforces (boot config; see src/config/admission.ts). */
export interface GateLimits {
  maxInFlight: number;
  maxQueue: number;
  queueTimeoutMs: number;
  /** Running plus queued requests per client IP; 0: no limit. */
  maxInFlightPerIp: number;
  /** How long a running request whose client left may keep its slot; default ORPHAN_GRACE_MS. */
  orphanGraceMs?: number;
}

/**
 * A queued request. The gate links waiters into its queues (all waiters by age, and its IP's own); the caller
 * only fills `ip`, `run` and `expire`.
 */
export interface Waiter {
  ip: string;
  /** Called when a slot is free: the request may go on (it now holds the slot). */
  run(): void;
  /** Called when it waited `queueTimeoutMs`: answer 503 (it holds nothing any more). */
  expire(): void;
  at: number;
  prev: Waiter | undefined;
  next: Waiter | undefined;
  queued: boolean;
  /** Links in its IP's queue. */
  ipPrev?: Waiter | undefined;
  ipNext?: Waiter | undefined;
}

/** A waiter for `ip`, its links empty: what to do when it gets a slot, and when it waited too long. */
export function newWaiter(ip: string, run: () => void, expire: () => void): Waiter {
  return {
    ip,
    run,
    expire,
    at: 0,
    prev: undefined,
    next: undefined,
    queued: false,
    ipPrev: undefined,
    ipNext: undefined,
  };
}

/** The waiters of one IP, oldest first. */
interface IpQueue {
  head: Waiter | undefined;
  tail: Waiter | undefined;
}

/** `run`: go on, a slot is held; `queue`: call `wait()`; `busy`: queue full; `ip`: too many from this IP. */
export type Verdict = 'run' | 'queue' | 'busy' | 'ip';

/** A running request whose client left before it was answered keeps its slot at most this long. */
export const ORPHAN_GRACE_MS = 30_000;

/**
 * Bounds the requests handled at once, with a queue of bounded length and wait. Freed slots go round the
 * client IPs that wait, oldest request first within each IP, so one address flooding the server delays
 * another's request by at most one of its own per slot, not by its whole backlog. Every call is O(1) and
 * allocates nothing on the path where a slot is free; the only timers are one sweep for the whole gate,
 * running while anyone waits, and one deferred hand-over per burst of freed slots.
 */
export class AdmissionGate {
  inFlight = 0;
  queued = 0;
  readonly #limits: GateLimits;
  readonly #perIp = new Map<string, number>();
  /** Requests whose client left while they ran: their slot is freed when they finish, or after the grace. */
  readonly #orphans = new Map<object, { ip: string; at: number }>();
  /** Every waiter, oldest first: the sweep expires from the head. */
  #head: Waiter | undefined;
  #tail: Waiter | undefined;
  /** The IPs with waiters; the map's order is the round robin (an IP served goes to the back). */
  readonly #byIp = new Map<string, IpQueue>();
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #handOver = false;
  /** Running requests that wait only for their write to reach the disk, up to 4 × maxInFlight (`parked`). */
  #parked = 0;

  constructor(limits: GateLimits) {
    this.#limits = limits;
  }

  /** Counts a new request from `ip` and decides what it does. */
  enter(ip: string): Verdict {
    const perIp = this.#limits.maxInFlightPerIp;
    if (perIp > 0) {
      const n = this.#perIp.get(ip) ?? 0;
      if (n >= perIp) return 'ip';
      if (this.#full() || this.queued > 0) {
        if (this.queued >= this.#limits.maxQueue) return 'busy';
        this.#perIp.set(ip, n + 1);
        return 'queue';
      }
      this.#perIp.set(ip, n + 1);
    } else if (this.#full() || this.queued > 0) {
      // Waiters go first even if a slot has just been freed: a newcomer does not jump the queue.
      return this.queued >= this.#limits.maxQueue ? 'busy' : 'queue';
    }
    this.inFlight++;
    return 'run';
  }

  /** Queues a request that `enter` answered `queue` for. */
  wait(w: Waiter): void {
    w.at = Date.now();
    w.queued = true;
    w.next = undefined;
    w.prev = this.#tail;
    if (this.#tail) this.#tail.next = w;
    else this.#head = w;
    this.#tail = w;
    w.ipNext = undefined;
    const own = this.#byIp.get(w.ip);
    if (own) {
      w.ipPrev = own.tail;
      (own.tail as Waiter).ipNext = w;
      own.tail = w;
    } else {
      w.ipPrev = undefined;
      this.#byIp.set(w.ip, { head: w, tail: w });
    }
    this.queued++;
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepEvery()).unref();
  }

  /** Takes a waiter out of the queue (its client left); it never runs. */
  cancel(w: Waiter): void {
    if (!w.queued) return;
    this.#unlink(w);
    this.#release(w.ip);
  }

  /** A running request has finished: frees its slot and hands it to the next waiter. */
  leave(ip: string): void {
    this.inFlight--;
    this.#release(ip);
    if (this.queued > 0 && !this.#handOver) {
      this.#handOver = true;
      // Deferred, so that a waiter's request does not run inside the one that just finished.
      setImmediate(() => this.#admitWaiters());
    }
  }

  /**
   * `writes` running requests now wait only for their write to be synced to disk (SQLite's group commit):
   * they hold no connection and need no CPU until answered, so up to four times `maxInFlight` of them
   * leave their slots to others. Without this, a write's slot stays held through its group's sync, and the
   * next group can gather only as many writes as slots are left: durable writes would be capped at
   * `maxInFlight` a sync, however many clients wait and however slow the disk.
   */
  parked(writes: number): void {
    const parked = Math.min(writes, 4 * this.#limits.maxInFlight);
    const more = parked > this.#parked;
    this.#parked = parked;
    if (more && this.queued > 0 && !this.#handOver) {
      this.#handOver = true;
      setImmediate(() => this.#admitWaiters());
    }
  }

  /** The client of running request `key` has left: its slot stays held until `finish(key)` or the grace ends. */
  orphan(key: object, ip: string): void {
    this.#orphans.set(key, { ip, at: Date.now() });
    this.#sweeper ??= setInterval(() => this.#sweep(), this.#sweepEvery()).unref();
  }

  /** An orphaned request has finished; frees its slot unless the grace already did. */
  finish(key: object): void {
    const orphan = this.#orphans.get(key);
    if (!orphan) return;
    this.#orphans.delete(key);
    this.leave(orphan.ip);
  }

  /** Stops the sweep; waiters are expired (the server is closing). */
  close(): void {
    while (this.#head) this.#expire(this.#head);
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #admitWaiters(): void {
    this.#handOver = false;
    while (this.#head && !this.#full()) {
      const [ip, own] = this.#byIp.entries().next().value as [string, IpQueue];
      const w = own.head as Waiter;
      this.#unlink(w);
      // Served: to the back of the round (#unlink dropped the IP if it has no waiter left).
      if (this.#byIp.delete(ip)) this.#byIp.set(ip, own);
      this.inFlight++;
      w.run();
    }
  }

  /** No slot is free: the running requests but the parked ones fill them all. */
  #full(): boolean {
    return this.inFlight - this.#parked >= this.#limits.maxInFlight;
  }

  #sweep(): void {
    const now = Date.now();
    const oldest = now - this.#limits.queueTimeoutMs;
    while (this.#head && this.#head.at <= oldest) this.#expire(this.#head);
    for (const [key, orphan] of this.#orphans)
      if (now - orphan.at >= (this.#limits.orphanGraceMs ?? ORPHAN_GRACE_MS)) this.finish(key);
    if (!this.#head && this.#orphans.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #sweepEvery(): number {
    return Math.max(10, Math.min(250, Math.floor(this.#limits.queueTimeoutMs / 4)));
  }

  #expire(w: Waiter): void {
    this.#unlink(w);
    this.#release(w.ip);
    w.expire();
  }

  #unlink(w: Waiter): void {
    if (w.prev) w.prev.next = w.next;
    else this.#head = w.next;
    if (w.next) w.next.prev = w.prev;
    else this.#tail = w.prev;
    w.prev = w.next = undefined;
    const own = this.#byIp.get(w.ip) as IpQueue;
    if (w.ipPrev) w.ipPrev.ipNext = w.ipNext;
    else own.head = w.ipNext;
    if (w.ipNext) w.ipNext.ipPrev = w.ipPrev;
    else own.tail = w.ipPrev;
    if (!own.head) this.#byIp.delete(w.ip);
    w.ipPrev = w.ipNext = undefined;
    w.queued = false;
    this.queued--;
  }

  #release(ip: string): void {
    if (this.#limits.maxInFlightPerIp <= 0) return;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n > 0) this.#perIp.set(ip, n);
    else this.#perIp.delete(ip);
  }
}
