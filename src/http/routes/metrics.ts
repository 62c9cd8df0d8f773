import { type BlockList, isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../../errors/index.ts';
import { addressList, safeEqual } from '../../lib/index.ts';
import type { Metrics, SharedMetrics } from '../metrics.ts';
import { clientIp } from '../superuser-ips.ts';

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Every worker's metrics, when there are several. */
  shared?: SharedMetrics;
  /** `Authorization: Bearer <token>` lets a scrape in from anywhere; empty: no token. */
  token: string;
  /** IPs and CIDR ranges that may scrape without the token. */
  allow: readonly string[];
}

/** With neither a token nor an allow-list, only the machine itself may scrape. */
const LOOPBACK = ['127.0.0.0/8', '::1'];

/**
 * Who may read `/metrics`: an address of the allow-list (loopback when neither a token nor a list is set)
 * without more; with a token set, anyone else who sends it (compared in constant time). The address is
 * the client's as `realIP` shows it (`trustProxy` applies). Refused: 401 when a token would let the
 * request in, 403 otherwise.
 */
function accessCheck(token: string, allow: readonly string[]): (request: FastifyRequest) => void {
  const list: BlockList = addressList(allow.length || token ? allow : LOOPBACK);
  const expected = `Bearer ${token}`;
  return (request) => {
    const ip = clientIp(request);
    const family = isIP(ip);
    if (family && list.check(ip, family === 4 ? 'ipv4' : 'ipv6')) return;
    if (!token) throw new ApiError(403, 'Metrics may not be read from this address.');
    const header = request.headers.authorization;
    if (typeof header !== 'string' || !safeEqual(header, expected))
      throw new ApiError(401, 'The metrics token is missing or wrong.');
  };
}

/** `GET /metrics`: Prometheus' text format. Registered only when the `metrics` boot config is on. */
export async function metricsRoutes(app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  const check = accessCheck(options.token, options.allow);
  const registry = options.metrics.registry;
  app.get('/metrics', async (request, reply) => {
    check(request);
    const text = (await options.shared?.gather()) ?? (await registry.metrics());
    reply.header('cache-control', 'no-store').type(registry.contentType);
    return text;
  });
}
