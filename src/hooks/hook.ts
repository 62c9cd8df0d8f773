/** A handler runs its part, then calls `next()` to pass the event on (or returns without it to stop). */
export type HookHandler<E> = (event: E, next: () => Promise<void>) => Promise<void> | void;

interface Entry<E> {
  id: string;
  priority: number;
  handler: HookHandler<E>;
}

/**
 * A middleware-style event hook: handlers run in priority order, each deciding whether the chain goes on.
 * The innermost `next()` runs the default action passed to `trigger`.
 */
export class Hook<E> {
  #entries: Entry<E>[] = [];
  #seq = 0;

  /** Adds a handler; returns its id for `unbind`. Lower priority runs first. */
  bind(handler: HookHandler<E>, options: { id?: string; priority?: number } = {}): string {
    const id = options.id ?? `h${++this.#seq}`;
    this.unbind(id);
    this.#entries.push({ id, priority: options.priority ?? 0, handler });
    this.#entries.sort((a, b) => a.priority - b.priority);
    return id;
  }

  unbind(id: string): void {
    this.#entries = this.#entries.filter((e) => e.id !== id);
  }

  get size(): number {
    return this.#entries.length;
  }

  /** Runs every handler around `action`. With no handlers, it is just `action(event)`. */
  async trigger(event: E, action: (event: E) => Promise<void> | void = () => {}): Promise<void> {
    const entries = this.#entries;
    if (entries.length === 0) return action(event);
    const step = async (i: number): Promise<void> => {
      const entry = entries[i];
      if (!entry) return action(event);
      let called = false;
      await entry.handler(event, async () => {
        if (called) return;
        called = true;
        await step(i + 1);
      });
    };
    await step(0);
  }
}
