import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32 } from 'node:zlib';
import type { RecordModel } from 'pocketbase';
import sharp from 'sharp';
import { badRequest } from '../src/errors/index.ts';
import { listKeys, startS3, type TestS3 } from './helpers/s3.ts';
import { startServer, type TestServer } from './helpers/server.ts';
import { STORAGES, startServerOn, stopServer, storedKeys } from './helpers/storage.ts';

const png = (size = 8) =>
  sharp({ create: { width: size, height: size, channels: 3, background: 'blue' } })
    .png()
    .toBuffer();
const NAME = /^[a-z0-9_]{3,100}_[a-z0-9]{10}(\.[\w.*+=#-]+)?$/;

async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100 && !(await check()); i++) await sleep(20);
  assert.ok(await check(), what);
}

for (const kind of STORAGES)
  describe(`file fields: uploads through the SDK, downloads, cleanup on ${kind} storage`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServerOn(kind);
      await server.admin.collections.create({
        name: 'docs',
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '',
        updateRule: '',
        deleteRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'one', type: 'file', maxSize: 1000 },
          { name: 'many', type: 'file', maxSelect: 3 },
          { name: 'image', type: 'file', mimeTypes: ['image/png', 'image/jpeg'] },
          { name: 'secret', type: 'file', protected: true },
        ],
      });
    });
    after(() => stopServer(server));

    const docs = () => server.client().collection('docs');
    const settings = (body: unknown) =>
      server.request('PATCH', '/api/settings', { token: server.adminToken, body });
    const url = (record: RecordModel, name: string, query: Record<string, unknown> = {}) =>
      server.client().files.getURL(record, name, query);
    const keysOf = async (record: RecordModel) =>
      (await storedKeys(server)).filter((k) => k.split('/')[1] === record.id);

    test('stores uploads under safe random names, and serves them back as stored', async () => {
      const image = await png();
      const record = await docs().create({
        title: 'first',
        one: new File(['hello world'], 'Hello World.TXT'),
        many: [new File(['a'], 'a.txt'), new File(['b'], 'b b.txt')],
        image: new File([image], 'photo.png'),
      });
      assert.match(record.one, /^hello_world_[a-z0-9]{10}\.TXT$/);
      assert.equal(record.many.length, 2);
      for (const name of [record.one, ...record.many, record.image]) assert.match(name, NAME);
      assert.equal((await keysOf(record)).length, 4);

      const text = await fetch(url(record, record.one));
      assert.equal(text.status, 200);
      assert.equal(await text.text(), 'hello world');
      assert.equal(text.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(text.headers.get('content-disposition'), `attachment; filename="${record.one}"`);
      assert.match(String(text.headers.get('content-security-policy')), /sandbox/);
      assert.equal(text.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(text.headers.get('x-frame-options'), null);

      const picture = await fetch(url(record, record.image));
      assert.equal(picture.headers.get('content-type'), 'image/png');
      assert.equal(picture.headers.get('content-disposition'), `inline; filename="${record.image}"`);
      assert.deepEqual(Buffer.from(await picture.arrayBuffer()), image);
      const download = await fetch(url(record, record.image, { download: true }));
      assert.equal(download.headers.get('content-disposition'), `attachment; filename="${record.image}"`);
    });

    test('a single-file field keeps the last file sent, and only that one is stored', async () => {
      const record = await docs().create({
        one: [new File(['1'], 'first.txt'), new File(['2'], 'second.txt')],
      });
      assert.match(record.one, /^second_/);
      assert.deepEqual(
        (await keysOf(record)).map((k) => k.split('/')[2]),
        [record.one],
      );
    });

    test('update: a plain key replaces, names sent with it stay in front, + and - append, prepend, remove', async () => {
      const record = await docs().create({ many: [new File(['a'], 'a.txt'), new File(['b'], 'b.txt')] });
      const [a, b] = record.many as [string, string];
      const appended = await docs().update(record.id, { 'many+': new File(['c'], 'c.txt') });
      assert.deepEqual(appended.many.slice(0, 2), [a, b]);
      const c = appended.many[2];
      assert.match(c, /^c[a-z0-9]{10}_/);
      const removed = await docs().update(record.id, { 'many-': [a] });
      assert.deepEqual(removed.many, [b, c]);
      const prepended = await docs().update(record.id, { '+many': new File(['d'], 'd.txt'), 'many-': b });
      assert.equal(prepended.many.length, 2);
      assert.match(prepended.many[0], /^d[a-z0-9]{10}_/);
      assert.equal(prepended.many[1], c);
      // A plain key replaces, but the names sent under it are kept in front of the new file.
      const form = new FormData();
      form.append('many', c);
      form.append('many', new File(['e'], 'e.txt'));
      const replaced = await docs().update(record.id, form);
      assert.equal(replaced.many.length, 2);
      assert.equal(replaced.many[0], c);
      assert.match(replaced.many[1], /^e[a-z0-9]{10}_/);
      // Files let go of are removed once the update has committed.
      const current = async () =>
        (await keysOf(record))
          .map((k) => k.split('/')[2])
          .sort()
          .join();
      await eventually(
        async () => (await current()) === [...replaced.many].sort().join(),
        'only the current files stay stored',
      );
      assert.equal((await fetch(url(record, a))).status, 404);
      const cleared = await docs().update(record.id, { many: [] });
      assert.deepEqual(cleared.many, []);
      await eventually(
        async () => (await keysOf(record)).length === 0,
        'clearing the field removes its files',
      );
    });

    test('refuses, with PocketBase codes, a file too large, of the wrong type, too many, or a made-up name', async () => {
      const before = await storedKeys(server);
      const refused = async (body: Record<string, unknown>, field: string, code: string) => {
        const err = await docs()
          .create(body)
          .then(
            () => assert.fail('accepted'),
            (e) => e,
          );
        assert.equal(err.status, 400, JSON.stringify(err.response));
        assert.equal(err.response.message, 'Failed to create record.');
        assert.equal(err.response.data[field]?.code, code, JSON.stringify(err.response.data));
        return err.response.data[field];
      };
      const tooLarge = await refused(
        { one: new File(['x'.repeat(1001)], 'big.txt') },
        'one',
        'validation_file_size_limit',
      );
      assert.deepEqual(tooLarge.params, { file: 'big.txt', maxSize: 1000 });
      // The type is sniffed: an HTML page called .png and sent as image/png is not an image.
      const html = new File(['<html><script>alert(1)</script></html>'], 'x.png', { type: 'image/png' });
      await refused({ image: html }, 'image', 'validation_invalid_mime_type');
      const four = ['1', '2', '3', '4'].map((n) => new File([n], `${n}.txt`));
      const many = await refused({ many: four }, 'many', 'validation_too_many_files');
      assert.deepEqual(many.params, { maxSelect: 3 });
      await refused({ many: ['../../etc/passwd'], title: 'x' }, 'many', 'validation_invalid_file');
      assert.deepEqual(await storedKeys(server), before, 'nothing was stored');
      assert.deepEqual(readdirSync(join(server.dataDir, '.uploads')), [], 'no spool file left');
    });

    test('a write that fails after its files were stored takes them out again', async () => {
      await server.admin.collections.create({
        name: 'uniq',
        type: 'base',
        createRule: '',
        fields: [
          { name: 'code', type: 'text' },
          { name: 'one', type: 'file' },
        ],
        indexes: ['CREATE UNIQUE INDEX idx_uniq_code ON uniq (code)'],
      });
      const uniq = server.client().collection('uniq');
      await uniq.create({ code: 'taken' });
      const before = await storedKeys(server);
      const err = await uniq.create({ code: 'taken', one: new File(['dup'], 'dup.txt') }).catch((e) => e);
      assert.equal(err.status, 400);
      assert.equal(err.response.data.code?.code, 'validation_not_unique');
      assert.deepEqual(await storedKeys(server), before);
    });

    test('files an update or a delete lets go of stay when its transaction rolls back', async () => {
      const stored = async (record: RecordModel) => (await keysOf(record)).map((k) => k.split('/')[2]).sort();
      const a = await docs().create({ one: new File(['a'], 'a.txt'), many: [new File(['m'], 'm.txt')] });
      const b = await docs().create({ one: new File(['b'], 'b.txt') });
      const expected = { a: [a.one, ...a.many].sort(), b: [b.one] };
      // Hooks that fail after the statement ran: their transaction rolls back.
      const refuse = async (_event: unknown, next: () => Promise<void>) => {
        await next();
        throw badRequest('Refused by a hook.');
      };
      const hooks = server.app.records.hooks;
      const ids = [hooks.update.bind(refuse), hooks.delete.bind(refuse)];
      try {
        const replaced = await docs()
          .update(a.id, { one: new File(['new'], 'new.txt'), 'many-': a.many })
          .catch((e) => e);
        assert.equal(replaced.status, 400);
        assert.equal(
          (
            await docs()
              .delete(b.id)
              .catch((e) => e)
          ).status,
          400,
        );
      } finally {
        hooks.update.unbind(ids[0] as string);
        hooks.delete.unbind(ids[1] as string);
      }
      // A batch whose last request fails: its delete and its replacement are undone too.
      assert.equal((await settings({ batch: { enabled: true, maxRequests: 10 } })).status, 200);
      const batch = server.client().createBatch();
      batch.collection('docs').delete(b.id);
      batch.collection('docs').update(a.id, { one: new File(['newer'], 'newer.txt'), many: [] });
      batch.collection('docs').update(a.id, { many: ['no-such-file.txt'] });
      assert.equal((await batch.send().catch((e) => e)).status, 400);
      // A write that does commit lets go of its file: once that is gone, the rolled-back ones had their turn.
      const witness = await docs().create({ one: new File(['w'], 'w.txt') });
      await docs().update(witness.id, { one: null });
      await eventually(
        async () => (await keysOf(witness)).length === 0,
        "the committed update's file is gone",
      );
      const now = await docs().getOne(a.id);
      assert.deepEqual([now.one, now.many], [a.one, a.many], 'the record whose update rolled back');
      assert.equal((await docs().getOne(b.id)).one, b.one, 'the record whose delete rolled back');
      assert.deepEqual(await stored(a), expected.a, 'the files of the record whose update rolled back');
      assert.deepEqual(await stored(b), expected.b, 'the file of the record whose delete rolled back');
      for (const [record, name] of [
        [a, a.one],
        [a, a.many[0]],
        [b, b.one],
      ] as const)
        assert.equal((await fetch(url(record, name))).status, 200, name);
    });

    test('deleting a record removes its folder once the delete has committed', async () => {
      const record = await docs().create({ one: new File(['bye'], 'bye.txt') });
      assert.equal((await keysOf(record)).length, 1);
      await docs().delete(record.id);
      await eventually(async () => (await keysOf(record)).length === 0, 'the record folder is gone');
      assert.equal((await fetch(url(record, record.one))).status, 404);
    });

    test('a cascade delete removes the files of every record it deletes', async () => {
      const parents = await server.admin.collections.create({
        name: 'parents',
        type: 'base',
        createRule: '',
        deleteRule: '',
      });
      await server.admin.collections.create({
        name: 'children',
        type: 'base',
        createRule: '',
        fields: [
          { name: 'parent', type: 'relation', collectionId: parents.id, cascadeDelete: true, maxSelect: 1 },
          { name: 'one', type: 'file' },
        ],
      });
      const parent = await server.client().collection('parents').create({});
      const child = await server
        .client()
        .collection('children')
        .create({ parent: parent.id, one: new File(['c'], 'c.txt') });
      assert.equal((await keysOf(child)).length, 1);
      await server.client().collection('parents').delete(parent.id);
      await eventually(async () => (await keysOf(child)).length === 0, "the child's folder is gone");
    });

    test('downloads count against the `<collection>:file` rate limit', async () => {
      const record = await docs().create({ one: new File(['x'], 'x.txt') });
      const set = (enabled: boolean) =>
        server.request('PATCH', '/api/settings', {
          token: server.adminToken,
          body: {
            rateLimits: {
              enabled,
              rules: [{ label: 'docs:file', audience: '', duration: 60, maxRequests: 2 }],
            },
          },
        });
      assert.equal((await set(true)).status, 200);
      try {
        const statuses = [];
        for (let i = 0; i < 3; i++) statuses.push((await fetch(url(record, record.one))).status);
        assert.deepEqual(statuses, [200, 200, 429]);
      } finally {
        assert.equal((await set(false)).status, 200);
      }
    });

    test('ranges, conditional requests and HEAD', async () => {
      const record = await docs().create({ one: new File(['0123456789'], 'digits.txt') });
      const at = url(record, record.one);
      const part = await fetch(at, { headers: { range: 'bytes=2-4' } });
      assert.equal(part.status, 206);
      assert.equal(part.headers.get('content-range'), 'bytes 2-4/10');
      assert.equal(await part.text(), '234');
      const tail = await fetch(at, { headers: { range: 'bytes=-3' } });
      assert.equal(await tail.text(), '789');
      const past = await fetch(at, { headers: { range: 'bytes=10-' } });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), 'bytes */10');
      const full = await fetch(at);
      const etag = String(full.headers.get('etag'));
      await full.text();
      assert.equal((await fetch(at, { headers: { 'if-none-match': etag } })).status, 304);
      const since = String(full.headers.get('last-modified'));
      assert.equal((await fetch(at, { headers: { 'if-modified-since': since } })).status, 304);
      const stale = await fetch(at, { headers: { range: 'bytes=0-1', 'if-range': '"other"' } });
      assert.equal(stale.status, 200, 'a range against another version gets the whole file');
      await stale.text();
      const head = await fetch(at, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), '10');
    });

    test('answers the same 404 for an unknown collection, record or name', async () => {
      const record = await docs().create({ one: new File(['x'], 'x.txt'), secret: new File(['s'], 's.txt') });
      const base = `${server.url}/api/files`;
      for (const path of [
        `/nope/${record.id}/${record.one}`,
        `/docs/nope/${record.one}`,
        `/docs/${record.id}/other.txt`,
        `/docs/${record.id}/..%2F..%2Fdata.db`,
      ]) {
        const res = await fetch(base + path);
        assert.equal(res.status, 404, path);
        assert.deepEqual(await res.json(), {
          status: 404,
          message: "The requested resource wasn't found.",
          data: {},
        });
      }
      assert.equal((await fetch(`${base}/docs/${record.id}/${record.one}`)).status, 200);
      // A protected file of a collection whose view rule is "" is open to anyone, token or not (PocketBase's rule).
      assert.equal((await fetch(`${base}/docs/${record.id}/${record.secret}`)).status, 200);
    });
  });

