import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OAuth2Redirect, Realtime } from '../../realtime/index.ts';

/** Where the browser is sent afterwards: the `/_/` page (pages.ts) shows the outcome, as PocketBase's dashboard does. */
const SUCCESS = '../_/#/auth/oauth2-redirect-success';
const FAILURE = '../_/#/auth/oauth2-redirect-failure';

/** A provider's answer is a few short parameters (Apple adds a small `user` JSON); more is not one. */
const BODY_LIMIT = 32 * 1024;

/**
 * `GET` and `POST /api/oauth2-redirect`: where the provider sends the browser back in the SDK's all-in-one
 * `authWithOAuth2` flow (POST for providers that use `response_mode=form_post`, e.g. Apple). The `state`
 * is the realtime client id of the SDK that waits on `@oauth2`; that client receives `{state, code, error}`
 * and exchanges the code itself with `auth-with-oauth2`. This route signs nobody in.
 *
 * Every outcome is a redirect, as in PocketBase — 307 for GET, 303 for POST (so the browser follows it with
 * a GET) — to the success page when a waiting client got a code, to the failure page otherwise (no or
 * unknown state, a client not waiting, another IP, the provider's error, no code, an unreadable body).
 * Only a body past BODY_LIMIT is answered otherwise (413).
 */
export async function oauth2RedirectRoutes(
  app: FastifyInstance,
  { realtime }: { realtime: Realtime },
): Promise<void> {
  // In this plugin only: any body is read as text and parsed here, so that no body fails the request.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
    done(null, body),
  );

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    const message = request.method === 'POST' ? fromBody(request) : fromQuery(request.url);
    const outcome = await realtime.oauth2(message, request.ip);
    const ok = outcome === 'delivered' && !message.error && message.code !== '';
    if (!ok) {
      request.log.debug(
        { reqId: request.id, outcome, providerError: message.error.slice(0, 100) },
        'oauth2 redirect failed',
      );
    }
    return reply
      .code(request.method === 'POST' ? 303 : 307)
      .header('location', ok ? SUCCESS : FAILURE)
      .send();
  };
  // No HEAD twin: a HEAD (a link checker) must not use up the client's one answer.
  app.get('/api/oauth2-redirect', { exposeHeadRoute: false }, handle);
  app.post('/api/oauth2-redirect', handle);
}

const EMPTY: OAuth2Redirect = { state: '', code: '', error: '' };

/** The query string's parameters; a repeated one counts with its first value, as PocketBase reads it. */
function fromQuery(url: string): OAuth2Redirect {
  const mark = url.indexOf('?');
  if (mark < 0) return EMPTY;
  return pick(new URLSearchParams(url.slice(mark + 1)));
}

/** A form (`application/x-www-form-urlencoded`) or JSON body; anything else carries nothing. */
function fromBody(request: FastifyRequest): OAuth2Redirect {
  const body = request.body;
  if (typeof body !== 'string' || body === '') return EMPTY;
  const type = String(request.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) return pick(new URLSearchParams(body));
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return EMPTY;
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return EMPTY;
    const fields = parsed as Record<string, unknown>;
    const text = (key: string) => (typeof fields[key] === 'string' ? (fields[key] as string) : '');
    return { state: text('state'), code: text('code'), error: text('error') };
  }
  return EMPTY;
}

function pick(params: URLSearchParams): OAuth2Redirect {
  return {
    state: params.get('state') ?? '',
    code: params.get('code') ?? '',
    error: params.get('error') ?? '',
  };
}
