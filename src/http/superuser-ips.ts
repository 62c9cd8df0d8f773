import { BlockList, isIP, isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors/index.ts';
import type { HttpDeps } from './context.ts';

/**
 * The client IP Plinth acts on: the socket's peer, or the client a proxy listed in the boot `trustProxy`
 * forwarded for. An IPv4 client of a dual-stack socket comes as `::ffff:a.b.c.d`; settings name it `a.b.c.d`.
 */
export function clientIp(request: FastifyRequest): string {
  const ip = request.ip ?? '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/** The list as a BlockList, rebuilt only when the settings' array changes. */
function allowListOf(): (ips: readonly string[]) => BlockList {
  let source: readonly string[] | undefined;
  let list = new BlockList();
  return (ips) => {
    if (ips === source) return list;
    list = new BlockList();
    for (const item of ips) {
      const [address = '', bits] = item.split('/');
      const family = isIPv4(address) ? 'ipv4' : 'ipv6';
      if (bits === undefined) list.addAddress(address, family);
      else list.addSubnet(address, Number(bits), family);
    }
    source = ips;
    return list;
  };
}

/** True when the request's client may act as a superuser (`superuserIPs` empty, or listing it). */
export function superuserIpCheck(settings: HttpDeps['settings']): (request: FastifyRequest) => boolean {
  const allowList = allowListOf();
  return (request) => {
    const ips = settings.get().superuserIPs;
    if (!ips.length) return true;
    const ip = clientIp(request);
    const family = isIP(ip);
    return family !== 0 && allowList(ips).check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
}

const SIGN_IN = /\/auth-with-(password|otp|oauth2)$/;
// PocketBase answers with its generic 403 and gives no reason.
const refused = () => new ApiError(403);

/**
 * PocketBase's `superuserIPs` setting: when it lists anything, a superuser may act only from those IPs and
 * subnets. A superuser token from elsewhere is refused on every route (403), and so is signing in to
 * `_superusers` from elsewhere, before the credentials are looked at. Runs after the auth hook.
 */
export function installSuperuserIps(app: FastifyInstance, { settings, collections }: HttpDeps): void {
  const allowed = superuserIpCheck(settings);
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.auth?.isSuperuser && !allowed(request)) return done(refused());
    const collection = (request.params as Record<string, unknown> | undefined)?.collection;
    if (
      request.method === 'POST' &&
      typeof collection === 'string' &&
      SIGN_IN.test(request.routeOptions.url ?? '') &&
      collections.find(collection)?.name === '_superusers' &&
      !allowed(request)
    )
      return done(refused());
    done();
  });
}
