import { generateKeyPair, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
// @ts-expect-error -- oidc-provider ships no type declarations; the few members used are typed below.
import { Provider as UntypedProvider } from 'oidc-provider';

/** A user of the test identity provider; every claim is optional so tests can model incomplete providers. */
export interface OidcAccount {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
  picture?: string;
}

/** A registered relying party. Both client_secret_basic and client_secret_post are accepted whatever is set. */
export interface OidcClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  /** What discovery and the client metadata advertise; 'client_secret_post' unless set. */
  token_endpoint_auth_method?: 'client_secret_post' | 'client_secret_basic';
}

export interface OidcServer {
  /** http://127.0.0.1:PORT plus issuerPath, no trailing slash. */
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userinfoEndpoint: string;
  jwksUri: string;
  /** Read on every sign-in, token and userinfo request: tests may add or change accounts at any time. */
  accounts: Map<string, OidcAccount>;
  /**
   * Plays a fresh browser (no existing session): GETs authURL, signs in as `sub`, grants every requested scope,
   * and returns the redirect to redirect_uri without following it, with its query and fragment parameters
   * (code, state, iss — or error, error_description). A `sub` that is not in `accounts` makes the user
   * "cancel": the result carries error=access_denied. Throws when the provider shows an error page instead
   * of redirecting (unknown client, unregistered redirect_uri, ...).
   */
  authorize(authURL: string, sub: string): Promise<{ url: string; params: Record<string, string> }>;
  close(): Promise<void>;
}

