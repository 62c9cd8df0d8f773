export type { HttpDeps } from './context.ts';
export type { SharedMetrics } from './metrics.ts';
export { type ReadinessCheck, rememberSuccess } from './readiness.ts';
export { buildServer } from './server.ts';
