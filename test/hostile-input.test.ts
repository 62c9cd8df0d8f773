import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { propertyRuns } from './helpers/runs.ts';
import { SUPERUSER, startServer, type TestServer } from './helpers/server.ts';

/** Fixed so that a failure replays; fast-check prints seed and path of any counterexample. */
const SEED = Number(process.env.FUZZ_SEED ?? 20260521);
const FUZZ_RUNS = propertyRuns('FUZZ_RUNS', 150);

interface Res {
  status: number;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests inspect the parsed JSON freely.
  body: any;
  headers: IncomingHttpHeaders;
}

interface SendOptions {
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** Sent byte for byte; `type` sets the content type (`null` sends none). */
  raw?: string | Buffer;
  type?: string | null;
  token?: string;
  /** Sends the body chunked, without Content-Length. */
  chunked?: boolean;
}

/**
 * A request over node:http, so that the path goes out exactly as written (fetch would resolve `../` and
 * re-encode), bodies may be any bytes, and no content type is added behind our back.
 */
function send(base: string, method: string, path: string, opts: SendOptions = {}): Promise<Res> {
  const url = new URL(base);
  const headers: Record<string, string> = {};
  let payload: Buffer | undefined;
  if (opts.json !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.json));
    headers['content-type'] = 'application/json';
  } else if (opts.raw !== undefined) {
    payload = Buffer.isBuffer(opts.raw) ? opts.raw : Buffer.from(opts.raw);
    const type = opts.type === undefined ? 'application/json' : opts.type;
    if (type !== null) headers['content-type'] = type;
  }
  if (payload && !opts.chunked) headers['content-length'] = String(payload.length);
  if (opts.token) headers.authorization = opts.token;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
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
        resolve({ status: res.statusCode ?? 0, text, body, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (payload && opts.chunked) {
      // Two writes, so that the body really goes out in chunks.
      req.write(payload.subarray(0, 1));
      req.end(payload.subarray(1));
    } else req.end(payload);
  });
}