for (const kind of STORAGES)
  describe(`hostile uploads on ${kind} storage`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServerOn(kind);
      await server.admin.collections.create({
        name: 'box',
        type: 'base',
        createRule: '',
        viewRule: '',
        fields: [
          { name: 'f', type: 'file', maxSelect: 10, maxSize: 1024 * 1024 },
          { name: 'img', type: 'file', mimeTypes: ['image/png', 'image/gif'] },
          // maxSize 0: PocketBase's default of 5 MiB.
          { name: 'doc', type: 'file' },
        ],
      });
    });
    after(() => stopServer(server));
    const box = () => server.client().collection('box');
    const records = async () => (await server.admin.collection('box').getList(1, 1)).totalItems;
    const spool = () => readdirSync(join(server.dataDir, '.uploads'));

    /** What is stored and kept before a hostile request, to compare with after it: nothing may be added. */
    async function snapshot() {
      return { keys: await storedKeys(server), records: await records() };
    }
    async function nothingLeft(before: { keys: string[]; records: number }, what: string) {
      assert.deepEqual(await storedKeys(server), before.keys, `${what}: no blob left in storage`);
      assert.equal(await records(), before.records, `${what}: no record written`);
      // The spool file of a refused request goes once the answer is sent; give the removal a moment.
      await eventually(() => spool().length === 0, `${what}: no spool file left`);
    }

    test('names that try to escape, hide or confuse come out plain, stored in the record folder', async () => {
      const names = [
        '../../etc/passwd',
        '..\\..\\boot.ini',
        '.htaccess',
        'a\u0000b\r\n.txt',
        'con.txt',
        '%2e%2e%2fx.txt',
        `${'x'.repeat(400)}.txt`,
      ];
      const record = await box().create({ f: names.map((n) => new File(['x'], n)) });
      assert.equal(record.f.length, names.length);
      for (const name of record.f as string[]) {
        assert.match(name, NAME, name);
        assert.ok(name.length <= 100 + 11 + 21, name);
      }
      const keys = (await storedKeys(server)).filter((k) => !k.startsWith(`${record.collectionId}/`));
      assert.deepEqual(keys, [], 'nothing outside the collection folder');
      assert.deepEqual(
        (await storedKeys(server)).filter((k) => k.includes(record.id)).sort(),
        (record.f as string[]).map((n) => `${record.collectionId}/${record.id}/${n}`).sort(),
      );
      assert.ok(!existsSync(join(server.dataDir, 'etc')));
    });

    test('a zero-byte file is stored and served empty', async () => {
      const record = await box().create({ f: new File([], 'empty.bin') });
      const res = await fetch(server.client().files.getURL(record, record.f[0]));
      assert.equal(res.status, 200);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    });

    test('polyglots are typed by their first bytes, and never served as a page', async () => {
      const before = await snapshot();
      const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: 'red' } })
        .png()
        .toBuffer();
      // A page with an image inside, named and sent as an image: a page, so the image field refuses it.
      const page = Buffer.concat([Buffer.from('<html><script>alert(1)</script>'), png]);
      for (const [name, bytes] of [
        ['page.png', page],
        ['x.svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
      ] as const) {
        const err = await box()
          .create({ img: new File([new Uint8Array(bytes)], name, { type: 'image/png' }) })
          .catch((e) => e);
        assert.equal(err.status, 400, name);
        assert.equal(err.response.data.img.code, 'validation_invalid_mime_type', name);
      }
      await nothingLeft(before, 'a page sent as an image');
      // A GIF that carries a script is a GIF: stored, and served as an image no browser runs.
      const gif = Buffer.concat([Buffer.from('GIF89a'), Buffer.from('<script>alert(1)</script>')]);
      const record = await box().create({ img: new File([gif], 'x.html', { type: 'text/html' }) });
      const res = await fetch(server.client().files.getURL(record, record.img));
      assert.equal(res.headers.get('content-type'), 'image/gif');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.match(String(res.headers.get('content-security-policy')), /sandbox/);
      // The same page in a field open to any type: kept, but offered as a download, sandboxed.
      // (Its bytes after the markup are not text: it is typed as bytes, which no browser shows either.)
      const open = await box().create({
        f: new File([new Uint8Array(page)], 'page.png', { type: 'image/png' }),
      });
      const served = await fetch(server.client().files.getURL(open, open.f[0]));
      assert.equal(served.headers.get('content-type'), 'application/octet-stream');
      assert.match(String(served.headers.get('content-disposition')), /^attachment;/);
      assert.match(String(served.headers.get('content-security-policy')), /sandbox/);
    });

    /**
     * Sends a raw body to the create route; resolves with the status and parsed body. With `holdOpenMs`, the
     * request is left unfinished that long after the body is written (the answer must not wait for it).
     */
    function rawCreate(body: Buffer | string, contentType: string, holdOpenMs = 0) {
      return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const req = httpRequest(
          `${server.url}/api/collections/box/records`,
          { method: 'POST', headers: { 'content-type': contentType } },
          (res) => {
            let text = '';
            res.on('data', (d) => (text += d));
            res.on('end', () => {
              clearTimeout(timer);
              req.destroy();
              resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
            });
          },
        );
        req.on('error', reject);
        if (!holdOpenMs) return req.end(body);
        req.write(body);
        timer = setTimeout(() => req.end(), holdOpenMs);
      });
    }
    const filePart = (boundary: string, field: string, name: string) =>
      `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${name}"\r\nContent-Type: text/plain\r\n\r\n`;

    test('a truncated or malformed form is a 400, and leaves nothing behind', async () => {
      const before = await snapshot();
      const boundary = 'XyZ';
      const cases: [string, string, string][] = [
        ['truncated in a file', `${filePart(boundary, 'f', 'a.txt')}hello`, `boundary=${boundary}`],
        [
          'truncated after a whole file',
          `${filePart(boundary, 'f', 'a.txt')}hello\r\n--${boundary}\r\nContent-Disposition: form-da`,
          `boundary=${boundary}`,
        ],
        [
          'truncated in a second file',
          `${filePart(boundary, 'f', 'a.txt')}whole\r\n${filePart(boundary, 'f', 'b.txt')}cut sho`,
          `boundary=${boundary}`,
        ],
        [
          'truncated in the closing delimiter',
          `${filePart(boundary, 'f', 'a.txt')}whole\r\n${filePart(boundary, 'f', 'b.txt')}b\r\n--${boundary}-`,
          `boundary=${boundary}`,
        ],
        [
          'truncated in a value',
          `${filePart(boundary, 'f', 'a.txt')}x\r\n--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhalf a ti`,
          `boundary=${boundary}`,
        ],
        [
          'no closing delimiter',
          `${filePart(boundary, 'f', 'a.txt')}hello\r\n--${boundary}\r\n`,
          `boundary=${boundary}`,
        ],
        ['no boundary', 'whatever', ''],
        ['another boundary', `${filePart('Other', 'f', 'a.txt')}x\r\n--Other--\r\n`, `boundary=${boundary}`],
      ];
      for (const [what, body, params] of cases) {
        const res = await rawCreate(body, `multipart/form-data${params ? `; ${params}` : ''}`);
        assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status}`);
        assert.deepEqual(
          Object.keys(res.body as object).sort(),
          ['data', 'message', 'status'],
          `${what}: PocketBase's error body`,
        );
        await nothingLeft(before, what);
      }
    });

    test('thousands of parts, of values or of files, are refused with a 4xx and leave nothing behind', async () => {
      const before = await snapshot();
      const boundary = 'B0undary';
      const values = Array.from(
        { length: 3000 },
        (_, i) => `--${boundary}\r\nContent-Disposition: form-data; name="k${i}"\r\n\r\nv\r\n`,
      ).join('');
      const files = Array.from(
        { length: 3000 },
        (_, i) => `${filePart(boundary, 'f', `${i}.txt`)}x\r\n`,
      ).join('');
      for (const [what, parts] of [
        ['values', values],
        ['files', files],
      ] as const) {
        const res = await rawCreate(
          `${parts}--${boundary}--\r\n`,
          `multipart/form-data; boundary=${boundary}`,
        );
        assert.ok(res.status >= 400 && res.status < 500, `${what}: ${res.status}`);
        await nothingLeft(before, `thousands of ${what}`);
      }
    });

    test('2 GB sent to a field of 5 MiB is cut off early: answered long before, never read to the end', async () => {
      const before = await snapshot();
      const boundary = 'Big';
      const req = httpRequest(`${server.url}/api/collections/box/records`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.on('error', reject);
      });
      let answered = false;
      void answer.then(() => (answered = true));
      req.write(filePart(boundary, 'doc', 'huge.bin'));
      // Written as fast as the server takes it, until it answers; a server reading to the end would take 2 GB.
      const chunk = Buffer.alloc(256 * 1024);
      let sent = 0;
      while (!answered && sent < 2 * 1024 ** 3) {
        const more = req.write(chunk);
        sent += chunk.length;
        if (!more) await Promise.race([new Promise((r) => req.once('drain', r)), answer, sleep(100)]);
      }
      const res = await answer;
      req.destroy();
      assert.equal(res.status, 400, res.body);
      const body = JSON.parse(res.body);
      assert.equal(body.data.doc.code, 'validation_file_size_limit');
      assert.equal(body.data.doc.params.maxSize, 5 << 20);
      assert.ok(sent < 64 << 20, `${sent} bytes were sent before the answer`);
      await nothingLeft(before, 'a huge file');
    });

    test('a file past its limit gets its answer while the rest of the upload is still unsent', async () => {
      const before = await snapshot();
      // 2 MB sent now, and the request left open: a server reading to the end would never answer.
      const boundary = 'Big';
      const res = await rawCreate(
        Buffer.concat([Buffer.from(filePart(boundary, 'f', 'big.bin')), Buffer.alloc(2 * 1024 * 1024)]),
        `multipart/form-data; boundary=${boundary}`,
        60_000,
      );
      assert.equal(res.status, 400);
      assert.equal((res.body as { data: { f: { code: string } } }).data.f.code, 'validation_file_size_limit');
      await nothingLeft(before, 'a file past its limit');
    });

    test('a slow uploader who gives up half-way leaves nothing behind', async () => {
      const before = await snapshot();
      const boundary = 'Slow';
      const req = httpRequest(`${server.url}/api/collections/box/records`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      });
      req.on('error', () => {});
      req.write(`--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nslow\r\n`);
      req.write(filePart(boundary, 'f', 'slow.txt'));
      for (let i = 0; i < 5; i++) {
        req.write('some bytes, ');
        await sleep(30);
      }
      // The bytes so far are being spooled; then the connection drops.
      await eventually(() => spool().length === 1, 'the upload is being spooled');
      req.destroy();
      await nothingLeft(before, 'an upload cut off by its sender');
      assert.equal((await server.request('GET', '/api/health')).status, 200);
    });
  });

