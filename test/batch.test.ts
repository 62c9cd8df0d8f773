import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientResponseError } from 'pocketbase';
import { startServer, TEST_ENGINE, type TestServer } from './helpers/server.ts';
import { STORAGES, storedKeys, useLocalStorage, useS3 } from './helpers/storage.ts';

// `POST /api/batch`, checked against PocketBase's behaviour (apis/batch.go, apis/batch_test.go): disabled
// by default (403), the request list validated first (400 with errors by index), then every request run in
// one transaction under its own collection's rules, all or nothing, answered as `[{status, body}]`.

// biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON, checked field by field.
type Json = any;

const OPEN = { listRule: '', viewRule: '', createRule: '', updateRule: '', deleteRule: '' };

describe(`batch requests on ${TEST_ENGINE}`, () => {
  let srv: TestServer;
  let notes = '';
  let notesId = '';
  let locked = '';
  const batch = (body: unknown, token = '') => srv.request('POST', '/api/batch', { body, token });
  const settings = (batchSettings: object) =>
    srv.request('PATCH', '/api/settings', { token: srv.adminToken, body: { batch: batchSettings } });
  const count = async (collection: string, filter = '') =>
    (await srv.admin.collection(collection).getList(1, 1, { filter })).totalItems;

  before(async () => {
    srv = await startServer();
    const made = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'batch_notes',
        ...OPEN,
        fields: [
          { name: 'title', type: 'text', required: true, max: 100 },
          { name: 'n', type: 'number' },
        ],
      },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    notes = made.body.name;
    notesId = made.body.id;
    // Writable only by signed-in users; creatable by nobody inside a batch (`@request.context`).
    const lockedRes = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'batch_locked',
        listRule: '',
        viewRule: '',
        createRule: '@request.context != "batch"',
        updateRule: '@request.auth.id != ""',
        deleteRule: null,
        fields: [{ name: 'title', type: 'text' }],
      },
    });
    assert.equal(lockedRes.status, 200, JSON.stringify(lockedRes.body));
    locked = lockedRes.body.name;
  });
  after(() => srv?.close());

  it('is off by default: 403, as in PocketBase', async () => {
    const res = await batch({ requests: [{ method: 'POST', url: `/api/collections/${notes}/records` }] });
    assert.equal(res.status, 403);
    assert.deepEqual(res.body.data, {});
  });

  it('runs creates, upserts, updates and deletes in order through the SDK once enabled', async () => {
    assert.equal((await settings({ enabled: true, maxRequests: 50, timeout: 3 })).status, 200);
    const pb = srv.client();
    const b = pb.createBatch();
    b.collection(notes).create({ id: 'batchrecord0001', title: 'first', n: 1 });
    b.collection(notes).update('batchrecord0001', { 'n+': 5 }); // sees the create before it
    b.collection(notes).upsert({ title: 'upserted new' });
    b.collection(notes).upsert({ id: 'batchrecord0001', title: 'upserted existing' });
    b.collection(notes).create({ id: 'batchrecord0002', title: 'short-lived' });
    b.collection(notes).delete('batchrecord0002');
    const results: Json[] = await b.send();
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200, 200, 204],
    );
    assert.equal(results[1].body.n, 6);
    assert.equal(results[3].body.title, 'upserted existing');
    assert.equal(results[3].body.n, 6);
    assert.equal(results[5].body, null);
    const stored = await srv.admin.collection(notes).getOne('batchrecord0001');
    assert.equal(stored.title, 'upserted existing');
    assert.equal(await count(notes, 'id = "batchrecord0002"'), 0);
    assert.equal(await count(notes, 'title = "upserted new"'), 1);
  });

  it("applies each request's own fields and expand (which sees the batch's earlier writes)", async () => {
    const tags = await srv.request('POST', '/api/collections', {
      token: srv.adminToken,
      body: {
        name: 'batch_tags',
        ...OPEN,
        fields: [{ name: 'note', type: 'relation', collectionId: notesId, maxSelect: 1 }],
      },
    });
    assert.equal(tags.status, 200, JSON.stringify(tags.body));
    const res = await batch({
      requests: [
        {
          method: 'PUT',
          url: `/api/collections/${notes}/records?fields=id,title:excerpt(4,true)`,
          body: { id: 'batchrecord0003', title: 'a long title here' },
        },
        {
          method: 'POST',
          url: '/api/collections/batch_tags/records?expand=note',
          body: { note: 'batchrecord0003' },
        },
      ],
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body[0].body).sort(), ['id', 'title']);
    assert.equal(res.body[0].body.title, 'a lo...');
    assert.equal(res.body[1].body.expand.note.title, 'a long title here');
  });

  it('takes the multipart form the SDK sends, and refuses poisoned or broken JSON in it', async () => {
    const form = (payload: string) => {
      const f = new FormData();
      f.append('@jsonPayload', payload);
      return fetch(`${srv.url}/api/batch`, { method: 'POST', body: f }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as Json,
      }));
    };
    const one = { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'from a form' } };
    assert.equal((await form(JSON.stringify({ requests: [one] }))).status, 200);
    // A file under a key of a collection with no such file field is ignored, as a record route ignores it.
    const f = new FormData();
    f.append('requests.0.attachment', new Blob(['hello']), 'a.txt');
    f.append('@jsonPayload', JSON.stringify({ requests: [one] }));
    const withFile = await fetch(`${srv.url}/api/batch`, { method: 'POST', body: f });
    assert.equal(withFile.status, 200);
    for (const bad of [
      '{',
      '{"requests":[{"__proto__":{"x":1}}]}',
      `${'['.repeat(600)}${']'.repeat(600)}`,
      '"\\ud800"',
    ]) {
      const res = await form(bad.replace('\\\\', '\\'));
      assert.equal(res.status, 400, `${bad.slice(0, 40)} → ${JSON.stringify(res.body)}`);
    }
    const empty = await form('');
    assert.equal(empty.status, 400);
  });

  it('is all or nothing: a failing request undoes the others and is named by its index', async () => {
    const before = await count(notes);
    const res = await batch({
      requests: [
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'kept?' } },
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'kept too?' } },
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: '' } },
      ],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'Batch transaction failed.');
    assert.deepEqual(Object.keys(res.body.data.requests), ['2']);
    const failed = res.body.data.requests['2'];
    assert.equal(failed.code, 'batch_request_failed');
    assert.equal(failed.response.status, 400);
    assert.equal(failed.response.data.title.code, 'validation_required');
    assert.equal(await count(notes), before);
  });

  it("checks each request against its own collection's rules, as the batch's caller", async () => {
    const target = await srv.admin.collection(locked).create({ title: 'untouched' });
    const before = await count(notes);
    const guest = await batch({
      requests: [
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'by a guest' } },
        // Another request's Authorization header does not make it a superuser's.
        {
          method: 'PATCH',
          url: `/api/collections/${locked}/records/${target.id}`,
          body: { title: 'changed' },
          headers: { Authorization: srv.adminToken },
        },
      ],
    });
    assert.equal(guest.status, 400);
    assert.equal(guest.body.data.requests['1'].response.status, 404);
    assert.equal(await count(notes), before);
    assert.equal((await srv.admin.collection(locked).getOne(target.id)).title, 'untouched');
    // The batch's own token counts.
    const asAdmin = await batch(
      {
        requests: [
          {
            method: 'PATCH',
            url: `/api/collections/${locked}/records/${target.id}`,
            body: { title: 'changed' },
          },
        ],
      },
      srv.adminToken,
    );
    assert.equal(asAdmin.status, 200, JSON.stringify(asAdmin.body));
  });

  it('lets rules tell a batch apart (`@request.context = "batch"`)', async () => {
    const direct = await srv.request('POST', `/api/collections/${locked}/records`, {
      body: { title: 'direct' },
    });
    assert.equal(direct.status, 200, JSON.stringify(direct.body));
    const res = await batch({
      requests: [
        { method: 'POST', url: `/api/collections/${locked}/records`, body: { title: 'in a batch' } },
      ],
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.requests['0'].response.status, 400);
  });

  it('validates the request list before running anything, reporting every problem by index', async () => {
    const before = await count(notes);
    const res = await batch({
      requests: [
        {},
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'valid' } },
        { method: 'invalid', url: '/x' },
        { method: 'POST', url: `/${'a'.repeat(2001)}` },
        { method: 'POST', url: '/x', body: [1, 2] },
        { method: 'POST', url: '/x', headers: { a: 1 } },
      ],
    });
    assert.equal(res.status, 400);
    const r = res.body.data.requests;
    assert.equal(r['0'].method.code, 'validation_required');
    assert.equal(r['0'].url.code, 'validation_required');
    assert.equal(r['1'], undefined);
    assert.equal(r['2'].method.code, 'validation_in_invalid');
    assert.equal(r['3'].url.code, 'validation_length_too_long');
    assert.ok(r['4'].body);
    assert.ok(r['5'].headers);
    assert.equal(await count(notes), before);
  });

  it('refuses more requests than maxRequests (10,000 at once) without running any', async () => {
    const before = await count(notes);
    const one = { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'flood' } };
    const res = await batch({ requests: Array.from({ length: 10_000 }, () => one) });
    assert.equal(res.status, 400);
    assert.equal(res.body.data.requests.code, 'validation_length_too_long');
    assert.equal(await count(notes), before);
  });

  it('answers bodies that are not a batch with a 400, never a 500', async () => {
    for (const body of [{}, { requests: [] }, { requests: 'x' }, { requests: {} }, [1], 'text', null]) {
      const res = await srv.request('POST', '/api/batch', {
        rawBody: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, `${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    }
  });

  it('answers a request it has no action for, or a missing collection, as a failed request', async () => {
    const unknown = await batch({ requests: [{ method: 'GET', url: '/api/health' }] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.data.requests['0'].code, 'batch_request_failed');
    assert.equal(unknown.body.data.requests['0'].response.status, 400);
    const missing = await batch({
      requests: [{ method: 'POST', url: '/api/collections/nope/records', body: { title: 'x' } }],
    });
    assert.equal(missing.body.data.requests['0'].response.status, 404);
    const badEscape = await batch({
      requests: [{ method: 'DELETE', url: '/api/collections/%zz/records/%zz' }],
    });
    assert.equal(badEscape.status, 400);
  });

  it('undoes everything when the batch outlives its timeout', async () => {
    // Sign-ups hash a password each (argon2id, ~10-40 ms here): 300 of them take well over a second, and the
    // batch stops at the first check past its deadline.
    await settings({ enabled: true, maxRequests: 300, timeout: 1 });
    const before = await count('users');
    const res = await batch({
      requests: Array.from({ length: 300 }, (_, i) => ({
        method: 'POST',
        url: '/api/collections/users/records',
        body: {
          email: `batch${i}@example.com`,
          password: 'batch-password-1',
          passwordConfirm: 'batch-password-1',
        },
      })),
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.message, 'Batch transaction failed.');
    assert.equal(await count('users'), before);
    await settings({ enabled: true, maxRequests: 50, timeout: 3 });
  });

  it('applies its own body limit (maxBodySize): 413', async () => {
    await settings({ enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 1000 });
    const res = await batch({
      requests: [
        { method: 'POST', url: `/api/collections/${notes}/records`, body: { title: 'x'.repeat(2000) } },
      ],
    });
    assert.equal(res.status, 413);
    await settings({ enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 0 });
  });

  it('surfaces as a ClientResponseError in the SDK, with the failing index', async () => {
    const b = srv.client().createBatch();
    b.collection(notes).create({ title: 'ok' });
    b.collection(notes).create({ title: 'x'.repeat(101) });
    await assert.rejects(b.send(), (err: unknown) => {
      assert.ok(err instanceof ClientResponseError);
      assert.equal(err.status, 400);
      assert.equal(
        err.response.data.requests['1'].response.data.title.code,
        'validation_max_text_constraint',
      );
      return true;
    });
  });

  for (const kind of STORAGES)
    describe(`with files (multipart, keys \`requests.N.field\`) on ${kind} storage`, () => {
      let docs = '';
      let docsId = '';
      const PNG = Buffer.from(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
        'base64',
      );
      const spool = () => readdirSync(join(srv.dataDir, '.uploads'));
      // The file names kept for this collection's records.
      const stored = async () =>
        (await storedKeys(srv))
          .filter((k) => k.startsWith(`${docsId}/`))
          .map((k) => k.split('/').pop() as string)
          .sort();
      const post = (form: FormData) =>
        fetch(`${srv.url}/api/batch`, { method: 'POST', body: form }).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as Json,
        }));
      const createIn = (body: object) => ({ method: 'POST', url: `/api/collections/${docs}/records`, body });

      before(async () => {
        if (kind === 's3') await useS3(srv);
        await settings({ enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 0 });
        const made = await srv.request('POST', '/api/collections', {
          token: srv.adminToken,
          body: {
            name: `batch_docs_${kind}`,
            ...OPEN,
            fields: [
              { name: 'title', type: 'text', required: true, max: 100 },
              { name: 'files', type: 'file', maxSelect: 5, maxSize: 1000 },
              { name: 'image', type: 'file', maxSelect: 1, mimeTypes: ['image/png'] },
            ],
          },
        });
        assert.equal(made.status, 200, JSON.stringify(made.body));
        docs = made.body.name;
        docsId = made.body.id;
      });
      after(async () => {
        if (kind === 's3') await useLocalStorage(srv);
      });

      it('stores files with creates and updates sent through the SDK, each in its own request', async () => {
        const first = await srv.admin.collection(docs).create({ title: 'before' });
        const b = srv.admin.createBatch();
        b.collection(docs).create({
          title: 'one',
          files: [new File(['first file'], 'alpha.txt'), new File(['second file'], 'b.txt')],
          image: new File([PNG], 'pixel.bin'),
        });
        b.collection(docs).create({ title: 'two' });
        b.collection(docs).update(first.id, { 'files+': new File(['appended'], 'c.txt') });
        const results = await b.send();
        assert.deepEqual(
          results.map((r) => r.status),
          [200, 200, 200],
        );
        const [one, two, updated] = results.map((r) => r.body);
        assert.equal(one.files.length, 2);
        assert.match(one.files[0], /^alpha_\w{10}\.txt$/);
        assert.match(one.image, /^pixel_\w{10}\.bin$/);
        assert.deepEqual(two.files, []);
        assert.equal(updated.files.length, 1);
        const download = await fetch(`${srv.url}/api/files/${docsId}/${one.id}/${one.files[1]}`);
        assert.equal(await download.text(), 'second file');
        const image = await fetch(`${srv.url}/api/files/${docsId}/${one.id}/${one.image}`);
        assert.equal(image.headers.get('content-type'), 'image/png', 'the type is sniffed');
        assert.deepEqual(spool(), [], 'no spool file left');

        // Removing a name in a batch removes its file once the batch has committed.
        const removal = srv.admin.createBatch();
        removal.collection(docs).update(one.id, { 'files-': one.files[0] });
        assert.equal((await removal.send())[0]?.status, 200);
        for (let i = 0; i < 50 && (await stored()).includes(one.files[0]); i++) await sleep(20);
        assert.ok(!(await stored()).includes(one.files[0]));
        assert.ok((await stored()).includes(one.files[1]));
      });

      it('takes `requests[N].field` keys too, and ignores files for requests that are not there', async () => {
        const form = new FormData();
        form.append('requests[0].files', new Blob(['bracketed']), 'xray.txt');
        form.append('requests.7.files', new Blob(['nobody']), 'y.txt');
        form.append('@jsonPayload', JSON.stringify({ requests: [createIn({ title: 'brackets' })] }));
        const res = await post(form);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body[0].body.files.length, 1);
        assert.match(res.body[0].body.files[0], /^xray_/);
        assert.deepEqual(spool(), []);
      });

      it('undoes every stored file when a later request fails, and keeps no spool file', async () => {
        const before = await stored();
        const records = await count(docs);
        const form = new FormData();
        form.append('requests.0.files', new Blob(['kept?']), 'kept.txt');
        form.append('requests.1.files', new Blob(['kept too?']), 'kept2.txt');
        form.append(
          '@jsonPayload',
          JSON.stringify({
            requests: [createIn({ title: 'ok' }), createIn({ title: 'ok' }), createIn({ title: '' })],
          }),
        );
        const res = await post(form);
        assert.equal(res.status, 400);
        assert.deepEqual(Object.keys(res.body.data.requests), ['2']);
        assert.deepEqual(await stored(), before, 'the files of the undone creates are gone');
        assert.equal(await count(docs), records);
        assert.deepEqual(spool(), []);
      });

      it("checks each file against its own field's limits: size, type, count", async () => {
        const before = await stored();
        const records = await count(docs);
        const cases: [string, Blob, string][] = [
          ['files', new Blob(['x'.repeat(1001)]), 'validation_file_size_limit'],
          ['image', new Blob(['not a png at all']), 'validation_invalid_mime_type'],
        ];
        for (const [field, blob, code] of cases) {
          const form = new FormData();
          form.append(`requests.1.${field}`, blob, 'f.png');
          form.append('requests.0.files', new Blob(['fine']), 'fine.txt');
          form.append(
            '@jsonPayload',
            JSON.stringify({ requests: [createIn({ title: 'a' }), createIn({ title: 'b' })] }),
          );
          const res = await post(form);
          assert.equal(res.status, 400, JSON.stringify(res.body));
          assert.equal(res.body.data.requests['1'].response.data[field].code, code);
        }
        const many = new FormData();
        for (let i = 0; i < 6; i++) many.append('requests.0.files', new Blob([`f${i}`]), `${i}.txt`);
        many.append('@jsonPayload', JSON.stringify({ requests: [createIn({ title: 'many' })] }));
        const res = await post(many);
        assert.equal(res.body.data.requests['0'].response.data.files.code, 'validation_too_many_files');
        assert.deepEqual(await stored(), before);
        assert.equal(await count(docs), records);
        assert.deepEqual(spool(), []);
      });

      it('refuses a form cut short after its first requests: 400, nothing written or kept', async () => {
        const before = await stored();
        const records = await count(docs);
        const form = new FormData();
        form.append('@jsonPayload', JSON.stringify({ requests: [createIn({ title: 'cut' })] }));
        form.append('requests.0.files', new Blob(['a whole file']), 'whole.txt');
        form.append('requests.0.files', new Blob(['the next one, cut short']), 'cut.txt');
        const encoded = new Response(form);
        const bytes = Buffer.from(await encoded.arrayBuffer());
        // Cut inside the last file, and after a whole part (before the next part's headers end).
        const lastPart = bytes.lastIndexOf('Content-Disposition');
        for (const end of [bytes.length - 20, lastPart + 10]) {
          const res = await fetch(`${srv.url}/api/batch`, {
            method: 'POST',
            body: bytes.subarray(0, end),
            headers: { 'content-type': encoded.headers.get('content-type') as string },
          });
          assert.equal(res.status, 400, String(end));
          assert.deepEqual(Object.keys((await res.json()) as object).sort(), ['data', 'message', 'status']);
        }
        assert.deepEqual(await stored(), before);
        assert.equal(await count(docs), records);
        assert.deepEqual(spool(), []);
      });

      it('cuts a form off at the batch body limit, announced or streamed: 413, nothing kept', async () => {
        await settings({ enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 20_000 });
        try {
          const records = await count(docs);
          const big = new FormData();
          big.append('requests.0.files', new Blob([Buffer.alloc(50_000, 1)]), 'big.bin');
          big.append('@jsonPayload', JSON.stringify({ requests: [createIn({ title: 'big' })] }));
          assert.equal((await post(big)).status, 413, 'refused on its Content-Length');
          // The same form, streamed without a length: cut off while it streams.
          const encoded = new Response(big);
          const streamed = await fetch(`${srv.url}/api/batch`, {
            method: 'POST',
            body: encoded.body,
            headers: { 'content-type': encoded.headers.get('content-type') as string },
            duplex: 'half',
          } as RequestInit);
          assert.equal(streamed.status, 413);
          assert.equal(await count(docs), records);
          assert.deepEqual(spool(), []);
        } finally {
          await settings({ enabled: true, maxRequests: 50, timeout: 3, maxBodySize: 0 });
        }
      });
    });
});