// The slice of oidc-provider's API used here.
interface Interaction {
  uid: string;
  params: Record<string, unknown>;
  grantId?: string;
}
interface Grant {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
}
interface Provider {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionFinished(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<void>;
  Grant: {
    new (props: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  };
  on(event: string, listener: (...args: unknown[]) => void): void;
}
const ProviderClass = UntypedProvider as new (issuer: string, configuration: object) => Provider;

const SUB_COOKIE = 'plinth_test_sub';
const CLAIMS = ['email', 'email_verified', 'name', 'preferred_username', 'picture'] as const;

/**
 * Starts a real OpenID Connect provider (oidc-provider) on a random loopback port, with in-memory state of its
 * own, a fresh RS256 signing key and a programmatic login/consent step, to stand in for Google & co in tests.
 */
export async function startOidc(options: {
  clients: OidcClient[];
  accounts?: OidcAccount[];
  issuerPath?: string;
}): Promise<OidcServer> {
  const base = (options.issuerPath ?? '').replace(/\/+$/, '').replace(/^(?=[^/])/, '/');
  const accounts = new Map((options.accounts ?? []).map((account) => [account.sub, account]));
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const jwk = {
    ...privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('hex'),
    alg: 'RS256',
    use: 'sig',
  };

  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (!provider || !handle) {
      res.writeHead(503).end();
    } else if (path.startsWith(`${base}/interaction/`)) {
      finishInteraction(provider, accounts, req, res).catch((error: Error) => {
        if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
        res.end(`interaction failed: ${error.message}`);
      });
    } else if (path === base || path.startsWith(`${base}/`)) {
      // What Express does when mounting under a path: oidc-provider reads the prefix from originalUrl.
      const mounted = req as IncomingMessage & { originalUrl?: string };
      mounted.originalUrl = req.url;
      req.url = (req.url ?? '/').slice(base.length) || '/';
      handle(req, res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}${base}`;

  provider = new ProviderClass(issuer, {
    clients: options.clients.map((client) => ({
      client_id: client.client_id,
      client_secret: client.client_secret,
      redirect_uris: client.redirect_uris,
      token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_post',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    })),
    jwks: { keys: [jwk] },
    adapter: createMemoryAdapter(),
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username', 'picture'],
    },
    // Put the scope-granted claims into the ID token too, not only behind the userinfo endpoint.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: {
      url: (_ctx: unknown, interaction: Interaction) => `${base}/interaction/${interaction.uid}`,
    },
    async findAccount(_ctx: unknown, sub: string) {
      if (!accounts.has(sub)) return undefined;
      return {
        accountId: sub,
        async claims() {
          const account = accounts.get(sub) ?? { sub };
          const claims: Record<string, unknown> = { sub };
          for (const name of CLAIMS) if (account[name] !== undefined) claims[name] = account[name];
          return claims;
        },
      };
    },
    // Error pages as JSON, so authorize() can put them in its error message.
    renderError(ctx: { type: string; body: unknown }, out: Record<string, string>) {
      ctx.type = 'json';
      ctx.body = out;
    },
    clientBasedCORS: () => true,
    // Numbers instead of the default functions, which print a notice when first called.
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      BackchannelAuthenticationRequest: 600,
      ClientCredentials: 600,
      DeviceCode: 600,
      Grant: 3600,
      IdToken: 3600,
      Interaction: 600,
      PreAuthorizedCode: 600,
      RefreshToken: 86400,
      Session: 3600,
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));
  handle = provider.callback();

  return {
    issuer,
    authorizationEndpoint: `${issuer}/auth`,
    tokenEndpoint: `${issuer}/token`,
    userinfoEndpoint: `${issuer}/me`,
    jwksUri: `${issuer}/jwks`,
    accounts,
    authorize: (authURL, sub) => playBrowser(issuer, authURL, sub),
    close() {
      return new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** The login + consent step: signs in as the sub the browser carries in a cookie and grants what was asked. */
async function finishInteraction(
  provider: Provider,
  accounts: Map<string, OidcAccount>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const interaction = await provider.interactionDetails(req, res);
  const sub = readCookie(req.headers.cookie ?? '', SUB_COOKIE);
  if (sub === undefined || !accounts.has(sub)) {
    const result = { error: 'access_denied', error_description: `no test account ${JSON.stringify(sub)}` };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const clientId = String(interaction.params['client_id']);
  const grant =
    (interaction.grantId && (await provider.Grant.find(interaction.grantId))) ||
    new provider.Grant({ accountId: sub, clientId });
  grant.addOIDCScope(String(interaction.params['scope'] ?? 'openid'));
  if (typeof interaction.params['claims'] === 'string') {
    const requested = JSON.parse(interaction.params['claims']) as Record<
      string,
      Record<string, unknown> | null
    >;
    grant.addOIDCClaims([
      ...Object.keys(requested['id_token'] ?? {}),
      ...Object.keys(requested['userinfo'] ?? {}),
    ]);
  }
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: sub }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

function readCookie(header: string, name: string): string | undefined {
  for (const pair of header.split(/;\s*/)) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq) === name) return decodeURIComponent(pair.slice(eq + 1));
  }
  return undefined;
}

/** Follows the provider's redirects with a cookie jar, stopping at the first one that leaves the provider. */
async function playBrowser(
  issuer: string,
  authURL: string,
  sub: string,
): Promise<{ url: string; params: Record<string, string> }> {
  const origin = new URL(issuer).origin;
  const redirectUri = new URL(authURL).searchParams.get('redirect_uri');
  const jar = new Map<string, { name: string; value: string; path: string }>();
  jar.set(`${SUB_COOKIE};/`, { name: SUB_COOKIE, value: encodeURIComponent(sub), path: '/' });

  let url = authURL;
  for (let hop = 0; hop < 20; hop++) {
    const pathname = new URL(url).pathname;
    const cookie = [...jar.values()]
      .filter((entry) => pathname === entry.path || pathname.startsWith(entry.path.replace(/\/?$/, '/')))
      .map((entry) => `${entry.name}=${entry.value}`)
      .join('; ');
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of response.headers.getSetCookie()) storeCookie(jar, line, pathname);
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) {
      const body = await response.text();
      throw new Error(`authorization stopped at ${url} with ${response.status}: ${body.slice(0, 500)}`);
    }
    await response.body?.cancel();
    const next = new URL(location, url);
    if (next.origin !== origin || (redirectUri && next.href.startsWith(redirectUri))) {
      const params: Record<string, string> = {};
      for (const source of [next.searchParams, new URLSearchParams(next.hash.slice(1))]) {
        for (const [key, value] of source) params[key] = value;
      }
      return { url: next.href, params };
    }
    url = next.href;
  }
  throw new Error(`too many redirects starting from ${authURL}`);
}

function storeCookie(
  jar: Map<string, { name: string; value: string; path: string }>,
  line: string,
  from: string,
) {
  const [pair = '', ...attributes] = line.split(';');
  const eq = pair.indexOf('=');
  if (eq <= 0) return;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  let path = from.slice(0, from.lastIndexOf('/')) || '/';
  let expired = value === '';
  for (const attribute of attributes) {
    const [key = '', val = ''] = attribute.trim().split('=');
    if (key.toLowerCase() === 'path' && val.startsWith('/')) path = val;
    if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
    if (key.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
  }
  if (expired) jar.delete(`${name};${path}`);
  else jar.set(`${name};${path}`, { name, value, path });
}

type Payload = Record<string, unknown>;

/** oidc-provider storage in a Map of this provider's own (the bundled one prints a warning). */
function createMemoryAdapter() {
  const store = new Map<string, { payload: Payload; expiresAt: number }>();
  const read = (key: string) => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) store.delete(key);
    else return entry?.payload;
    return undefined;
  };
  return (model: string) => {
    const keyOf = (id: string) => `${model}:${id}`;
    const findBy = (field: string, value: string) => {
      for (const [key, entry] of store) {
        if (key.startsWith(`${model}:`) && entry.payload[field] === value) return read(key);
      }
      return undefined;
    };
    return {
      async upsert(id: string, payload: Payload, expiresIn?: number) {
        store.set(keyOf(id), { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
      },
      async find(id: string) {
        return read(keyOf(id));
      },
      async findByUid(uid: string) {
        return findBy('uid', uid);
      },
      async findByUserCode(userCode: string) {
        return findBy('userCode', userCode);
      },
      async consume(id: string) {
        const payload = read(keyOf(id));
        if (payload) payload['consumed'] = Math.floor(Date.now() / 1000);
      },
      async destroy(id: string) {
        store.delete(keyOf(id));
      },
      async revokeByGrantId(grantId: string) {
        for (const [key, entry] of store) {
          if (key.startsWith(`${model}:`) && entry.payload['grantId'] === grantId) store.delete(key);
        }
      },
    };
  };
}
