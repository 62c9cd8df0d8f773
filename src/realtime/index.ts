export type { RealtimeLimits } from './broker.ts';
export type { ClientAuth, RealtimeClient } from './client.ts';
export {
  deliverOAuth2,
  MAX_OAUTH2_STATE_LENGTH,
  OAUTH2_TOPIC,
  type OAuth2Delivery,
  type OAuth2Redirect,
} from './oauth2.ts';
export { createRealtime, type Realtime } from './realtime.ts';
export { MAX_SUBSCRIPTION_LENGTH, parseSubscription } from './topics.ts';
