export type { Bus, BusHandler } from './bus.ts';
export { createMemoryBus } from './bus.ts';
export { createRedisBus, type RedisBus, type RedisBusOptions } from './redis.ts';
