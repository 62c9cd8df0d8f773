// The baseline for the session-check overhead (bench/auth.ts): Plinth exactly as `plinth serve` runs it,
// except that a token is accepted on its signature, expiry and record alone, as a stateless JWT check
// would (PocketBase's model). Bench-only: nothing in src/ can turn session checks off.
//
// node bench/plinth-static-sessions.ts serve --http HOST:PORT --dir DIR [--db URL]
import { parseArgs } from 'node:util';
import { createApp } from '../src/app.ts';
import { loadConfig } from '../src/config/index.ts';
import { createLogger } from '../src/log/index.ts';

const { values } = parseArgs({
  allowPositionals: true,
  options: { http: { type: 'string' }, dir: { type: 'string' }, db: { type: 'string' } },
});
const config = loadConfig({ http: values.http, dir: values.dir, db: values.db }, {});
const app = await createApp(config, createLogger(config.logLevel));
app.auth.sessions.check = async (id, collectionId, recordId) => ({
  id,
  collectionId,
  recordId,
  expires: Number.POSITIVE_INFINITY,
  lastSeen: Date.now(),
});
await app.server.listen({ host: config.host, port: config.port });
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