for (const kind of STORAGES)
  describe(`protected files and file tokens on ${kind} storage`, () => {
    let server: TestServer;
    const password = 'password-123';
    before(async () => {
      server = await startServerOn(kind);
      await server.admin.collections.create({
        name: 'vault',
        type: 'base',
        createRule: '@request.auth.id != ""',
        viewRule: 'owner = @request.auth.id',
        fields: [
          { name: 'owner', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1 },
          { name: 'doc', type: 'file', protected: true },
          { name: 'context', type: 'text' },
        ],
      });
    });
    after(() => stopServer(server));

    async function signedIn(email: string) {
      const pb = server.client();
      await pb.collection('users').create({ email, password, passwordConfirm: password });
      await pb.collection('users').authWithPassword(email, password);
      return pb;
    }

    test('the owner opens the file with a file token; others, guests and headers get the same 404', async () => {
      const owner = await signedIn('owner@example.com');
      const other = await signedIn('other@example.com');
      const record = await owner.collection('vault').create({
        owner: owner.authStore.record?.id,
        doc: new File(['top secret'], 'secret.txt'),
      });
      const at = (token?: string) => owner.files.getURL(record, record.doc, token ? { token } : {});
      const token = await owner.files.getToken();
      const ok = await fetch(at(token));
      assert.equal(ok.status, 200);
      assert.equal(await ok.text(), 'top secret');
      for (const [what, res] of [
        ['no token', await fetch(at())],
        ["another user's token", await fetch(at(await other.files.getToken()))],
        ['a made-up token', await fetch(at('not.a.token'))],
        ['an auth token in place of a file token', await fetch(at(owner.authStore.token))],
        [
          'the Authorization header',
          await fetch(at(), { headers: { authorization: owner.authStore.token } }),
        ],
      ] as const) {
        assert.equal(res.status, 404, what);
        assert.equal(
          ((await res.json()) as { message: string }).message,
          "The requested resource wasn't found.",
          what,
        );
      }
      // Superusers see every record, through a file token of their own.
      assert.equal((await fetch(at(await server.admin.files.getToken()))).status, 200);
    });

    test('a file token ends with its session, and with a new password', async () => {
      const owner = await signedIn('leaver@example.com');
      const record = await owner.collection('vault').create({
        owner: owner.authStore.record?.id,
        doc: new File(['x'], 'x.txt'),
      });
      const at = (token: string) => owner.files.getURL(record, record.doc, { token });
      const first = await owner.files.getToken();
      assert.equal((await fetch(at(first))).status, 200);
      await owner.collection('users').update(String(owner.authStore.record?.id), {
        oldPassword: password,
        password: 'password-456',
        passwordConfirm: 'password-456',
      });
      assert.equal((await fetch(at(first))).status, 404, 'a new password ends earlier file tokens');
      await owner.collection('users').authWithPassword('leaver@example.com', 'password-456');
      const second = await owner.files.getToken();
      assert.equal((await fetch(at(second))).status, 200);
      const logout = await server.request('POST', '/api/collections/users/auth-logout', {
        token: owner.authStore.token,
        body: {},
      });
      assert.equal(logout.status, 204, JSON.stringify(logout.body));
      assert.equal((await fetch(at(second))).status, 404, 'signing out ends the file tokens of that session');
    });

    test('POST /api/files/token needs a signed-in record', async () => {
      const res = await server.request('POST', '/api/files/token');
      assert.equal(res.status, 401);
      assert.equal(res.body.message, 'The request requires valid record authorization token.');
      const admin = await server.request('POST', '/api/files/token', { token: server.adminToken });
      assert.equal(admin.status, 200);
      assert.equal(typeof admin.body.token, 'string');
    });
  });

