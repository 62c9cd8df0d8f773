export type { Bus, BusHandler } from './bus.ts';
export { createMemoryBus } from './bus.ts';
