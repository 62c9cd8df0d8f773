import { isRange, listOf } from './ranges.ts';

/**
 * The Prometheus endpoint, `/metrics` (src/http/metrics.ts). Boot config: who may read a node's internals
 * is the operator's choice, made before the database is open, and it must not be changeable through the
 * API it observes. docs/operations.md lists the keys.
 */
export interface MetricsConfig {
  /** Serve `/metrics` and count requests. Off: no route (404) and no cost per request. */
  metrics: boolean;
  /** When set, a scrape must send `Authorization: Bearer <token>` (unless its IP is in `metricsAllow`). */
  metricsToken: string;
  /** IPs and CIDR ranges that may scrape without the token. Empty with no token: loopback only. */
  metricsAllow: string[];
}

export const METRICS_KEYS: readonly (keyof MetricsConfig)[] = ['metrics', 'metricsToken', 'metricsAllow'];

export function metricsEnv(env: NodeJS.ProcessEnv): Record<keyof MetricsConfig, unknown> {
  return {
    metrics: env.PLINTH_METRICS,
    metricsToken: env.PLINTH_METRICS_TOKEN,
    metricsAllow: env.PLINTH_METRICS_ALLOW,
  };
}

/** Shortest token accepted: long enough that guessing it over the network is hopeless. */
const MIN_TOKEN_LENGTH = 16;

/**
 * Off by default. A token shorter than 16 characters, or one given while metrics are off (the operator
 * would believe an endpoint is protected that does not exist, or the reverse), is a problem; so is an
 * allow-list entry that is not an IP address or CIDR range.
 */
export function readMetrics(
  input: Partial<Record<keyof MetricsConfig, unknown>>,
  problems: string[],
): MetricsConfig {
  const raw = input.metrics ?? false;
  const text = String(raw).trim().toLowerCase();
  let metrics = false;
  if (raw === true || text === 'true' || text === '1') metrics = true;
  else if (!(raw === false || text === 'false' || text === '0' || text === ''))
    problems.push('metrics must be true or false');
  // Never echo the token back: the message names the setting only.
  const metricsToken = String(input.metricsToken ?? '').trim();
  if (metricsToken && metricsToken.length < MIN_TOKEN_LENGTH)
    problems.push(`metricsToken must be at least ${MIN_TOKEN_LENGTH} characters`);
  if (metricsToken && /\s/.test(metricsToken)) problems.push('metricsToken must not contain spaces');
  const metricsAllow = listOf(input.metricsAllow);
  for (const range of metricsAllow)
    if (!isRange(range)) problems.push(`metricsAllow must list IP addresses or CIDR ranges, got ${range}`);
  if (!metrics && (metricsToken || metricsAllow.length))
    problems.push('metricsToken and metricsAllow need metrics: true (PLINTH_METRICS=true)');
  return { metrics, metricsToken, metricsAllow };
}
