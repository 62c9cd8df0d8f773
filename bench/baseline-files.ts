// The bare files baseline for bench/files.ts: what plain `node:http` + `fs` do with the same bytes Plinth
// receives and serves. An upload's whole request body (the client sends the same multipart form to both
// servers) is streamed into a file as it arrives; a download streams a file back with
// `fs.createReadStream`. No parsing, no sniffing, no database: the floor for copying bytes between a
// socket and a disk in Node, which Plinth's figures are compared with.
//
//   POST /upload       → the body is written to DIR/<random>; answers {"name": "<random>", "size": N}
//   GET  /files/NAME   → the file, with Content-Length
//   GET  /api/health   → 200 (for the bench's readiness check)
//
// Run standalone: node bench/baseline-files.ts --port 8093 --dir /tmp/files-base
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({
  options: { port: { type: 'string', default: '8093' }, dir: { type: 'string' } },
});
if (!flags.dir) {
  console.error('baseline-files.ts: --dir DIR is required');
  process.exit(2);
}
const dir = flags.dir;
mkdirSync(dir, { recursive: true });

function answer(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer(async (req, res) => {
  try {
    const url = req.url ?? '/';
    if (req.method === 'POST' && url === '/upload') {
      const name = randomBytes(12).toString('hex');
      const path = join(dir, name);
      await pipeline(req, createWriteStream(path, { mode: 0o600 }));
      answer(res, 200, { name, size: (await stat(path)).size });
      return;
    }
    if (req.method === 'GET' && url.startsWith('/files/')) {
      const name = url.slice('/files/'.length);
      if (!/^[0-9a-f]{24}$/.test(name)) return answer(res, 404, { message: 'not found' });
      const path = join(dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info) return answer(res, 404, { message: 'not found' });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
      await pipeline(createReadStream(path), res);
      return;
    }
    if (req.method === 'GET' && url === '/api/health') return answer(res, 200, { code: 200 });
    answer(res, 404, { message: 'not found' });
  } catch (err) {
    if (!res.headersSent) answer(res, 500, { message: String(err) });
    else res.destroy();
  }
});
server.listen(Number(flags.port), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