for (const kind of STORAGES)
  describe(`thumbnails on ${kind} storage`, () => {
    let server: TestServer;
    before(async () => {
      server = await startServerOn(kind);
      await server.admin.collections.create({
        name: 'pics',
        type: 'base',
        createRule: '',
        viewRule: '',
        updateRule: '',
        fields: [
          {
            name: 'image',
            type: 'file',
            maxSelect: 2,
            thumbs: ['50x30', '50x30t', '50x30b', '50x30f', '0x20', '40x0'],
          },
        ],
      });
    });
    after(() => stopServer(server));
    const pics = () => server.client().collection('pics');

    /** 100×200: the top half red, the bottom half blue. */
    const portrait = () =>
      sharp({ create: { width: 100, height: 200, channels: 3, background: 'blue' } })
        .composite([
          {
            input: { create: { width: 100, height: 100, channels: 3, background: 'red' } },
            top: 0,
            left: 0,
          },
        ])
        .png()
        .toBuffer();

    async function fetchThumb(record: RecordModel, thumb: string) {
      const res = await fetch(server.client().files.getURL(record, record.image[0], { thumb }));
      assert.equal(res.status, 200, thumb);
      return { res, body: Buffer.from(await res.arrayBuffer()) };
    }
    const centre = async (body: Buffer) => {
      const { data, info } = await sharp(body).raw().toBuffer({ resolveWithObject: true });
      const i = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * info.channels;
      return [data[i], data[i + 1], data[i + 2]];
    };

    test('makes the listed sizes, cropped, fitted or scaled as asked, and keeps them', async () => {
      const record = await pics().create({ image: new File([await portrait()], 'p.png') });
      const expect: Record<string, [number, number]> = {
        '50x30': [50, 30],
        '50x30t': [50, 30],
        '50x30b': [50, 30],
        '50x30f': [15, 30],
        '0x20': [10, 20],
        '40x0': [40, 80],
        '100x100': [100, 100],
      };
      for (const [size, [width, height]] of Object.entries(expect)) {
        const { res, body } = await fetchThumb(record, size);
        assert.equal(res.headers.get('content-type'), 'image/png', size);
        assert.equal(res.headers.get('content-disposition'), `inline; filename="${size}_${record.image[0]}"`);
        const meta = await sharp(body).metadata();
        assert.deepEqual([meta.width, meta.height], [width, height], size);
      }
      assert.deepEqual(
        await centre((await fetchThumb(record, '50x30t')).body),
        [255, 0, 0],
        'top crop is red',
      );
      assert.deepEqual(
        await centre((await fetchThumb(record, '50x30b')).body),
        [0, 0, 255],
        'bottom crop is blue',
      );
      const kept = (await storedKeys(server)).filter((k) => k.includes(`/${record.id}/thumbs_`));
      assert.equal(kept.length, 7, kept.join());
      // Dropping the file drops its thumbnails.
      await pics().update(record.id, { image: [] });
      await eventually(
        async () => (await storedKeys(server)).filter((k) => k.includes(`/${record.id}/`)).length === 0,
        'the file and its thumbnails are removed',
      );
    });

    test('serves the original for an unlisted size, a non-image, or an image too large to decode', async () => {
      const original = await portrait();
      const record = await pics().create({
        image: [new File([original], 'p.png'), new File(['text'], 't.txt')],
      });
      assert.deepEqual((await fetchThumb(record, '10x10')).body, original);
      const text = await fetch(server.client().files.getURL(record, record.image[1], { thumb: '100x100' }));
      assert.equal(await text.text(), 'text');
      // A PNG whose header claims 20000×20000 pixels: refused before decoding, the original is served.
      const bomb = Buffer.from(await png(4));
      bomb.writeUInt32BE(20000, 16);
      bomb.writeUInt32BE(20000, 20);
      bomb.writeUInt32BE(crc32(bomb.subarray(12, 29)), 29);
      const bombed = await pics().create({ image: new File([bomb], 'bomb.png') });
      const { res, body } = await fetchThumb(bombed, '50x30');
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.deepEqual(body, bomb);
      assert.equal((await storedKeys(server)).filter((k) => k.includes(`/${bombed.id}/thumbs_`)).length, 0);
    });

    test('keeps the format of JPEG and GIF sources, makes PNG of WebP', async () => {
      const base = sharp({ create: { width: 60, height: 60, channels: 3, background: 'green' } });
      for (const [format, type] of [
        ['jpeg', 'image/jpeg'],
        ['gif', 'image/gif'],
        ['webp', 'image/png'],
      ] as const) {
        const record = await pics().create({
          image: new File([await base.clone().toFormat(format).toBuffer()], `i.${format}`),
        });
        const { res } = await fetchThumb(record, '50x30');
        assert.equal(res.headers.get('content-type'), type, format);
      }
    });

    test('while thumbnails of a large image are made, a download, a record read and a health check are answered', async () => {
      // Four sizes: as many as Node's libuv pool has threads, which sharp and file reads share; with four made
      // at once, none would be left for the download.
      const sizes = ['4000x4000', '4000x3990', '3990x4000', '3990x3990'];
      await server.admin.collections.create({
        name: 'large',
        type: 'base',
        viewRule: '',
        createRule: '',
        fields: [
          { name: 'image', type: 'file', thumbs: sizes },
          { name: 'doc', type: 'file' },
        ],
      });
      // One colour, 7000×7000: a few hundred kilobytes to store, 49 megapixels to decode and 16 to encode for
      // each size, which takes libvips far longer than the reads below take.
      const large = await sharp({ create: { width: 7000, height: 7000, channels: 3, background: 'gray' } })
        .png()
        .toBuffer();
      const record = await server
        .client()
        .collection('large')
        .create({
          image: new File([new Uint8Array(large)], 'large.png'),
          doc: new File(['plain'], 'doc.txt'),
        });
      let finished = 0;
      const thumbs = sizes.map(async (thumb) => {
        const res = await fetch(server.client().files.getURL(record, record.image, { thumb }));
        await res.arrayBuffer();
        finished++;
        return res;
      });
      // Wait until libvips is decoding (sharp counts the images in its hands), and the other requests are in.
      for (let i = 0; i < 500 && sharp.counters().process < 2; i++) await sleep(10);
      await sleep(50);
      const making = sharp.counters().process;
      assert.ok(making >= 2, 'the thumbnails are being made');
      // Each read needs the event loop, and the download the libuv pool too: if thumbnails were made on the
      // loop or took every thread of the pool, the reads would wait for one to be done.
      const download = await fetch(server.client().files.getURL(record, record.doc));
      const reads = [
        [download.status, await download.text()],
        [(await server.request('GET', '/api/health')).status],
        [(await server.request('GET', `/api/collections/large/records/${record.id}`)).status],
      ];
      const [stillMaking, finishedDuringReads] = [sharp.counters().process, finished];
      assert.deepEqual(reads, [[200, 'plain'], [200], [200]]);
      assert.equal(finishedDuringReads, 0, 'a read waited for a thumbnail');
      assert.ok(
        stillMaking >= making,
        `a read waited for a thumbnail: ${making} being made, then ${stillMaking}`,
      );
      for (const res of await Promise.all(thumbs)) assert.equal(res.status, 200);
    });
  });

