import { BlockList, isIPv4 } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { stableJson } from '../lib/index.ts';
import type { Collection, RateLimits } from '../schema/index.ts';
import { isProbe } from './admission.ts';
import type { HttpDeps } from './context.ts';
import { type CompiledRule, compileRules, matchPath, matchTags } from './rate-rules.ts';
import type { RateLimitStore } from './rate-store.ts';

/**
 * PocketBase's tags per route: a rule labelled `users:create` or `*:create` limits the create route of
 * `users` or of every collection. The first tag is the route's own; `auth` groups the sign-in routes.
 */
const COLLECTION_TAGS: Record<string, string[]> = {
  'GET /api/collections/:collection/records': ['list'],
  'GET /api/collections/:collection/records/:id': ['view'],
  'POST /api/collections/:collection/records': ['create'],
  'PATCH /api/collections/:collection/records/:id': ['update'],
  'DELETE /api/collections/:collection/records/:id': ['delete'],
  'GET /api/collections/:collection/auth-methods': ['listAuthMethods'],
  'POST /api/collections/:collection/auth-refresh': ['authRefresh'],
  'POST /api/collections/:collection/auth-with-password': ['authWithPassword', 'auth'],
  'POST /api/collections/:collection/auth-with-oauth2': ['authWithOAuth2', 'auth'],
  'POST /api/collections/:collection/request-otp': ['requestOTP'],
  'POST /api/collections/:collection/auth-with-otp': ['authWithOTP', 'auth'],
  'POST /api/collections/:collection/request-password-reset': ['requestPasswordReset'],
  'POST /api/collections/:collection/confirm-password-reset': ['confirmPasswordReset'],
  'POST /api/collections/:collection/request-verification': ['requestVerification'],
  'POST /api/collections/:collection/confirm-verification': ['confirmVerification'],
  'POST /api/collections/:collection/request-email-change': ['requestEmailChange'],
  'POST /api/collections/:collection/confirm-email-change': ['confirmEmailChange'],
  'GET /api/files/:collection/:recordId/:filename': ['file'],
  // Plinth's resumable uploads: `<collection>:upload` limits each of their routes; creating one is an update.
  'POST /api/plinth/uploads/:collection/:recordId/:field': ['upload', 'update'],
  'HEAD /api/plinth/uploads/:collection/:recordId/:field/:uploadId': ['upload'],
  'PATCH /api/plinth/uploads/:collection/:recordId/:field/:uploadId': ['upload'],
  'DELETE /api/plinth/uploads/:collection/:recordId/:field/:uploadId': ['upload'],
};

/** The rules as compiled for one settings object; rebuilt when the settings change. */
interface Limits {
  source: RateLimits | undefined;
  enabled: boolean;
  rules: CompiledRule[];
  excluded: BlockList | undefined;
}

/** Node gives IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`; rules name them as `a.b.c.d`. */
const plainIp = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

function compile(rateLimits: RateLimits): Limits {
  let excluded: BlockList | undefined;
  for (const item of rateLimits.excludedIPs) {
    excluded ??= new BlockList();
    const [address = '', bits] = item.split('/');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (bits === undefined) excluded.addAddress(address, family);
    else excluded.addSubnet(address, Number(bits), family);
  }
  const rules = compileRules(rateLimits.rules);
  return { source: rateLimits, enabled: rateLimits.enabled, rules, excluded };
}

/** What one collection route knows of one collection under the current rules, worked out once. */
interface CollectionLimits {
  rules: CompiledRule[];
  guest: CompiledRule | undefined;
  auth: CompiledRule | undefined;
  /** Its counters per audience: PocketBase counts each collection and route apart. */
  limiters: Record<string, string>;
}

function tooMany(reply: FastifyReply, seconds: number): void {
  reply
    .code(429)
    .header('retry-after', String(seconds))
    .send({ status: 429, message: 'Too Many Requests.', data: {} });
}

