export type { RealtimeLimits } from './broker.ts';
export type { ClientAuth, RealtimeClient } from './client.ts';
export { createRealtime, type Realtime } from './realtime.ts';
export { MAX_SUBSCRIPTION_LENGTH, parseSubscription } from './topics.ts';
