import { request } from 'node:http';
import type { TestServer } from './server.ts';

/** One answer of `getFrom`: status, parsed JSON body (when any), size and time taken. */
export interface Timed {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON.
  body: any;
  bytes: number;
  ms: number;
}

/**
 * GET from a given loopback address (127.0.0.2, 127.0.0.3...): to the server each address is another
 * client, which is what its per-client fairness and limits go by.
 */
export function getFrom(srv: TestServer, from: string, path: string): Promise<Timed> {
  const url = new URL(srv.url + path);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, localAddress: from },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body, bytes: text.length, ms: performance.now() - started });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/**
 * Collection `a` (public list and view) with self-relations `b`, `x` (single) and `m` (multi): the shape
 * where one record pointed at by every other makes a short filter's cost grow with a power of their
 * number. Returns the collection, for further fields.
 */
export async function createSelfRelated(srv: TestServer) {
  const a = await srv.admin.collections.create({
    name: 'a',
    listRule: '',
    viewRule: '',
    fields: [{ name: 'title', type: 'text' }],
  });
  return srv.admin.collections.update('a', {
    fields: [
      ...a.fields,
      { name: 'b', type: 'relation', collectionId: a.id, maxSelect: 1 },
      { name: 'x', type: 'relation', collectionId: a.id, maxSelect: 1 },
      { name: 'm', type: 'relation', collectionId: a.id, maxSelect: 5 },
    ],
  });
}
