import { createRequire } from 'node:module';

/**
 * Node's `http` module, loaded without its lazy web globals. An ES module's `import … from 'node:http'`
 * reads every export to build the namespace, and Node 24's `http.WebSocket`, `CloseEvent` and
 * `MessageEvent` are getters that load undici (Node's fetch and WebSocket): its compiled code and objects,
 * about 2 MB of a freshly started server process that never uses them (docs/benchmarks.md). `require`
 * returns the module without reading them. Import `node:http` for types only (`import type`); values come from here.
 */
export const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');
