import type { Broker } from './broker.ts';

/** The realtime topic the SDK's all-in-one `authWithOAuth2` listens on for the provider's answer. */
export const OAUTH2_TOPIC = '@oauth2';

/** Longest `state` looked up: client ids are 40 characters; anything much longer is not one. */
export const MAX_OAUTH2_STATE_LENGTH = 255;

/** What the provider sent back to `/api/oauth2-redirect`, forwarded to the waiting client as is. */
export interface OAuth2Redirect {
  /** The realtime client id the SDK put in the sign-in link. */
  state: string;
  code: string;
  /** The provider's `error` (e.g. `access_denied`), empty when there is none. */
  error: string;
}

/**
 * How a redirect went: `delivered` (the client has the message, whether it carries a code or an error),
 * or why nobody was told: no such client on this node, a client not waiting on `@oauth2`, or a redirect
 * from another IP than the client's stream.
 */
export type OAuth2Delivery = 'delivered' | 'unknown-client' | 'not-subscribed' | 'other-ip';

/**
 * Hands the provider's answer to the realtime client named by `state`, if that client is on this node,
 * waits on `@oauth2`, and opened its stream from `ip` (the browser that completes the sign-in must be the
 * one that started it: a link with someone else's client id, opened elsewhere, tells that client nothing
 * and leaves it waiting). A client that is told ends its `@oauth2` subscription: one sign-in link, one answer.
 *
 * On this node only; `Realtime.oauth2` asks the other nodes when the client is not here.
 */
export function deliverOAuth2(broker: Broker, message: OAuth2Redirect, ip: string): OAuth2Delivery {
  if (!message.state || message.state.length > MAX_OAUTH2_STATE_LENGTH) return 'unknown-client';
  const client = broker.find(message.state);
  if (!client || client.closed) return 'unknown-client';
  const waiting = [...client.subscriptions.values()].filter((sub) => sub.topic === OAUTH2_TOPIC);
  if (waiting.length === 0) return 'not-subscribed';
  // Told nothing and left waiting: a forged redirect from elsewhere must not spoil the real one.
  if (client.ip !== ip) return 'other-ip';
  broker.replace(
    client,
    [...client.subscriptions.values()].filter((sub) => sub.topic !== OAUTH2_TOPIC),
  );
  const data = JSON.stringify(
    message.error
      ? { state: message.state, code: message.code, error: message.error }
      : { state: message.state, code: message.code },
  );
  for (const sub of waiting) client.send(sub.raw, data);
  return 'delivered';
}