/** Things an error body must never show: stack frames, SQL and driver text, install paths. */
const LEAKS: [string, RegExp][] = [
  ['a stack frame', /\bat (?:async )?[\w$.<>[\]]+ \(|\bat (?:file|node):|\n\s+at |\.[cm]?[jt]s:\d+:\d+/],
  ['SQLITE', /SQLITE/],
  ['sqlite', /sqlite/],
  ['SELECT', /SELECT /],
  ['node_modules', /node_modules/],
];

/** `echoes`: client text the body may quote back (an invalid sort key, a reserved name), not a leak. */
function assertNoLeak(res: Res, context: string, echoes: string[] = []): void {
  let text = res.text;
  for (const echo of echoes)
    text = text.replaceAll(JSON.stringify(echo).slice(1, -1), '').replaceAll(echo, '');
  for (const [what, re] of LEAKS)
    assert.doesNotMatch(text, re, `${context}: body shows ${what}: ${res.text}`);
}

/** A 4xx in PocketBase's error shape (`status` = HTTP status, string `message`, object `data`), no leaks. */
function assertClientError(
  res: Res,
  expected: number | number[],
  context: string,
  echoes: string[] = [],
): Res['body'] {
  const allowed = Array.isArray(expected) ? expected : [expected];
  assert.ok(
    allowed.includes(res.status),
    `${context}: expected ${allowed.join(' or ')}, got ${res.status} ${res.text}`,
  );
  assertErrorShape(res, context, echoes);
  return res.body;
}

function assertErrorShape(res: Res, context: string, echoes: string[] = []): void {
  assert.ok(
    res.body && typeof res.body === 'object',
    `${context}: error body is JSON: ${res.text.slice(0, 200)}`,
  );
  assert.equal(res.body.status, res.status, `${context}: body.status`);
  assert.equal(typeof res.body.message, 'string', `${context}: body.message`);
  assert.ok(
    res.body.data && typeof res.body.data === 'object' && !Array.isArray(res.body.data),
    `${context}: body.data is an object`,
  );
  assertNoLeak(res, context, echoes);
}

/** The oracle of every fuzz case: no 5xx, and any error is a well-formed, leak-free PocketBase error. */
function assertHandled(res: Res, context: string): void {
  assert.ok(res.status < 500, `${context}: ${res.status} ${res.text.slice(0, 300)}`);
  if (res.status >= 400) assertErrorShape(res, context);
}

let counter = 0;
const unique = (prefix: string) => `${prefix}_${Date.now().toString(36)}${counter++}`;

/** Percent-encodes every byte, so any string (or byte soup) can travel in a path or query. */
const encodeBytes = (bytes: Uint8Array | string) =>
  [...(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)]
    .map((b) => `%${b.toString(16).padStart(2, '0')}`)
    .join('');

const FIELD_NAMES = ['title', 'short', 'n', 'flag', 'mail', 'site', 'day', 'one', 'many', 'meta', 'owner'];

describe('hostile input', () => {
  let server: TestServer;
  let T = '';
  /** A collection with one field of each kind under test, and one record in it. */
  let C = '';
  let R = '';
  let original: unknown;

  const req = (method: string, path: string, opts: SendOptions = {}) => send(server.url, method, path, opts);
  const recordCount = async (collection: string) => {
    const res = await req('GET', `/api/collections/${collection}/records?perPage=1`, { token: T });
    assert.equal(res.status, 200);
    return res.body.totalItems as number;
  };
  const collectionCount = async () =>
    (await req('GET', '/api/collections?perPage=1', { token: T })).body.totalItems as number;

  before(async () => {
    server = await startServer();
    T = server.adminToken;
    C = unique('hostile');
    const created = await req('POST', '/api/collections', {
      token: T,
      json: {
        name: C,
        listRule: '',
        viewRule: '',
        createRule: '',
        updateRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'short', type: 'text', max: 10 },
          { name: 'n', type: 'number', min: 0, max: 10 },
          { name: 'flag', type: 'bool' },
          { name: 'mail', type: 'email' },
          { name: 'site', type: 'url' },
          { name: 'day', type: 'date' },
          { name: 'one', type: 'select', values: ['a', 'b'], maxSelect: 1 },
          { name: 'many', type: 'select', values: ['a', 'b', 'c'], maxSelect: 2 },
          { name: 'meta', type: 'json' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
        ],
      },
    });
    assert.equal(created.status, 200, created.text);
    const rec = await req('POST', `/api/collections/${C}/records`, {
      token: T,
      json: { title: 'original', n: 5, flag: true, one: 'a', many: ['a'], meta: { k: 1 } },
    });
    assert.equal(rec.status, 200, rec.text);
    R = rec.body.id;
    original = rec.body;
  });
  after(() => server.close());

  /** Every endpoint that takes a JSON body, with the token it needs. */
  const bodyEndpoints = (): [string, string, string | undefined][] => [
    ['POST', `/api/collections/${C}/records`, T],
    ['PATCH', `/api/collections/${C}/records/${R}`, T],
    ['POST', '/api/collections', T],
    ['PATCH', `/api/collections/${C}`, T],
    ['PUT', '/api/collections/import', T],
    ['POST', '/api/collections/users/auth-with-password', undefined],
  ];

  const assertUntouched = async (before: { records: number; collections: number }) => {
    assert.equal(await recordCount(C), before.records, 'no record was written');
    assert.equal(await collectionCount(), before.collections, 'no collection was written');
    const now = await req('GET', `/api/collections/${C}/records/${R}`, { token: T });
    assert.deepEqual(now.body, original, 'the record is unchanged');
    const schema = await req('GET', `/api/collections/${C}`, { token: T });
    assert.equal(schema.body.fields.length, FIELD_NAMES.length + 1, 'the collection is unchanged');
  };
  const snapshot = async () => ({ records: await recordCount(C), collections: await collectionCount() });

  describe('malformed and unexpected bodies', () => {
    it('rejects malformed JSON with 400 on every endpoint that takes a body', async () => {
      const bodies: (string | Buffer)[] = [
        '{"title":',
        '{"title":"x"',
        '{"title":"x"} trailing',
        '{"title":"x"}{"title":"y"}',
        '{"a":}',
        '{"a":1,}',
        "{'title':'x'}",
        '{title:"x"}',
        'NaN',
        'undefined',
        '{"title":"tab\tinside"}',
        // Invalid UTF-8: stray bytes, an overlong '/', an encoded surrogate, bytes inside a string.
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"title":"x"}')]),
        Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
        Buffer.concat([Buffer.from('{"title":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
        Buffer.concat([Buffer.from('{"identity":"'), Buffer.from([0xff]), Buffer.from('","password":"x"}')]),
      ];
      const before = await snapshot();
      for (const [method, path, token] of bodyEndpoints()) {
        for (const raw of bodies) {
          const res = await req(method, path, { raw, token });
          assertClientError(res, 400, `${method} ${path} ${JSON.stringify(raw.toString())}`);
        }
      }
      await assertUntouched(before);
    });

    it('refuses JSON nested too deeply for the server to walk with 400', async () => {
      const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
      for (const [method, path, token] of bodyEndpoints()) {
        const res = await req(method, path, { raw: `{"meta":${deep(20_000)}}`, token });
        assertClientError(res, 400, `${method} ${path}`);
      }
      // Reasonable nesting is fine, and brackets inside strings do not count.
      const ok = await req('POST', `/api/collections/${C}/records`, {
        raw: `{"meta":${deep(100)},"title":"${'['.repeat(3000)}"}`,
        token: T,
      });
      assert.equal(ok.status, 200, ok.text);
    });

    it('refuses bodies that are not JSON with 415 or 400 and writes nothing', async () => {
      const before = await snapshot();
      const sneaky = unique('sneaky');
      const credentials = JSON.stringify({ identity: SUPERUSER.email, password: SUPERUSER.password });
      for (const type of [
        'text/plain',
        'text/plain;charset=UTF-8',
        'application/xml',
        'application/x-www-form-urlencoded',
        'application/jsonx',
        null,
      ]) {
        const context = `content type ${type}`;
        const create = await req('POST', `/api/collections/${C}/records`, {
          raw: '{"title":"sneaky"}',
          type,
          token: T,
        });
        assertClientError(create, [415, 400], `${context} create`);
        const update = await req('PATCH', `/api/collections/${C}/records/${R}`, {
          raw: '{"title":"sneaky"}',
          type,
          token: T,
        });
        assertClientError(update, [415, 400], `${context} update`);
        const coll = await req('POST', '/api/collections', {
          raw: JSON.stringify({ name: sneaky }),
          type,
          token: T,
        });
        assertClientError(coll, [415, 400], `${context} collection`);
        // A form post or `text/plain` (what a cross-site page can send without a preflight) never signs in.
        const login = await req('POST', '/api/collections/_superusers/auth-with-password', {
          raw: credentials,
          type,
        });
        assertClientError(login, [415, 400], `${context} login`);
        assert.equal(login.body.token, undefined);
      }
      await assertUntouched(before);
      assert.equal((await req('GET', `/api/collections/${sneaky}`, { token: T })).status, 404);
    });

    it('refuses JSON bodies that are not objects with 400', async () => {
      const before = await snapshot();
      for (const [method, path, token] of bodyEndpoints()) {
        for (const value of [
          [],
          [{ title: 'x', name: unique('arr') }],
          'a string',
          42,
          -0.5,
          null,
          true,
          false,
        ]) {
          const res = await req(method, path, { raw: JSON.stringify(value), token });
          assertClientError(res, 400, `${method} ${path} ${JSON.stringify(value)}`);
        }
      }
      await assertUntouched(before);
    });

    it('answers bodies over the configured limit with 413 before doing anything', async () => {
      const small = await startServer({ flags: { bodyLimit: 4096 } });
      try {
        const big = 'x'.repeat(10 * 1024);
        const sendSmall = (method: string, path: string, opts: SendOptions) =>
          send(small.url, method, path, opts);
        const users = await sendSmall('GET', '/api/collections/users/records?perPage=1', {
          token: small.adminToken,
        });
        for (const [method, path, json, token] of [
          [
            'POST',
            '/api/collections/users/records',
            { email: 'big@example.com', name: big },
            small.adminToken,
          ],
          [
            'POST',
            '/api/collections',
            { name: 'big_one', fields: [{ name: 'a', type: 'text', help: big }] },
            small.adminToken,
          ],
          ['PUT', '/api/collections/import', { collections: [{ name: big }] }, small.adminToken],
          ['POST', '/api/collections/users/auth-with-password', { identity: big, password: big }, undefined],
        ] as const) {
          assertClientError(await sendSmall(method, path, { json, token }), 413, `${method} ${path}`);
        }
        // Also when Content-Length is absent (chunked), and when the body is not JSON at all.
        const chunked = await sendSmall('POST', '/api/collections/users/records', {
          json: { email: 'big@example.com', name: big },
          token: small.adminToken,
          chunked: true,
        });
        assertClientError(chunked, 413, 'chunked');
        const plain = await sendSmall('POST', '/api/collections/users/records', {
          raw: big,
          type: 'text/plain',
        });
        assertClientError(plain, [413, 415], 'text/plain');
        const after = await sendSmall('GET', '/api/collections/users/records?perPage=1', {
          token: small.adminToken,
        });
        assert.equal(after.body.totalItems, users.body.totalItems);
        assert.equal(
          (await sendSmall('GET', '/api/collections/big_one', { token: small.adminToken })).status,
          404,
        );
        // Under the limit, the same server works normally.
        const login = await sendSmall('POST', '/api/collections/_superusers/auth-with-password', {
          json: { identity: SUPERUSER.email, password: SUPERUSER.password },
        });
        assert.equal(login.status, 200);
      } finally {
        await small.close();
      }
    });
  });

  describe('unknown and hostile ids', () => {
    it('answers unknown collections with 404 on records, collections and auth routes', async () => {
      const token = T;
      for (const [method, path, json] of [
        ['GET', '/api/collections/no_such/records'],
        ['POST', '/api/collections/no_such/records', {}],
        ['GET', '/api/collections/no_such/records/abcdefghijklmno'],
        ['PATCH', '/api/collections/no_such/records/abcdefghijklmno', {}],
        ['DELETE', '/api/collections/no_such/records/abcdefghijklmno'],
        ['GET', '/api/collections/no_such'],
        ['PATCH', '/api/collections/no_such', { name: 'whatever' }],
        ['DELETE', '/api/collections/no_such'],
        ['POST', '/api/collections/no_such/auth-with-password', { identity: 'a@b.c', password: 'x' }],
        ['GET', '/api/collections/no_such/auth-methods'],
      ] as const) {
        assertClientError(await req(method, path, { json, token }), 404, `${method} ${path}`);
      }
    });

    it('answers unknown record ids with 404', async () => {
      for (const method of ['GET', 'PATCH', 'DELETE']) {
        const res = await req(method, `/api/collections/${C}/records/abcdefghijklmno`, {
          token: T,
          ...(method === 'PATCH' ? { json: { title: 'x' } } : {}),
        });
        assertClientError(res, 404, method);
      }
    });

    it('answers traversal, quotes, NUL and overlong ids with 404 or 400, never 500', async () => {
      const before = await snapshot();
      const segments = [
        '..',
        '../x',
        '../../_superusers/records',
        '..%2F..%2Fetc%2Fpasswd',
        '%2E%2E%2F',
        "a'b",
        "'%20OR%20'1'='1",
        '%22x%22',
        '%60x%60',
        '%00',
        `${R}%00`,
        'a%00b',
        '%20',
        '%0A',
        '*',
        '%',
        'x'.repeat(500),
      ];
      for (const seg of segments) {
        for (const method of ['GET', 'PATCH', 'DELETE']) {
          const json = method === 'PATCH' ? { title: 'hacked' } : undefined;
          const onRecord = await req(method, `/api/collections/${C}/records/${seg}`, { json, token: T });
          assertClientError(onRecord, [404, 400], `${method} record ${seg.slice(0, 40)}`);
          const onCollection = await req(method, `/api/collections/${seg}/records`, { token: T });
          assertClientError(onCollection, [404, 400, 405], `${method} collection ${seg.slice(0, 40)}`);
        }
        assertClientError(
          await req('GET', `/api/collections/${seg}`, { token: T }),
          [404, 400],
          `view ${seg}`,
        );
      }
      await assertUntouched(before);
    });

    it('answers undecodable and overlong path segments in PocketBase’s error shape', async () => {
      for (const seg of ['%ZZ', '%FF', '%C0%AF', '%E2%82', 'a%x']) {
        const res = await req('GET', `/api/collections/${C}/records/${seg}`, { token: T });
        assertClientError(res, 400, seg);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        assert.ok(!res.text.includes(seg), 'the path is not echoed');
      }
      for (const seg of ['y'.repeat(501), 'z'.repeat(5000)]) {
        const res = await req('GET', `/api/collections/${C}/records/${seg}`, { token: T });
        assert.ok(res.status >= 400 && res.status < 500);
        assertClientError(res, res.status, `${seg.length} chars`);
        assert.ok(!res.text.includes(seg.slice(0, 100)), 'the path is not echoed');
      }
    });
  });

  describe('record field values', () => {
    it('ignores unknown fields in a record body', async () => {
      const res = await req('POST', `/api/collections/${C}/records`, {
        token: T,
        json: {
          title: 'known',
          nope: 1,
          'nope+': 2,
          collectionName: 'other',
          collectionId: 'other',
          expand: { x: 1 },
          passwordConfirm: 'x',
        },
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.title, 'known');
      assert.equal(res.body.nope, undefined);
      assert.equal(res.body.collectionName, C);
      assert.equal(res.body.expand, undefined);
    });

    it('rejects a value of the wrong type with 400 naming the field, for every field type', async () => {
      const cases: [string, unknown, string][] = [
        ['title', { a: 1 }, 'validation_invalid_value'],
        ['title', ['a'], 'validation_invalid_value'],
        ['n', 'abc', 'validation_invalid_value'],
        ['n', 'Infinity', 'validation_invalid_value'],
        ['n', '-Infinity', 'validation_invalid_value'],
        ['n', 'NaN', 'validation_invalid_value'],
        ['n', '1e309', 'validation_invalid_value'],
        ['n', '0x10', 'validation_invalid_value'],
        ['n', {}, 'validation_invalid_value'],
        ['n', [1], 'validation_invalid_value'],
        ['flag', 'yes', 'validation_invalid_value'],
        ['flag', 2, 'validation_invalid_value'],
        ['flag', {}, 'validation_invalid_value'],
        ['mail', 'nope', 'validation_is_email'],
        ['mail', 'a@', 'validation_is_email'],
        ['mail', { a: 1 }, 'validation_invalid_value'],
        ['site', 'javascript:alert(1)', 'validation_invalid_url'],
        ['site', 'data:text/html,<script>alert(1)</script>', 'validation_invalid_url'],
        ['site', 'not a url', 'validation_invalid_url'],
        ['day', 'not a date', 'validation_invalid_date'],
        ['day', '2024-02-30', 'validation_invalid_date'],
        ['day', 1700000000, 'validation_invalid_date'],
        ['day', {}, 'validation_invalid_date'],
        ['one', 'zz', 'validation_invalid_value'],
        ['one', { a: 1 }, 'validation_invalid_value'],
        ['many', ['a', 'zz'], 'validation_invalid_value'],
        ['many', [1, 2], 'validation_invalid_value'],
        ['owner', 'doesnotexist123', 'validation_missing_rel_records'],
        ['owner', '../../etc/passwd', 'validation_invalid_value'],
        ['owner', { id: 'x' }, 'validation_invalid_value'],
      ];
      const before = await snapshot();
      for (const [field, value, code] of cases) {
        const context = `${field} = ${JSON.stringify(value)}`;
        for (const [method, path] of [
          ['POST', `/api/collections/${C}/records`],
          ['PATCH', `/api/collections/${C}/records/${R}`],
        ]) {
          const body = assertClientError(
            await req(method!, path!, { token: T, json: { [field]: value } }),
            400,
            context,
          );
          assert.equal(body.data[field]?.code, code, `${method} ${context}: ${JSON.stringify(body.data)}`);
          assert.deepEqual(Object.keys(body.data), [field], `${method} ${context}: only that field`);
        }
      }
      // A number literal too large for a double arrives as Infinity.
      const huge = await req('POST', `/api/collections/${C}/records`, { token: T, raw: '{"n":1e309}' });
      assert.equal(assertClientError(huge, 400, 'n = 1e309 literal').data.n.code, 'validation_invalid_value');
      await assertUntouched(before);
    });

    it('stores any JSON value in a json field as given', async () => {
      for (const meta of [
        { a: [1, { b: null }] },
        'text',
        0,
        1.5,
        true,
        ['x', 2],
        { '': '', 'sp ace': 'ok' },
      ]) {
        const res = await req('POST', `/api/collections/${C}/records`, { token: T, json: { meta } });
        assert.equal(res.status, 200, res.text);
        const back = await req('GET', `/api/collections/${C}/records/${res.body.id}`, { token: T });
        assert.deepEqual(back.body.meta, meta);
      }
    });

    it('rejects values beyond a field’s limits with 400 and the constraint’s code', async () => {
      const cases: [Record<string, unknown>, string, string, Record<string, unknown>?][] = [
        [{ title: 'x'.repeat(5001) }, 'title', 'validation_max_text_constraint', { max: 5000 }],
        [{ title: '😀'.repeat(5001) }, 'title', 'validation_max_text_constraint', { max: 5000 }],
        [{ short: 'x'.repeat(11) }, 'short', 'validation_max_text_constraint', { max: 10 }],
        [{ n: 10.5 }, 'n', 'validation_max_number_constraint', { max: 10 }],
        [{ n: -0.001 }, 'n', 'validation_min_number_constraint', { min: 0 }],
        [{ n: Number.MAX_VALUE }, 'n', 'validation_max_number_constraint'],
        [{ 'n+': 6 }, 'n', 'validation_max_number_constraint'],
        [{ 'n-': 6 }, 'n', 'validation_min_number_constraint'],
        [{ many: ['a', 'b', 'c'] }, 'many', 'validation_too_many_values', { maxSelect: 2 }],
        [{ 'many+': ['b', 'c'] }, 'many', 'validation_too_many_values'],
        [{ meta: { blob: 'x'.repeat(1024 * 1024) } }, 'meta', 'validation_json_size_limit'],
      ];
      const before = await snapshot();
      for (const [json, field, code, params] of cases) {
        const context = JSON.stringify(json).slice(0, 60);
        // Modifiers act on the stored record, so they are checked on update only.
        const methods = Object.keys(json)[0]!.match(/[+-]$/) ? ['PATCH'] : ['POST', 'PATCH'];
        for (const method of methods) {
          const path =
            method === 'POST' ? `/api/collections/${C}/records` : `/api/collections/${C}/records/${R}`;
          const body = assertClientError(
            await req(method, path, { token: T, json }),
            400,
            `${method} ${context}`,
          );
          assert.equal(body.data[field]?.code, code, `${method} ${context}: ${JSON.stringify(body.data)}`);
          if (params) assert.deepEqual(body.data[field].params, params);
        }
      }
      await assertUntouched(before);
      // Exactly at the limits is fine.
      const ok = await req('POST', `/api/collections/${C}/records`, {
        token: T,
        json: { title: '😀'.repeat(5000), short: 'x'.repeat(10), n: 10, many: ['a', 'b'] },
      });
      assert.equal(ok.status, 200, ok.text.slice(0, 300));
    });
  });

  describe('SQL-looking names', () => {
    it('rejects SQL-looking collection names with 400', async () => {
      const before = await collectionCount();
      for (const name of [
        'posts; DROP TABLE users',
        '"x"',
        '`x`',
        '[x]',
        "x'--",
        'x--',
        'x/*',
        'users)',
        'a b',
        'sqlite_master',
        ' ',
        '',
      ]) {
        const res = await req('POST', '/api/collections', { token: T, json: { name } });
        // The reserved-prefix rule may name its prefix.
        const body = assertClientError(res, 400, JSON.stringify(name), [name, 'sqlite_']);
        assert.ok(body.data.name, `data.name for ${JSON.stringify(name)}: ${res.text}`);
      }
      const rename = await req('PATCH', `/api/collections/${C}`, {
        token: T,
        json: { name: 'x; DROP TABLE users' },
      });
      assert.ok(assertClientError(rename, 400, 'rename').data.name);
      assert.equal(await collectionCount(), before);
    });

    it('rejects field names with spaces, quotes or comments with 400 on the field', async () => {
      for (const fieldName of [
        'a b',
        'a"b',
        "a'b",
        'a`b',
        'a--b',
        'a;b',
        'x; DROP TABLE users',
        'a)',
        'a/*',
        '',
      ]) {
        const res = await req('POST', '/api/collections', {
          token: T,
          json: { name: unique('fields'), fields: [{ name: fieldName, type: 'text' }] },
        });
        const body = assertClientError(res, 400, JSON.stringify(fieldName));
        // Index 1: errors are keyed by the final list (PocketBase's), where the id field comes first.
        assert.ok(body.data.fields?.['1']?.name, `${JSON.stringify(fieldName)}: ${res.text}`);
      }
    });

    it('rejects sort keys that are not plain field names with 400', async () => {
      for (const sort of [
        'title;DROP',
        '(select 1)',
        '-"id"',
        '`id`',
        'title DESC',
        'title--',
        "title'",
        'id,(SELECT 1)',
        '_rowid_',
        'rowid',
        'sqlite_master',
        'nope',
        '@random;',
        'title,'.repeat(9),
      ]) {
        const records = await req('GET', `/api/collections/${C}/records?sort=${encodeURIComponent(sort)}`, {
          token: T,
        });
        const keys = sort.split(',').map((k) => k.replace(/^[-+]/, ''));
        assertClientError(records, 400, `records sort ${sort}`, keys);
        const collections = await req('GET', `/api/collections?sort=${encodeURIComponent(sort)}`, {
          token: T,
        });
        assertClientError(collections, 400, `collections sort ${sort}`, keys);
      }
      const ok = await req(
        'GET',
        `/api/collections/${C}/records?sort=${encodeURIComponent('-n,+title,@rowid')}`,
        {
          token: T,
        },
      );
      assert.equal(ok.status, 200);
    });

    it('rejects index definitions that carry extra SQL, and the users table keeps working', async () => {
      for (const index of [
        'CREATE INDEX i1 ON t (title); DROP TABLE users',
        'CREATE INDEX i1 ON t (title) WHERE 1=1 OR (select count(*) from users) > 0',
        "CREATE INDEX i1 ON t (title) WHERE title = 'a' OR 1=1",
        "CREATE INDEX i1 ON t (title) WHERE title = 'x'; DROP TABLE users",
        'CREATE INDEX i1 ON t (title) -- trailing comment',
        'CREATE INDEX i1 ON t (title) /* comment */',
        'CREATE INDEX i1 ON t ((select 1))',
        'CREATE INDEX i1 ON t (lower(title))',
        'CREATE INDEX "i1; DROP TABLE users" ON t (title)',
        'CREATE TRIGGER x AFTER INSERT ON users BEGIN DELETE FROM users; END',
        'DROP TABLE users',
        'CREATE INDEX i1 ON t (nope)',
        '',
      ]) {
        const res = await req('POST', '/api/collections', {
          token: T,
          json: { name: unique('idx'), fields: [{ name: 'title', type: 'text' }], indexes: [index] },
        });
        const body = assertClientError(res, 400, index);
        assert.ok(body.data.indexes, `${index}: ${res.text}`);
        const update = await req('PATCH', `/api/collections/${C}`, { token: T, json: { indexes: [index] } });
        assert.ok(assertClientError(update, 400, `update ${index}`).data.indexes);
      }
      const list = await req('GET', '/api/collections/users/records', { token: T });
      assert.equal(list.status, 200);
      const user = await req('POST', '/api/collections/users/records', {
        token: T,
        json: {
          email: `${unique('u')}@example.com`,
          password: 'password-123',
          passwordConfirm: 'password-123',
        },
      });
      assert.equal(user.status, 200, user.text);
    });
  });

  describe('paging garbage', () => {
    it('answers garbage page and perPage with 400 or a clamped 200, never 500', async () => {
      const values = [
        'abc',
        '-5',
        '0',
        '-0',
        '1.5',
        '1e309',
        '-1e309',
        '1e15',
        '99999999999999999999',
        '0x10',
        'NaN',
        '',
        '%00',
        '%20',
        '[]',
      ];
      for (const key of ['page', 'perPage']) {
        for (const value of values) {
          for (const path of [`/api/collections/${C}/records`, '/api/collections']) {
            const res = await req('GET', `${path}?${key}=${value}`, { token: T });
            const context = `${path}?${key}=${value}`;
            if (res.status === 200) {
              assert.ok(
                Number.isInteger(res.body.page) && res.body.page >= 1,
                `${context}: page ${res.body.page}`,
              );
              assert.ok(
                res.body.perPage >= 1 && res.body.perPage <= 1000,
                `${context}: perPage ${res.body.perPage}`,
              );
              assert.ok(Array.isArray(res.body.items));
            } else assertClientError(res, 400, context);
          }
        }
      }
      const capped = await req('GET', `/api/collections/${C}/records?perPage=100000`, { token: T });
      assert.equal(capped.body.perPage, 1000);
    });
  });

  describe('prototype pollution', () => {
    it('refuses or ignores __proto__ and constructor keys, and Object.prototype stays clean', async () => {
      const before = await snapshot();
      const polluting = [
        '{"title":"p","__proto__":{"polluted":1}}',
        '{"title":"p","constructor":{"prototype":{"polluted":1}}}',
        '{"title":"p","\\u005f_proto__":{"polluted":1}}',
        '{"meta":{"deep":{"__proto__":{"polluted":1}}}}',
        '{"meta":[{"constructor":{"prototype":{"polluted":1}}}]}',
      ];
      const targets: [string, string, (body: string) => string, string | undefined][] = [
        ['POST', `/api/collections/${C}/records`, (b) => b, T],
        ['PATCH', `/api/collections/${C}/records/${R}`, (b) => b, T],
        ['POST', '/api/collections', (b) => b.replace('"title":"p"', `"name":"${unique('proto')}"`), T],
        ['PATCH', `/api/collections/${C}`, (b) => b, T],
        [
          'POST',
          '/api/collections',
          (b) =>
            `{"name":"${unique('proto')}","fields":[${b.replace('"title":"p"', '"name":"a","type":"text"')}]}`,
          T,
        ],
        [
          'POST',
          '/api/collections',
          (b) => `{"name":"${unique('proto')}","type":"auth","passwordAuth":${b}}`,
          T,
        ],
        ['POST', '/api/collections/users/auth-with-password', (b) => b, undefined],
      ];
      for (const [method, path, wrap, token] of targets) {
        for (const body of polluting) {
          const raw = wrap(body);
          const res = await req(method, path, { raw, token });
          if (res.status >= 400) assertClientError(res, 400, `${method} ${path} ${raw}`);
          else assert.ok(!res.text.includes('polluted'), `${method} ${path} ${raw}: ${res.text}`);
        }
      }
      const query = await req(
        'GET',
        `/api/collections/${C}/records?__proto__[polluted]=1&constructor[prototype][polluted]=1`,
        {
          token: T,
        },
      );
      assert.ok(query.status === 200 || query.status === 400);
      // The server runs in this process, so this checks its Object.prototype.
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false);
      await assertUntouched(before);
    });
  });

  describe('collection options', () => {
    it('rejects wrongly typed auth options with 400 instead of failing at sign-in', async () => {
      for (const [key, value] of [
        ['passwordAuth', { enabled: 'yes' }],
        ['passwordAuth', { identityFields: 5 }],
        ['passwordAuth', { identityFields: ['nope'] }],
        ['passwordAuth', { identityFields: [{}] }],
        ['authToken', { duration: 'x' }],
        ['authToken', { duration: -1 }],
        ['authToken', { duration: 1e300 }],
        ['otp', { length: 1.5 }],
        ['mfa', { enabled: 1 }],
      ] as const) {
        const name = unique('authopt');
        const res = await req('POST', '/api/collections', {
          token: T,
          json: { name, type: 'auth', [key]: value },
        });
        const body = assertClientError(res, 400, `${key} ${JSON.stringify(value)}`);
        assert.ok(body.data[key], `${key}: ${res.text}`);
        const users = await req('PATCH', '/api/collections/users', { token: T, json: { [key]: value } });
        assertClientError(users, 400, `users ${key} ${JSON.stringify(value)}`);
      }
      const login = await req('POST', '/api/collections/users/auth-with-password', {
        json: { identity: 'nobody@example.com', password: 'whatever-1' },
      });
      assertClientError(login, 400, 'users sign-in still answers');
    });
  });

  describe('fuzz', () => {
    const fieldKeys = [
      ...FIELD_NAMES,
      'id',
      'collectionId',
      'collectionName',
      'expand',
      'created',
      'updated',
    ];
    const modifierKeys = fieldKeys.flatMap((k) => [`${k}+`, `+${k}`, `${k}-`, `${k}:autogenerate`]);
    const collectionKeys = [
      'name',
      'type',
      'fields',
      'indexes',
      'id',
      'system',
      'listRule',
      'viewRule',
      'createRule',
    ];
    const authKeys = ['identity', 'password', 'identityField', 'passwordConfirm', 'oldPassword', 'email'];
    const optionKeys = [
      'passwordAuth',
      'authToken',
      'otp',
      'mfa',
      'oauth2',
      'authRule',
      'manageRule',
      'options',
    ];
    const nastyKeys = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''];
    const key = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...fieldKeys, ...modifierKeys, ...authKeys) },
      { weight: 2, arbitrary: fc.constantFrom(...collectionKeys, ...optionKeys, ...nastyKeys) },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    );
    const scalar = fc.oneof(
      fc.constantFrom(
        '',
        'a',
        'b',
        'c',
        'x'.repeat(5001),
        'javascript:alert(1)',
        '2024-01-01',
        'abcdefghijklmno',
        '\u0000',
        '\ud800',
      ),
      fc.constantFrom(0, -1, 1e308, -1e-308, Number.MAX_SAFE_INTEGER + 2, 0.1, true, false, null),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.double(),
      fc.integer(),
    );
    const field = fc.record(
      {
        name: fc.oneof(fc.constantFrom('a', 'title', 'id', 'email', 'created'), fc.string({ maxLength: 8 })),
        type: fc.constantFrom(
          'text',
          'number',
          'bool',
          'email',
          'url',
          'date',
          'autodate',
          'select',
          'relation',
          'file',
          'json',
          'geoPoint',
          'editor',
          'password',
          'view',
          '',
        ),
        id: fc.oneof(fc.constantFrom('text3208210256', 'f1'), fc.string({ maxLength: 8 })),
        values: fc.array(scalar, { maxLength: 3 }),
        maxSelect: scalar,
        min: scalar,
        max: scalar,
        pattern: fc.constantFrom('', '^a', '(', '[a-z]+', '\\'),
        collectionId: fc.constantFrom('_pb_users_auth_', 'pbc_3142635823', 'nope', ''),
        required: fc.boolean(),
        hidden: scalar,
      },
      { requiredKeys: [] },
    );
    const index = fc.oneof(
      fc.constantFrom(
        'CREATE INDEX ix ON t (title)',
        "CREATE UNIQUE INDEX ix ON t (a) WHERE a != ''",
        'DROP TABLE users',
      ),
      fc.string({ maxLength: 40 }),
    );
    const collectionBody = fc.record(
      {
        name: fc.oneof(fc.constantFrom('users', '_superusers', 'fz', 'a b'), fc.string({ maxLength: 10 })),
        type: fc.constantFrom('base', 'auth', 'view', 'x'),
        fields: fc.array(field, { maxLength: 4 }),
        indexes: fc.array(index, { maxLength: 2 }),
        listRule: fc.oneof(scalar, fc.constant('')),
        passwordAuth: fc.oneof(
          scalar,
          fc.record({ enabled: scalar, identityFields: fc.array(scalar, { maxLength: 2 }) }),
        ),
        authToken: fc.oneof(scalar, fc.record({ duration: scalar })),
      },
      { requiredKeys: [] },
    );
    const value = fc.oneof(
      { weight: 3, arbitrary: scalar },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    );
    const body = fc.oneof(
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
      { weight: 3, arbitrary: fc.object({ key, values: [value], maxDepth: 2, maxKeys: 6 }) },
      { weight: 2, arbitrary: fc.dictionary(key, value, { maxKeys: 6 }) },
    );
    /** The body as sent: usually intact JSON, sometimes cut short or sent under another content type. */
    const request = (payload: fc.Arbitrary<unknown>) =>
      fc.record({
        payload,
        cut: fc.option(fc.nat(), { freq: 8 }),
        type: fc.constantFrom(
          'application/json',
          'application/json',
          'application/json',
          'application/json; charset=utf-8',
          'text/plain',
        ),
      });

    const fuzzBody = async (
      method: string,
      path: () => string,
      payload: fc.Arbitrary<unknown>,
      token?: string,
    ) => {
      await fc.assert(
        fc.asyncProperty(request(payload), async ({ payload, cut, type }) => {
          let text = JSON.stringify(payload) ?? 'null';
          if (cut !== null) text = text.slice(0, cut % (text.length + 1));
          const res = await req(method, path(), { raw: text, type, token });
          assertHandled(res, `${method} ${path()} ${text.slice(0, 200)}`);
        }),
        { seed: SEED, numRuns: FUZZ_RUNS },
      );
    };

    it('never answers 5xx to random record create bodies', async () => {
      await fuzzBody('POST', () => `/api/collections/${C}/records`, body, T);
    });

    it('never answers 5xx to random record update bodies', async () => {
      await fuzzBody('PATCH', () => `/api/collections/${C}/records/${R}`, body, T);
    });

    it('never answers 5xx to random collection create bodies', async () => {
      await fuzzBody('POST', () => '/api/collections', fc.oneof(body, collectionBody), T);
    });

    it('never answers 5xx to random collection update bodies', async () => {
      // A collection of its own (addressed by id, so renames keep it reachable) with something to change.
      const target = await req('POST', '/api/collections', {
        token: T,
        json: { name: unique('fz_target'), type: 'auth', fields: [{ name: 'title', type: 'text' }] },
      });
      assert.equal(target.status, 200, target.text);
      await fuzzBody('PATCH', () => `/api/collections/${target.body.id}`, fc.oneof(body, collectionBody), T);
    });

    it('never answers 5xx to random auth-with-password bodies', async () => {
      const credentials = fc.record(
        {
          identity: value,
          password: value,
          identityField: fc.oneof(value, fc.constantFrom('email', 'id', 'password', 'tokenKey')),
        },
        { requiredKeys: [] },
      );
      await fuzzBody('POST', () => '/api/collections/users/auth-with-password', fc.oneof(body, credentials));
    });

    const queryValue = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 30 }).map(encodeBytes),
      fc.uint8Array({ maxLength: 12 }).map(encodeBytes),
      fc.constantFrom(
        '-title',
        '@random',
        '@rowid',
        'title,-n',
        '1e309',
        '-1',
        '0x10',
        '%',
        '%ZZ',
        '%FF',
        '%C0%AF',
        '+',
        '%2B',
      ),
      fc.integer().map(String),
      fc.double().map((d) => encodeURIComponent(String(d))),
    );

    it('never answers 5xx to random sort, page and perPage values', async () => {
      const params = fc.array(
        fc.tuple(
          fc.constantFrom('sort', 'page', 'perPage', 'skipTotal', 'filter', 'expand', 'fields', '__proto__'),
          queryValue,
        ),
        { minLength: 1, maxLength: 4 },
      );
      await fc.assert(
        fc.asyncProperty(
          params,
          fc.constantFrom(`/api/collections/${C}/records`, '/api/collections'),
          async (ps, path) => {
            const url = `${path}?${ps.map(([k, v]) => `${k}=${v}`).join('&')}`;
            const res = await req('GET', url, { token: T });
            assertHandled(res, `GET ${url}`);
            if (res.status === 200) assert.ok(res.body.perPage >= 1 && res.body.perPage <= 1000, url);
          },
        ),
        { seed: SEED, numRuns: FUZZ_RUNS },
      );
    });

    it('never answers 5xx to random path segments', async () => {
      const segment = fc.oneof(
        queryValue,
        fc.string({ maxLength: 20 }).map(encodeURIComponent),
        fc.constantFrom('..', '.', '%2e%2e', '*'),
      );
      const target = fc.oneof(
        fc.tuple(
          fc.constantFrom('GET', 'PATCH', 'DELETE'),
          segment.map((s) => `/api/collections/${C}/records/${s}`),
        ),
        fc.tuple(
          fc.constantFrom('GET', 'POST'),
          segment.map((s) => `/api/collections/${s}/records`),
        ),
        fc.tuple(
          fc.constant('GET'),
          segment.map((s) => `/api/collections/${s}`),
        ),
        fc.tuple(
          fc.constantFrom('GET', 'POST'),
          segment.map((s) => `/api/collections/${s}/auth-methods`),
        ),
        fc.tuple(
          fc.constant('POST'),
          segment.map((s) => `/api/collections/${s}/auth-with-password`),
        ),
      );
      await fc.assert(
        fc.asyncProperty(target, async ([method, path]) => {
          const json = method === 'PATCH' || method === 'POST' ? {} : undefined;
          const res = await req(method, path, { json, token: T });
          assertHandled(res, `${method} ${path}`);
        }),
        { seed: SEED, numRuns: FUZZ_RUNS },
      );
    });

    it('still answers /api/health after all of the above', async () => {
      const res = await req('GET', '/api/health');
      assert.equal(res.status, 200);
      assert.equal(res.body.code, 200);
      assert.deepEqual((await req('GET', `/api/collections/${C}/records/${R}`, { token: T })).status, 200);
    });
  });
});
