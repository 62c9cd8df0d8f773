export type { Bus, BusHandler } from './bus.ts';
export { createMemoryBus } from './bus.ts';
export { type CounterLimit, createMemoryCounters, type WindowCounters } from './counters.ts';
export {
  type BusHub,
  type Channel,
  createBusHub,
  createWorkerBus,
  createWorkerLock,
  type HubMessage,
  isHubMessage,
  type WorkerBus,
} from './ipc.ts';
export { createRedisBus, type RedisBus, type RedisBusOptions } from './redis.ts';
export { withSiblings } from './siblings.ts';