describe('S3 storage from the settings', () => {
  let server: TestServer;
  let s3: TestS3;
  before(async () => {
    server = await startServer();
    s3 = await startS3();
    await server.admin.collections.create({
      name: 'moves',
      type: 'base',
      createRule: '',
      viewRule: '',
      fields: [{ name: 'f', type: 'file' }],
    });
  });
  after(async () => {
    await server.close();
    await s3.stop();
  });
  const settings = (body: unknown) =>
    server.request('PATCH', '/api/settings', { token: server.adminToken, body });
  const test3 = () =>
    server.request('POST', '/api/settings/test/s3', {
      token: server.adminToken,
      body: { filesystem: 'storage' },
    });

  test('switches without a restart, and POST /api/settings/test/s3 tries the saved settings', async () => {
    const failed = await test3();
    assert.equal(failed.status, 400);
    assert.match(failed.body.message, /not enabled/);
    const onDisk = await server
      .client()
      .collection('moves')
      .create({ f: new File(['disk'], 'd.txt') });
    assert.equal((await settings({ s3: { enabled: true, ...s3.options } })).status, 200);
    assert.equal((await test3()).status, 204);
    assert.deepEqual(await listKeys(s3.options), [], 'the test object was removed again');
    const inBucket = await server
      .client()
      .collection('moves')
      .create({ f: new File(['bucket'], 'b.txt') });
    assert.deepEqual(await listKeys(s3.options), [`${inBucket.collectionId}/${inBucket.id}/${inBucket.f}`]);
    const read = await fetch(server.client().files.getURL(inBucket, inBucket.f));
    assert.equal(await read.text(), 'bucket');
    // Files are not moved: the one stored on disk is not in the bucket.
    assert.equal((await fetch(server.client().files.getURL(onDisk, onDisk.f))).status, 404);
    // A wrong bucket: the test says what S3 answered.
    assert.equal((await settings({ s3: { bucket: 'no-such-bucket' } })).status, 200);
    const wrong = await test3();
    assert.equal(wrong.status, 400);
    assert.match(wrong.body.message, /^Failed to test the S3 filesystem\. Raw error: \n.+/);
    // Back to the data dir.
    assert.equal((await settings({ s3: { enabled: false, bucket: s3.options.bucket } })).status, 200);
    assert.equal(await (await fetch(server.client().files.getURL(onDisk, onDisk.f))).text(), 'disk');
  });
});

