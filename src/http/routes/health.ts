import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { SettingsStore } from '../../schema/index.ts';
import { createReadiness, type ReadinessCheck } from '../readiness.ts';
import { clientIp } from '../superuser-ips.ts';

/** Seconds a load balancer or client is told to wait before asking a node that is not ready again. */
const RETRY_AFTER_SECONDS = 5;

export interface HealthOptions {
  /** What readiness depends on; app.ts passes the database check (later Redis and storage too). */
  checks?: readonly ReadinessCheck[];
  /** How long one check may take before it counts as failed. */
  timeoutMs?: number;
  /** For the superuser details: `trustedProxy.headers` names headers to look for. */
  settings?: SettingsStore;
  /** For the superuser details: true while no backup or restore is running (false without backups). */
  canBackup?: () => boolean;
}

/** Headers that loosely show a reverse proxy in front (PocketBase's list, after the configured ones). */
const COMMON_PROXY_HEADERS = ['CF-Connecting-IP', 'Fly-Client-IP', 'X-Forwarded-For'];

/**
 * What PocketBase tells a superuser in `/api/health`: whether a backup may start now (none is running),
 * the client IP the server acts on (the one `superuserIPs` and the rate limits see), and the
 * first proxy-like header present, which the dashboard uses to suggest the trusted-proxy settings.
 */
function superuserDetails(request: FastifyRequest, options: HealthOptions): Record<string, unknown> {
  const configured = options.settings?.get().trustedProxy.headers ?? [];
  const possibleProxyHeader =
    [...configured, ...COMMON_PROXY_HEADERS].find((name) => {
      const value = request.headers[name.toLowerCase()];
      return value !== undefined && value !== '';
    }) ?? '';
  return { canBackup: options.canBackup?.() ?? false, realIP: clientIp(request), possibleProxyHeader };
}

/**
 * `GET /api/health`: liveness in PocketBase's shape. It answers from memory and never touches the
 * database, so a slow database cannot make an orchestrator restart a process that is fine. Superusers
 * get PocketBase's extra details in `data`; everyone else an empty object, as PocketBase answers.
 *
 * `GET /api/plinth/ready`: readiness. 200 when every check passes; 503 with `Retry-After` and the
 * outcome of each check when one fails or times out (the cause goes to the log, never to the client),
 * and 503 while the server drains for shutdown (answered by the drain hook).
 */
export async function healthRoutes(app: FastifyInstance, options: HealthOptions): Promise<void> {
  app.get('/api/health', async (request) => ({
    code: 200,
    message: 'API is healthy.',
    data: request.auth?.isSuperuser ? superuserDetails(request, options) : {},
  }));

  const probe = createReadiness(options.checks ?? [], options.timeoutMs ?? 2000);
  app.get('/api/plinth/ready', async (request, reply) => {
    const report = await probe();
    if (report.ready) return { code: 200, message: 'Ready.', data: { checks: report.checks } };
    const failing = Object.keys(report.checks).filter((name) => report.checks[name] !== 'ok');
    for (const name of failing)
      request.log.warn(
        { reqId: request.id, check: name, outcome: report.checks[name], err: report.errors[name] },
        'readiness check failed',
      );
    reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
    return {
      status: 503,
      message: `Not ready: the ${failing.join(', ')} check failed.`,
      data: { checks: report.checks },
    };
  });
}
