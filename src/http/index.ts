export type { HttpDeps } from './context.ts';
export { buildServer } from './server.ts';
