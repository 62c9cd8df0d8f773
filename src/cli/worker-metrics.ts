import type { Registry } from 'prom-client';
import type { Channel } from '../bus/index.ts';
import type { SharedMetrics } from '../http/index.ts';
import { lazyPackage } from '../lib/index.ts';
import type { FromWorker, ToWorker } from './channels.ts';

const promClient = lazyPackage<typeof import('prom-client')>('prom-client');

/** How long a scrape waits for the workers' parts; a worker that has not answered by then is left out. */
const GATHER_MS = 2000;

type WorkerChannel = Channel & { send(message: FromWorker | ToWorker): boolean };

/**
 * A worker's side: it sends its registry's metrics when the primary asks (for a scrape another worker
 * took), and for a scrape of its own asks the primary for every worker's, summed.
 */
export function workerMetrics(channel: WorkerChannel): SharedMetrics {
  const waiting = new Map<number, (text: string | undefined) => void>();
  let registry: Registry | undefined;
  let next = 0;
  channel.onMessage((message) => {
    const m = message as ToWorker;
    if (m.plinth === 'metrics.get' && registry)
      registry.getMetricsAsJSON().then(
        (metrics) => channel.send({ plinth: 'metrics.part', id: m.id, metrics }),
        () => channel.send({ plinth: 'metrics.part', id: m.id, metrics: [] }),
      );
    else if (m.plinth === 'metrics.answer') {
      waiting.get(m.id)?.(m.text);
      waiting.delete(m.id);
    }
  });
  channel.onClose(() => {
    for (const resolve of waiting.values()) resolve(undefined);
    waiting.clear();
  });
  return {
    serve(own) {
      registry = own;
    },
    gather() {
      return new Promise((resolve) => {
        const id = ++next;
        waiting.set(id, resolve);
        if (!channel.send({ plinth: 'metrics.ask', id })) {
          waiting.delete(id);
          resolve(undefined);
        }
      });
    },
  };
}

/**
 * The primary's side: for a worker's scrape (`ask`), asks every worker for its metrics and answers the
 * asker with their sum (prom-client's aggregation: counters and histograms summed, gauges as each
 * declares); `part` takes a worker's answer.
 */
export function metricsGatherer(workers: () => WorkerChannel[]) {
  let next = 0;
  const gathering = new Map<number, (metrics: unknown[]) => void>();
  return {
    ask(asker: WorkerChannel, askId: number): void {
      const id = ++next;
      const got: unknown[][] = [];
      let expected = 0;
      const done = () => {
        clearTimeout(timer);
        gathering.delete(id);
        const { AggregatorRegistry } = promClient();
        // biome-ignore lint/suspicious/noExplicitAny: prom-client's JSON form of a registry's metrics.
        AggregatorRegistry.aggregate(got as any)
          .metrics()
          .then(
            (text) => asker.send({ plinth: 'metrics.answer', id: askId, text }),
            () => asker.send({ plinth: 'metrics.answer', id: askId }),
          );
      };
      const timer = setTimeout(done, GATHER_MS);
      gathering.set(id, (metrics) => {
        got.push(metrics);
        if (got.length === expected) done();
      });
      for (const w of workers()) if (w.send({ plinth: 'metrics.get', id })) expected++;
      if (expected === 0) done();
    },
    part(id: number, metrics: unknown[]): void {
      gathering.get(id)?.(metrics);
    },
  };
}
