import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, badRequest, type ErrorData, fieldError, forbidden, notFound } from '../../errors/index.ts';
import { MAX_SUBSCRIPTION_LENGTH, type Realtime } from '../../realtime/index.ts';
import type { AuthContext } from '../../records/index.ts';
import { applySecurityHeaders } from '../security.ts';

/**
 * PocketBase's realtime protocol. `GET /api/realtime` opens an SSE stream whose first message,
 * `PB_CONNECT`, carries the client id; `POST /api/realtime {clientId, subscriptions}` replaces that
 * client's subscriptions and binds the auth of its own request to them (a guest may become signed in;
 * any other change of auth is a 403, as in PocketBase).
 */
export async function realtimeRoutes(
  app: FastifyInstance,
  { realtime, maxSubscriptions }: { realtime: Realtime; maxSubscriptions: number },
): Promise<void> {
  const { broker } = realtime;

  app.get('/api/realtime', async (request, reply) => {
    const client = broker.register(request.ip, reply.raw);
    if (!client) throw new ApiError(429, 'Too many realtime connections from this address.');
    reply.hijack();
    // A hijacked reply writes its own head, and no onSend hook runs: it takes the headers every response
    // carries from here (CORS above all: an app on another origin opens this stream with EventSource).
    applySecurityHeaders(request, reply);
    reply.raw.writeHead(200, {
      ...(reply.getHeaders() as OutgoingHttpHeaders),
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      // Proxies such as nginx would otherwise hold messages back.
      'x-accel-buffering': 'no',
    });
    client.send('PB_CONNECT', JSON.stringify({ clientId: client.id }));
  });

  app.post('/api/realtime', async (request, reply) => {
    const { clientId, subscriptions } = readForm(request.body, maxSubscriptions);
    const outcome = await realtime.subscribe({
      clientId,
      ip: request.ip,
      auth: authOf(request),
      subscriptions,
    });
    if (outcome === 'missing') throw notFound('Missing or invalid client id.');
    if (outcome === 'ip') throw badRequest('Invalid realtime client.');
    if (outcome === 'auth')
      throw forbidden("The current and the previous request authorization don't match.");
    return reply.code(204).send();
  });
}

function authOf(request: FastifyRequest) {
  const auth = request.auth;
  if (!auth.record) return undefined;
  const context: AuthContext = {
    collection: auth.collection,
    record: auth.record,
    isSuperuser: auth.isSuperuser,
    ...(auth.sessionId ? { sessionId: auth.sessionId } : {}),
  };
  return { context, expiresAt: auth.expiresAt ?? Number.POSITIVE_INFINITY };
}

/** PocketBase's form: `clientId` 1–255 characters; up to 1000 subscriptions of up to 2500 characters. */
function readForm(body: unknown, maxSubscriptions: number): { clientId: string; subscriptions: string[] } {
  const input =
    body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const errors: ErrorData = {};
  const clientId = input.clientId;
  if (clientId === undefined || clientId === null || clientId === '')
    errors.clientId = fieldError('validation_required', 'Cannot be blank.');
  else if (typeof clientId !== 'string')
    errors.clientId = fieldError('validation_invalid_value', 'Invalid value.');
  else if (clientId.length > 255)
    errors.clientId = fieldError('validation_length_too_long', 'The length must be no more than 255.', {
      max: 255,
    });
  const raw = input.subscriptions ?? [];
  let subscriptions: string[] = [];
  if (!Array.isArray(raw)) {
    errors.subscriptions = fieldError('validation_invalid_value', 'Invalid value.');
  } else if (raw.length > maxSubscriptions) {
    errors.subscriptions = fieldError(
      'validation_length_too_long',
      `The length must be no more than ${maxSubscriptions}.`,
      { max: maxSubscriptions },
    );
  } else {
    const items: ErrorData = {};
    raw.forEach((item, i) => {
      if (typeof item !== 'string') items[i] = fieldError('validation_invalid_value', 'Invalid value.');
      else if (item.length > MAX_SUBSCRIPTION_LENGTH)
        items[i] = fieldError(
          'validation_length_too_long',
          `The length must be no more than ${MAX_SUBSCRIPTION_LENGTH}.`,
          { max: MAX_SUBSCRIPTION_LENGTH },
        );
      // A line break would end the SSE frame the subscription names: no client may write into its stream.
      else if (item.includes('\n') || item.includes('\r') || item.includes('\u0000'))
        items[i] = fieldError('validation_invalid_value', 'Must not contain line breaks or NUL characters.');
    });
    if (Object.keys(items).length) errors.subscriptions = items;
    else subscriptions = [...new Set(raw as string[])];
  }
  if (Object.keys(errors).length)
    throw badRequest('Something went wrong while processing your request.', errors);
  return { clientId: clientId as string, subscriptions };
}
