import { createRequire } from 'node:module';

/**
 * Node's `http` module, loaded without its lazy web globals. An ES module's `import … from 'node:http'`
 * reads every export to build the namespace, and Node 24's `http.WebSocket`, `CloseEvent` and
 * `MessageEvent` are getters that load undici (Node's fetch and WebSocket): some 750 KB of source held in
 * memory, with its compiled code, in every server process that never uses them. `require` returns the
 * module without reading them. Import `node:http` for types only (`import type`); values come from here.
 */
export const http: typeof import('node:http') = createRequire(import.meta.url)('node:http');