/**
 * PocketBase's rate limits (`rateLimits` settings): every request is matched by `METHOD /path` and
 * `/path`, collection routes first by their tags, and counted per client IP against the first matching
 * rule; past it, 429 with `Retry-After`. Superusers, excluded IPs and the health and readiness probes are
 * never limited. Install after the auth hook (the audience depends on who signed in) and before the routes
 * (tags are added per route).
 */
export function installRateLimits(
  app: FastifyInstance,
  { settings, collections }: Pick<HttpDeps, 'settings' | 'collections'>,
  store: RateLimitStore,
): void {
  let limits: Limits = { source: undefined, enabled: false, rules: [], excluded: undefined };
  let rulesJson = '';

  /** The limits in force, or undefined when this request is not limited. */
  function limitsFor(request: FastifyRequest): Limits | undefined {
    const current = settings.get().rateLimits;
    if (current !== limits.source) {
      limits = compile(current);
      const json = stableJson(current);
      // As in PocketBase, changed rules start every counter afresh.
      if (json !== rulesJson) store.reset(json);
      rulesJson = json;
    }
    if (!limits.enabled || request.auth.isSuperuser) return undefined;
    if (limits.excluded) {
      const ip = plainIp(request.ip);
      if (limits.excluded.check(ip, isIPv4(ip) ? 'ipv4' : 'ipv6')) return undefined;
    }
    return limits;
  }

  function enforce(
    limiter: string,
    rule: CompiledRule,
    request: FastifyRequest,
    reply: FastifyReply,
    done: () => void,
  ) {
    const wait = store.hit(limiter, request.ip, rule.rule.maxRequests, rule.rule.duration);
    if (wait === 0) return done();
    if (typeof wait === 'number') return tooMany(reply, wait);
    wait.then((seconds) => (seconds === 0 ? done() : tooMany(reply, seconds)), done);
  }

  app.addHook('onRequest', (request, reply, done) => {
    const active = limitsFor(request);
    // Unlike PocketBase, probes are not limited: a 429 would make a load balancer drop a healthy node.
    if (!active || isProbe(request.url)) return done();
    const audience = request.auth.record ? '@auth' : '@guest';
    const rule = matchPath(active.rules, request.method, request.url, audience);
    if (!rule) return done();
    enforce(rule.limiter, rule, request, reply, done);
  });

  const collectionHook = (route: string, tags: string[]): onRequestHookHandler => {
    // Per collection object: a renamed collection is a new object, so its labels are worked out again.
    let known = new WeakMap<Collection, CollectionLimits>();
    const of = (collection: Collection, rules: CompiledRule[]) => {
      let entry = known.get(collection);
      if (entry?.rules !== rules) {
        if (entry) known = new WeakMap();
        const limiter = (audience: string) => `${collection.id} ${route}${audience}`;
        entry = {
          rules,
          guest: matchTags(rules, collection.name, tags, '@guest'),
          auth: matchTags(rules, collection.name, tags, '@auth'),
          limiters: { '': limiter(''), '@guest': limiter('@guest'), '@auth': limiter('@auth') },
        };
        known.set(collection, entry);
      }
      return entry;
    };
    return (request, reply, done) => {
      const active = limitsFor(request);
      const name = (request.params as { collection?: string }).collection;
      const collection = active && name ? collections.find(name) : undefined;
      if (!active || !collection) return done();
      const entry = of(collection, active.rules);
      const guest = !request.auth.record;
      const rule =
        (guest ? entry.guest : entry.auth) ??
        matchPath(active.rules, request.method, request.url, guest ? '@guest' : '@auth');
      if (!rule) return done();
      enforce(entry.limiters[rule.rule.audience] as string, rule, request, reply, done);
    };
  };

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const key = `${method} ${route.url}`;
      const tags = COLLECTION_TAGS[key];
      if (!tags) continue;
      const own = route.onRequest ? [route.onRequest].flat() : [];
      route.onRequest = [...own, collectionHook(key, tags)];
    }
  });
  app.addHook('onClose', (_app, done) => {
    store.close();
    done();
  });
}