describe('a slow upload and admission control', () => {
  let server: TestServer;
  before(async () => {
    // One slot: a slow uploader holding it would keep everyone else waiting.
    server = await startServer({ flags: { maxInFlight: 1, maxQueue: 10, maxInFlightPerIp: 0 } });
    await server.admin.collections.create({
      name: 'slow',
      type: 'base',
      listRule: '',
      createRule: '',
      fields: [{ name: 'f', type: 'file' }],
    });
  });
  after(() => server.close());

  test('reads the upload without holding a slot: others are served meanwhile, then it is stored', async () => {
    const boundary = 'Slow';
    const req = httpRequest(`${server.url}/api/collections/slow/records`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
    });
    req.write(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="slow.txt"\r\n\r\n`);
    for (let i = 0; i < 5; i++) {
      req.write('part ');
      // While the upload trickles in, another client is served at once.
      const started = performance.now();
      const list = await server.request('GET', '/api/collections/slow/records');
      assert.equal(list.status, 200);
      assert.ok(performance.now() - started < 1000, 'a list waited for the upload');
      await sleep(50);
    }
    assert.equal(server.app.server.admission.inFlight, 0, 'the upload holds no slot while it is read');
    req.end(`\r\n--${boundary}--\r\n`);
    const { status, body } = await answer;
    assert.equal(status, 200, body);
    const record = JSON.parse(body) as RecordModel;
    const stored = await fetch(server.client().files.getURL(record, record.f));
    assert.equal(await stored.text(), 'part part part part part ');
    assert.equal(server.app.server.admission.inFlight, 0);
  });

  test('a burst of new thumbnails holds no slot while they are made: a list is answered meanwhile', async () => {
    // Eight: with the slot and the queue of ten, all of them and the list fit in; none is turned away.
    const sizes = Array.from({ length: 8 }, (_, i) => `${40 + i * 10}x${40 + i * 10}`);
    await server.admin.collections.create({
      name: 'photos',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: 'f', type: 'file', maxSize: 20 << 20, thumbs: sizes }],
    });
    const noise = { type: 'gaussian', mean: 128, sigma: 40 } as const;
    const jpeg = await sharp({
      create: { width: 2000, height: 2000, channels: 3, background: 'gray', noise },
    })
      .jpeg({ quality: 95 })
      .toBuffer();
    const record = await server.admin
      .collection('photos')
      .create({ f: new File([new Uint8Array(jpeg)], 'noise.jpg') });
    const finished: string[] = [];
    const thumbs = sizes.map(async (thumb) => {
      const res = await fetch(server.client().files.getURL(record, record.f, { thumb }));
      await res.arrayBuffer();
      finished.push(thumb);
      return res;
    });
    await sleep(20); // the thumb requests are in
    const list = await server.request('GET', '/api/collections/photos/records');
    assert.equal(list.status, 200);
    const madeBeforeList = finished.length;
    for (const res of await Promise.all(thumbs)) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/jpeg');
    }
    // Holding their slots (one here), all eight would be made before the list got its turn.
    assert.ok(madeBeforeList < sizes.length / 2, `${madeBeforeList} thumbnails were made before the list`);
  });
});
