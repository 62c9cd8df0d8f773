/**
 * One dependency the node needs to serve traffic (the database, Redis when configured, file storage). `run` resolves
 * when the dependency answers and rejects, or never settles, when it does not.
 */
export interface ReadinessCheck {
  /** Shown to callers of the readiness endpoint; plain words, no secrets (e.g. `database`). */
  name: string;
  run: () => Promise<unknown>;
}

/** What one check found: `ok`, `failed` (it threw) or `timeout` (no answer in time). */
export type CheckOutcome = 'ok' | 'failed' | 'timeout';

/** The outcome of every check, and the causes of failures for the log (never for the client). */
export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, CheckOutcome>;
  errors: Record<string, unknown>;
}

/**
 * Runs readiness checks in parallel, each bounded by `timeoutMs`. A check still running from an
 * earlier probe is joined, not started again: probes that arrive every few seconds while the database
 * hangs must not pile up queries and take every pooled connection.
 */
export function createReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs: number,
): () => Promise<ReadinessReport> {
  const running = new Map<string, Promise<unknown>>();
  const start = (check: ReadinessCheck) => {
    let p = running.get(check.name);
    if (!p) {
      p = Promise.resolve()
        .then(check.run)
        .finally(() => running.delete(check.name));
      // The probe may give up on it; its failure must not surface as an unhandled rejection.
      p.catch(() => {});
      running.set(check.name, p);
    }
    return p;
  };
  return async () => {
    const results = await Promise.all(
      checks.map((check) => settle(start(check), timeoutMs).then((r) => [check.name, r] as const)),
    );
    const report: ReadinessReport = { ready: true, checks: {}, errors: {} };
    for (const [name, r] of results) {
      report.checks[name] = r.outcome;
      if (r.outcome !== 'ok') {
        report.ready = false;
        if (r.outcome === 'failed') report.errors[name] = r.error;
      }
    }
    return report;
  };
}

function settle(p: Promise<unknown>, timeoutMs: number) {
  return new Promise<{ outcome: CheckOutcome; error?: unknown }>((resolve) => {
    const timer = setTimeout(() => resolve({ outcome: 'timeout' }), timeoutMs);
    p.then(
      () => {
        clearTimeout(timer);
        resolve({ outcome: 'ok' });
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ outcome: 'failed', error });
      },
    );
  });
}

/**
 * `run`, with a success remembered for `ms`: a check that costs a write or a network request (storage) runs
 * at most once per `ms` however often load balancers probe. A failure is never remembered, so recovery
 * shows at the next probe; a dependency that fails is noticed within `ms`. A success counts only while
 * `version()` answers the same value (the settings it was made with): a change is checked at once.
 */
export function rememberSuccess(
  run: () => Promise<unknown>,
  ms: number,
  version: () => unknown = () => undefined,
): () => Promise<unknown> {
  let until = 0;
  let of: unknown;
  return async () => {
    const now = version();
    if (Date.now() < until && now === of) return;
    await run();
    until = Date.now() + ms;
    of = now;
  };
}
