import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import PocketBase from 'pocketbase';
import sharp from 'sharp';
import * as tusClient from 'tus-js-client';
import type { TestServer } from './helpers/server.ts';
import { storedKeys as keysOf, STORAGES, startServerOn, stopServer } from './helpers/storage.ts';

/** Resumable uploads (tus 1.0.0) into file fields, through real HTTP against a real server and database. */

const png = () =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: 'red' } })
    .png()
    .toBuffer();
const b64 = (text: string) => Buffer.from(text).toString('base64');
/** Bytes that are text, so their sniffed type is known, and differ at every offset. */
const textBytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => 97 + (i % 26)));

let server: TestServer;
let ann: { id: string; token: string };
let bob: { id: string; token: string };
let docId: string;

async function user(email: string) {
  const created = await server.admin
    .collection('users')
    .create({ email, password: 'pass-word-1', passwordConfirm: 'pass-word-1' });
  const pb = server.client();
  await pb.collection('users').authWithPassword(email, 'pass-word-1');
  return { id: created.id as string, token: pb.authStore.token };
}

interface TusOptions {
  token?: string;
  headers?: Record<string, string | undefined>;
  body?: Buffer | ReadableStream;
}

/** One tus request: `Tus-Resumable: 1.0.0` unless the test overrides it (undefined leaves it out). */
async function tus(method: string, url: string, options: TusOptions = {}) {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries({ 'tus-resumable': '1.0.0', ...options.headers }))
    if (v !== undefined) headers[k] = v;
  if (options.token) headers.authorization = options.token;
  const res = await fetch(url.startsWith('http') ? url : server.url + url, {
    method,
    headers,
    body: options.body,
    ...(options.body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON bodies.
  return { status: res.status, headers: res.headers, body: body as any };
}

const target = (field: string, record = docId, collection = 'docs') =>
  `/api/plinth/uploads/${collection}/${record}/${field}`;

/** Creates an upload; returns its absolute URL (the `Location` resolved against the creation URL). */
async function create(field: string, length: number, filename: string, token = ann.token, record = docId) {
  const url = server.url + target(field, record);
  const res = await tus('POST', url, {
    token,
    headers: { 'upload-length': String(length), 'upload-metadata': `filename ${b64(filename)}` },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.headers.get('tus-resumable'), '1.0.0');
  assert.ok(res.headers.get('upload-expires'));
  return new URL(String(res.headers.get('location')), url).href;
}

const patch = (url: string, offset: number, bytes: Buffer, token = ann.token) =>
  tus('PATCH', url, {
    token,
    headers: { 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: bytes,
  });

/** A PATCH from offset 0 the test writes to by hand (for bodies that stream, stall or break off). */
const rawPatch = (url: string, extra: Record<string, string> = {}) =>
  httpRequest(url, {
    method: 'PATCH',
    headers: {
      'tus-resumable': '1.0.0',
      'upload-offset': '0',
      'content-type': 'application/offset+octet-stream',
      authorization: ann.token,
      ...extra,
    },
  });

/** Every stored key, on the data dir or in the bucket. */
const storedKeys = () => keysOf(server);
const tusFiles = () => readdirSync(join(server.dataDir, '.tus')).sort();
const record = async (id = docId) => server.admin.collection('docs').getOne(id);

/** What a refused tus request must leave as it was: storage and the record, and no bytes kept in `.tus`. */
async function snapshot() {
  return { keys: await storedKeys(), record: await record() };
}
async function nothingLeft(before: Awaited<ReturnType<typeof snapshot>>, what: string) {
  assert.deepEqual(await storedKeys(), before.keys, `${what}: no blob left in storage`);
  assert.deepEqual(await record(), before.record, `${what}: the record is as it was`);
  assert.deepEqual(tusFiles(), [], `${what}: nothing in .tus`);
}

for (const kind of STORAGES)
  describe(`resumable uploads (tus) into file fields on ${kind} storage`, () => {
    before(async () => {
      server = await startServerOn(kind);
      ann = await user('ann@example.com');
      bob = await user('bob@example.com');
      await server.admin.collections.create({
        name: 'docs',
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '',
        updateRule: 'owner = @request.auth.id',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'one', type: 'file', maxSize: 1000 },
          { name: 'many', type: 'file', maxSelect: 2, maxSize: 100_000 },
          { name: 'image', type: 'file', mimeTypes: ['image/png'] },
        ],
      });
      await server.admin.collections.create({
        name: 'locked',
        type: 'base',
        viewRule: '',
        updateRule: null,
        fields: [{ name: 'file', type: 'file' }],
      });
      docId = (await server.admin.collection('docs').create({ title: 'a', owner: ann.id })).id;
    });
    after(() => stopServer(server));

    test('a file sent in three PATCHes, resumed after a HEAD, lands in the record with its exact bytes', async () => {
      const data = textBytes(3000);
      const url = await create('many', data.length, 'Big Notes.txt');
      assert.match(url, new RegExp(`${target('many')}/[0-9a-f]{32}$`));
      let res = await patch(url, 0, data.subarray(0, 1000));
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('upload-offset'), '1000');
      // A client that lost track sends the wrong offset: 409, nothing written.
      res = await patch(url, 0, data.subarray(0, 1000));
      assert.equal(res.status, 409);
      assert.equal(res.body.status, 409);
      assert.match(res.body.message, /1000/);
      res = await tus('HEAD', url, { token: ann.token });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('upload-offset'), '1000');
      assert.equal(res.headers.get('upload-length'), '3000');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      res = await patch(url, 1000, data.subarray(1000, 2000));
      assert.equal(res.headers.get('upload-offset'), '2000');
      assert.equal((await record()).many.length, 0, 'not attached before the last byte');
      res = await patch(url, 2000, data.subarray(2000));
      assert.equal(res.status, 204);
      const name = String(res.headers.get('plinth-file-name'));
      assert.match(name, /^big_notes_[a-z0-9]{10}\.txt$/);
      assert.deepEqual((await record()).many, [name]);
      const file = await fetch(`${server.url}/api/files/docs/${docId}/${name}`);
      assert.equal(file.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), data);
      assert.deepEqual(tusFiles(), [], 'nothing left in .tus');
      assert.equal((await tus('HEAD', url, { token: ann.token })).status, 404);
      await server.admin.collection('docs').update(docId, { many: [] });
    });

    test('the tus JS client uploads in chunks, resolving the relative Location, and learns the stored name', async () => {
      const data = textBytes(5000);
      const name = await new Promise<string>((resolve, reject) => {
        const upload = new tusClient.Upload(data, {
          endpoint: server.url + target('many'),
          headers: { Authorization: ann.token },
          metadata: { filename: 'From Client.txt', filetype: 'application/x-lie' },
          chunkSize: 2048,
          retryDelays: [],
          onSuccess: ({ lastResponse }) => resolve(String(lastResponse.getHeader('plinth-file-name'))),
          onError: reject,
        });
        upload.start();
      });
      assert.match(name, /^from_client_[a-z0-9]{10}\.txt$/);
      assert.deepEqual((await record()).many, [name]);
      const file = await fetch(`${server.url}/api/files/docs/${docId}/${name}`);
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), data);
      await server.admin.collection('docs').update(docId, { many: [] });
      assert.deepEqual(tusFiles(), []);
    });

    test("docs/files.md's plain fetch outline uploads a file in chunks, as written", async () => {
      const docs = readFileSync(join(import.meta.dirname, '..', 'docs', 'files.md'), 'utf8');
      const code = [...docs.matchAll(/^```js\n([\s\S]*?)^```$/gm)]
        .map((m) => m[1] as string)
        .find((block) => block.includes("'Tus-Resumable': '1.0.0'"));
      assert.ok(code, 'the outline is in docs/files.md');
      await server.admin.collections.create({
        name: 'videos',
        type: 'base',
        viewRule: '',
        createRule: '',
        updateRule: '@request.auth.id != ""',
        fields: [{ name: 'clip', type: 'file', maxSize: 20 << 20 }],
      });
      const pb = new PocketBase(server.url);
      await pb.collection('users').authWithPassword('ann@example.com', 'pass-word-1');
      const record = await pb.collection('videos').create({});
      const bytes = textBytes(6 << 20); // two PATCHes of the outline's 5 MB
      const file = new File([bytes], 'Clip été.txt');
      const AsyncFunction = (async () => {}).constructor as new (
        ...args: string[]
      ) => (...a: unknown[]) => Promise<void>;
      await new AsyncFunction('pb', 'record', 'file', 'console', code)(pb, record, file, { log: () => {} });
      const stored = await server.admin.collection('videos').getOne(record.id);
      assert.match(stored.clip, /^clip_t_[a-z0-9]{10}\.txt$/);
      const res = await fetch(`${server.url}/api/files/videos/${record.id}/${stored.clip}`);
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes);
      assert.deepEqual(tusFiles(), []);
    });

    test('the type is sniffed from the bytes: a PNG named .txt is an image; HTML is refused by an image field', async () => {
      const image = await png();
      let url = await create('image', image.length, 'notes.txt');
      let res = await patch(url, 0, image);
      assert.equal(res.status, 204);
      const name = String(res.headers.get('plinth-file-name'));
      const file = await fetch(`${server.url}/api/files/docs/${docId}/${name}`);
      assert.equal(file.headers.get('content-type'), 'image/png');

      const before = await storedKeys();
      const html = Buffer.from('<html><script>alert(1)</script></html>');
      url = await create('image', html.length, 'photo.png');
      res = await patch(url, 0, html);
      assert.equal(res.status, 400);
      assert.equal(res.body.data.image.code, 'validation_invalid_mime_type');
      assert.deepEqual(await storedKeys(), before, 'no file left in storage');
      assert.deepEqual(tusFiles(), [], 'none in .tus');
      assert.equal((await record()).image, name);
    });

    test("Upload-Length past the field's maxSize is a 413 at creation, with the field error", async () => {
      const before = await snapshot();
      const res = await tus('POST', target('one'), {
        token: ann.token,
        headers: { 'upload-length': '1001', 'upload-metadata': `filename ${b64('big.bin')}` },
      });
      assert.equal(res.status, 413);
      assert.equal(res.body.data.one.code, 'validation_file_size_limit');
      await nothingLeft(before, 'a length past maxSize');
    });

    test('bytes past Upload-Length are refused, with or without Content-Length; nothing is kept or attached', async () => {
      const before = await snapshot();
      const url = await create('one', 10, 'small.txt');
      let res = await patch(url, 0, textBytes(20));
      assert.equal(res.status, 413);
      assert.equal(res.body.status, 413);
      // Sent chunked, the body is cut off while it streams, and the part that was written goes too.
      const chunked = new ReadableStream({
        start(controller) {
          controller.enqueue(textBytes(6));
          controller.enqueue(textBytes(6));
          controller.close();
        },
      });
      res = await tus('PATCH', url, {
        token: ann.token,
        headers: { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
        body: chunked,
      });
      assert.equal(res.status, 413);
      res = await tus('HEAD', url, { token: ann.token });
      assert.equal(res.headers.get('upload-offset'), '0');
      assert.equal((await record()).one, '');
      assert.equal((await tus('DELETE', url, { token: ann.token })).status, 204);
      await nothingLeft(before, 'bytes past the length');
    });

    test('a long chunked body past Upload-Length is cut off while it streams, and the 413 reaches the client', async () => {
      const before = await snapshot();
      const url = await create('many', 10, 'flood.txt');
      const req = rawPatch(url);
      const answer = new Promise<number>((resolve, reject) => {
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
      });
      let sent = 0;
      let status = 0;
      void answer.then((s) => (status = s));
      const chunk = Buffer.alloc(64 * 1024, 97);
      // Far more than the upload's length, until the answer comes: the server reads no further.
      while (status === 0 && sent < 64 << 20) {
        if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        sent += chunk.length;
        await sleep(0);
      }
      req.destroy();
      assert.equal(await answer, 413);
      assert.ok(sent < 32 << 20, `sent ${sent} bytes before the answer`);
      assert.equal((await tus('HEAD', url, { token: ann.token })).headers.get('upload-offset'), '0');
      assert.equal((await tus('DELETE', url, { token: ann.token })).status, 204);
      await nothingLeft(before, 'a flood');
    });

    test('callers the update rule does not let change the record cannot start an upload', async () => {
      const before = await snapshot();
      const headers = { 'upload-length': '5' };
      // A guest and another user are not reached by the rule: 404, as for the record update itself.
      assert.equal((await tus('POST', target('many'), { headers })).status, 404);
      assert.equal((await tus('POST', target('many'), { headers, token: bob.token })).status, 404);
      const lockedId = (await server.admin.collection('locked').create({})).id;
      const res = await tus('POST', `/api/plinth/uploads/locked/${lockedId}/file`, {
        headers,
        token: ann.token,
      });
      assert.equal(res.status, 403);
      assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'status']);
      // A superuser may.
      const url = await create('many', 5, 'x.txt', server.adminToken);
      assert.equal((await tus('DELETE', url, { token: server.adminToken })).status, 204);
      await nothingLeft(before, 'callers without rights');
    });

    test("another user cannot see, write to, finish or end someone's upload: 404", async () => {
      const before = await snapshot();
      const url = await create('many', 10, 'mine.txt');
      assert.equal((await patch(url, 0, textBytes(4))).status, 204);
      assert.equal((await tus('HEAD', url, { token: bob.token })).status, 404);
      assert.equal((await tus('HEAD', url)).status, 404);
      assert.equal((await patch(url, 4, textBytes(6), bob.token)).status, 404);
      assert.equal((await tus('DELETE', url, { token: bob.token })).status, 404);
      // The same upload id under another record or field is not it either.
      const other = url.replace('/many/', '/one/');
      assert.equal((await tus('HEAD', other, { token: ann.token })).status, 404);
      const res = await tus('HEAD', url, { token: ann.token });
      assert.equal(res.headers.get('upload-offset'), '4');
      assert.equal((await tus('DELETE', url, { token: ann.token })).status, 204);
      await nothingLeft(before, 'another user');
    });

    test('unknown collection, record or field, and a field that is not a file field', async () => {
      const before = await snapshot();
      const headers = { 'upload-length': '5' };
      const at = (path: string) => tus('POST', path, { headers, token: ann.token });
      assert.equal((await at(target('many', docId, 'nope'))).status, 404);
      assert.equal((await at(target('many', 'missingrecord00'))).status, 404);
      assert.equal((await at(target('nope'))).status, 404);
      const res = await at(target('title'));
      assert.equal(res.status, 400);
      assert.match(res.body.message, /not a file field/);
      assert.equal((await tus('HEAD', `${target('many')}/../../etc`, { token: ann.token })).status, 404);
      assert.equal(
        (await tus('HEAD', `${target('many')}/${'0'.repeat(32)}`, { token: ann.token })).status,
        404,
      );
      await nothingLeft(before, 'unknown targets');
    });

    test('maxSelect: refused at creation when the field is full, and at completion when it filled meanwhile', async () => {
      const urls = [
        await create('many', 3, 'a.txt'),
        await create('many', 3, 'b.txt'),
        await create('many', 3, 'c.txt'),
      ];
      assert.equal((await patch(urls[0] as string, 0, Buffer.from('aaa'))).status, 204);
      assert.equal((await patch(urls[1] as string, 0, Buffer.from('bbb'))).status, 204);
      const before = await storedKeys();
      const res = await patch(urls[2] as string, 0, Buffer.from('ccc'));
      assert.equal(res.status, 400);
      assert.equal(res.body.data.many.code, 'validation_too_many_files');
      assert.deepEqual(await storedKeys(), before);
      assert.deepEqual(tusFiles(), [], "the refused upload's bytes are gone");
      const full = await tus('POST', target('many'), { token: ann.token, headers: { 'upload-length': '3' } });
      assert.equal(full.status, 400);
      assert.equal(full.body.data.many.code, 'validation_too_many_files');
      await server.admin.collection('docs').update(docId, { many: [] });
    });

    test('a single-file field: the upload replaces the file, and the old one leaves storage', async () => {
      let url = await create('one', 5, 'first.txt');
      const first = String((await patch(url, 0, Buffer.from('11111'))).headers.get('plinth-file-name'));
      url = await create('one', 5, 'second.txt');
      const second = String((await patch(url, 0, Buffer.from('22222'))).headers.get('plinth-file-name'));
      assert.equal((await record()).one, second);
      for (let i = 0; i < 50 && (await storedKeys()).some((k) => k.endsWith(first)); i++) await sleep(20);
      assert.ok(!(await storedKeys()).some((k) => k.endsWith(first)));
    });

    test('a PATCH body is read without an admission slot; a connection lost mid-way keeps what arrived', async () => {
      const data = textBytes(2000);
      const url = await create('many', data.length, 'flaky.txt');
      const req = rawPatch(url, { 'content-length': String(data.length) });
      req.on('error', () => {});
      req.write(data.subarray(0, 700));
      let offset = '0';
      for (let i = 0; i < 100 && offset !== '700'; i++) {
        await sleep(10);
        offset = String((await tus('HEAD', url, { token: ann.token })).headers.get('upload-offset'));
      }
      assert.equal(offset, '700', 'the bytes are on disk as they arrive');
      assert.equal(server.app.server.admission.inFlight, 0, 'the trickling PATCH holds no slot');
      // While it is still open, another PATCH to the same upload is told to retry (tus clients do on 423).
      assert.equal((await patch(url, 700, data.subarray(700))).status, 423);
      req.destroy();
      let res = await patch(url, 700, data.subarray(700, 1500));
      for (let i = 0; i < 100 && res.status === 423; i++) {
        await sleep(10);
        res = await patch(url, 700, data.subarray(700, 1500));
      }
      assert.equal(res.status, 204);
      res = await patch(url, 1500, data.subarray(1500));
      const name = String(res.headers.get('plinth-file-name'));
      const file = await fetch(`${server.url}/api/files/docs/${docId}/${name}`);
      assert.deepEqual(Buffer.from(await file.arrayBuffer()), data);
      await server.admin.collection('docs').update(docId, { many: [] });
    });

    test('a server failure at the attach keeps the bytes; an empty PATCH at the end tries again', async () => {
      const url = await create('many', 6, 'retry.txt');
      const hook = server.app.records.hooks.update.bind(async () => {
        throw new Error('disk on fire');
      });
      let res = await patch(url, 0, Buffer.from('abcdef'));
      server.app.records.hooks.update.unbind(hook);
      assert.equal(res.status, 500);
      assert.deepEqual(Object.keys(res.body).sort(), ['data', 'message', 'status']);
      assert.equal((await tus('HEAD', url, { token: ann.token })).headers.get('upload-offset'), '6');
      res = await patch(url, 6, Buffer.alloc(0));
      assert.equal(res.status, 204);
      const name = String(res.headers.get('plinth-file-name'));
      assert.deepEqual((await record()).many, [name]);
      assert.deepEqual(tusFiles(), []);
      await server.admin.collection('docs').update(docId, { many: [] });
    });

    test('rate limits: the tus routes count under <collection>:upload', async () => {
      const limit = (enabled: boolean) =>
        server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: { rateLimits: { enabled, rules: [{ label: 'docs:upload', maxRequests: 2, duration: 60 }] } },
        });
      assert.equal((await limit(true)).status, 200);
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 3; i++)
          statuses.push(
            (await tus('HEAD', `${target('many')}/${'0'.repeat(32)}`, { token: ann.token })).status,
          );
        assert.deepEqual(statuses, [404, 404, 429]);
      } finally {
        assert.equal((await limit(false)).status, 200);
      }
    });

    test('one user may have at most 50 unfinished uploads; a finished or deleted one frees its place', async () => {
      const bobDoc = (await server.admin.collection('docs').create({ owner: bob.id })).id;
      const urls: string[] = [];
      for (let i = 0; i < 50; i++) urls.push(await create('many', 5, `${i}.txt`, bob.token, bobDoc));
      const post = () =>
        tus('POST', target('many', bobDoc), { token: bob.token, headers: { 'upload-length': '5' } });
      const refused = await post();
      assert.equal(refused.status, 429);
      assert.match(refused.body.message, /unfinished uploads/);
      // Others are not held back by bob's uploads.
      const annUrl = await create('many', 5, 'ann.txt');
      assert.equal((await tus('DELETE', annUrl, { token: ann.token })).status, 204);
      assert.equal((await tus('DELETE', urls.pop() as string, { token: bob.token })).status, 204);
      assert.equal((await patch(urls.pop() as string, 0, Buffer.from('done!'), bob.token)).status, 204);
      const again = await post();
      assert.equal(again.status, 201);
      urls.push(new URL(String(again.headers.get('location')), server.url + target('many', bobDoc)).href);
      for (const url of urls) await tus('DELETE', url, { token: bob.token });
      assert.deepEqual(tusFiles(), []);
    });

    test('DELETE ends an upload and removes its bytes', async () => {
      const url = await create('many', 100, 'gone.txt');
      assert.equal((await patch(url, 0, textBytes(50))).status, 204);
      assert.equal(tusFiles().length, 2);
      const res = await tus('DELETE', url, { token: ann.token });
      assert.equal(res.status, 204);
      assert.deepEqual(tusFiles(), []);
      assert.equal((await tus('HEAD', url, { token: ann.token })).status, 404);
      assert.equal((await patch(url, 50, textBytes(50))).status, 404);
    });

    test('protocol errors: Tus-Resumable 412, bad headers 400, a PATCH of another type 415', async () => {
      const before = await snapshot();
      for (const version of [undefined, '0.2.2']) {
        const res = await tus('POST', target('many'), {
          token: ann.token,
          headers: { 'tus-resumable': version, 'upload-length': '5' },
        });
        assert.equal(res.status, 412);
        assert.equal(res.headers.get('tus-version'), '1.0.0');
        assert.equal(res.body.status, 412);
      }
      const post = (headers: Record<string, string>) =>
        tus('POST', target('many'), { token: ann.token, headers });
      const notUtf8 = Buffer.from([0xff, 0xfe]).toString('base64');
      for (const metadata of [
        'filename !!!',
        'filename YQ',
        'a b c',
        'filename YQ==,filename YQ==',
        'filename YQ==,,',
        `filename ${notUtf8}`,
        `filename ${'QUFB'.repeat(1100)}`,
      ]) {
        const res = await post({ 'upload-length': '5', 'upload-metadata': metadata });
        assert.equal(res.status, 400, metadata);
        assert.match(res.body.message, /Upload-Metadata/);
      }
      assert.equal((await post({ 'upload-length': '-1' })).status, 400);
      assert.equal((await post({ 'upload-length': '1e3' })).status, 400);
      assert.equal((await post({})).status, 400);
      assert.equal((await post({ 'upload-defer-length': '1' })).status, 400);
      assert.equal((await post({ 'upload-length': '0' })).status, 400);
      const url = await create('many', 5, 'x.txt');
      const res = await tus('PATCH', url, {
        token: ann.token,
        headers: { 'upload-offset': '0', 'content-type': 'application/json' },
        body: Buffer.from('{}'),
      });
      assert.equal(res.status, 415);
      assert.equal(
        (
          await tus('PATCH', url, {
            token: ann.token,
            headers: { 'upload-offset': 'x', 'content-type': 'application/offset+octet-stream' },
          })
        ).status,
        400,
      );
      await tus('DELETE', url, { token: ann.token });
      await nothingLeft(before, 'protocol errors');
    });

    test('an upload past its expiry is gone, bytes included', async () => {
      const before = await snapshot();
      const url = await create('many', 10, 'old.txt');
      assert.equal((await patch(url, 0, textBytes(3))).status, 204);
      const id = url.split('/').at(-1) as string;
      const infoPath = join(server.dataDir, '.tus', `${id}.json`);
      const info = JSON.parse(readFileSync(infoPath, 'utf8'));
      writeFileSync(infoPath, JSON.stringify({ ...info, expiresAt: Date.now() - 1 }));
      assert.equal((await tus('HEAD', url, { token: ann.token })).status, 404);
      await nothingLeft(before, 'an expired upload');
    });

    test('discovery and CORS: OPTIONS lists the protocol, a browser may read the tus headers', async () => {
      const res = await fetch(server.url + target('one'), {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'tus-resumable, upload-offset, content-type, authorization',
        },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('tus-version'), '1.0.0');
      assert.equal(res.headers.get('tus-extension'), 'creation,termination,expiration');
      assert.equal(res.headers.get('tus-max-size'), '1000');
      assert.match(String(res.headers.get('access-control-allow-methods')), /PATCH/);
      assert.match(String(res.headers.get('access-control-allow-headers')), /upload-offset/);
      const post = await fetch(server.url + target('many'), {
        method: 'POST',
        headers: {
          origin: 'https://app.example.com',
          'tus-resumable': '1.0.0',
          'upload-length': '1',
          authorization: ann.token,
        },
      });
      const exposed = String(post.headers.get('access-control-expose-headers')).toLowerCase();
      for (const name of ['location', 'upload-offset', 'tus-resumable', 'plinth-file-name'])
        assert.ok(exposed.includes(name), name);
      await tus('DELETE', new URL(String(post.headers.get('location')), server.url + target('many')).href, {
        token: ann.token,
      });
      const features = await server.request('GET', '/api/plinth/features');
      assert.equal(features.body.features.resumableUploads, true);
    });
  });
