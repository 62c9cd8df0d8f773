/** What is known of one background job on this node: its runs by outcome, and when it last ran. */
export interface JobRecord {
  ok: number;
  failed: number;
  /** Epoch milliseconds of the end of the last run that succeeded, or of the last that failed. */
  lastSuccess?: number;
  lastFailure?: number;
  /** Seconds the last run took, whatever its outcome. */
  lastSeconds?: number;
}

/**
 * The outcomes of the server's background jobs (scheduled backups, sweeps of expired rows and uploads),
 * kept so that `/metrics` can show them: a job that fails only writes a log line otherwise, and an
 * alert on "the nightly backup has not succeeded for a day" needs a number. One per server, passed to
 * the jobs; names are fixed by the code, never by clients, so the series stay few.
 */
export class JobStats {
  readonly #jobs = new Map<string, JobRecord>();

  /** Runs `work` as one run of `name`, counts its outcome, and answers (or throws) what it does. */
  async track<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const record = this.#record(name);
    try {
      const result = await work();
      record.ok++;
      record.lastSuccess = Date.now();
      return result;
    } catch (err) {
      record.failed++;
      record.lastFailure = Date.now();
      throw err;
    } finally {
      record.lastSeconds = (performance.now() - started) / 1000;
    }
  }

  /** Every job that has run at least once on this node, by name. */
  entries(): IterableIterator<[string, Readonly<JobRecord>]> {
    return this.#jobs.entries();
  }

  #record(name: string): JobRecord {
    let record = this.#jobs.get(name);
    if (!record) {
      record = { ok: 0, failed: 0 };
      this.#jobs.set(name, record);
    }
    return record;
  }
}

/** Runs `work` as one run of `name` in `stats`, or just runs it where nobody keeps stats (some tests). */
export function trackJob<T>(stats: JobStats | undefined, name: string, work: () => Promise<T>): Promise<T> {
  return stats ? stats.track(name, work) : work();
}
