import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createLocalStorage, createS3Storage, type FileStorage } from '../src/storage/index.ts';
import { startS3, type TestS3 } from './helpers/s3.ts';

async function text(stream: Readable | undefined): Promise<string | undefined> {
  if (!stream) return undefined;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** One suite, run on the data dir and on a real S3-compatible server. */
const KINDS: { name: string; open(dir: string): Promise<{ storage: FileStorage; stop(): Promise<void> }> }[] =
  [
    {
      name: 'local disk',
      async open(dir) {
        return { storage: await createLocalStorage(join(dir, 'storage')), stop: async () => {} };
      },
    },
    {
      name: 'S3 (s3rver)',
      async open() {
        const s3: TestS3 = await startS3();
        const storage = createS3Storage(s3.options);
        return {
          storage,
          stop: async () => {
            await storage.close();
            await s3.stop();
          },
        };
      },
    },
  ];

for (const kind of KINDS) {
  describe(`storage on ${kind.name}`, () => {
    let dir: string;
    let storage: FileStorage;
    let stop: () => Promise<void>;
    let source: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'plinth-storage-'));
      source = join(dir, 'source.txt');
      writeFileSync(source, 'hello, storage');
      ({ storage, stop } = await kind.open(dir));
    });
    after(async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores a file and a buffer, and reads them whole or by range', async () => {
      await storage.putFile('c1/r1/a_x1.txt', source, 'text/plain');
      await storage.putBuffer('c1/r1/thumbs_a.png/10x10_a.png', Buffer.from('png bytes'), 'image/png');
      assert.equal(await text(await storage.read('c1/r1/a_x1.txt')), 'hello, storage');
      assert.equal(await text(await storage.read('c1/r1/a_x1.txt', { start: 7, end: 13 })), 'storage');
      assert.equal(await text(await storage.read('c1/r1/thumbs_a.png/10x10_a.png')), 'png bytes');
      const info = await storage.stat('c1/r1/a_x1.txt');
      assert.equal(info?.size, 14);
      assert.match(info?.etag ?? '', /^".+"$/);
      assert.ok(info && info.modified.getTime() > Date.now() - 60_000);
    });

    it('says undefined for what is not there, and deleting twice is no error', async () => {
      assert.equal(await storage.stat('c1/r1/missing.txt'), undefined);
      assert.equal(await storage.read('c1/r1/missing.txt'), undefined);
      await storage.putFile('c1/r2/b.txt', source, 'text/plain');
      await storage.delete('c1/r2/b.txt');
      await storage.delete('c1/r2/b.txt');
      assert.equal(await storage.stat('c1/r2/b.txt'), undefined);
    });

    it('replaces a blob under the same key', async () => {
      await storage.putBuffer('c1/r3/c.txt', Buffer.from('one'), 'text/plain');
      await storage.putBuffer('c1/r3/c.txt', Buffer.from('two!'), 'text/plain');
      assert.equal(await text(await storage.read('c1/r3/c.txt')), 'two!');
      assert.equal((await storage.stat('c1/r3/c.txt'))?.size, 4);
      // Replaced by content of another type, even of the same size: the new type, never a remembered one.
      const gif = Buffer.from('GIF89a');
      await storage.putBuffer('c1/r3/d.bin', Buffer.from('plain!'), 'text/plain');
      assert.match((await storage.stat('c1/r3/d.bin'))?.contentType ?? '', /^text\/plain/);
      await storage.putBuffer('c1/r3/d.bin', gif, 'image/gif');
      assert.equal((await storage.stat('c1/r3/d.bin'))?.contentType, 'image/gif');
    });

    it("removes a prefix's blobs, thumbnails included, and nothing else", async () => {
      await storage.putBuffer('c2/r1/a.txt', Buffer.from('a'), 'text/plain');
      await storage.putBuffer('c2/r1/thumbs_a.txt/1x1_a.txt', Buffer.from('t'), 'text/plain');
      await storage.putBuffer('c2/r10/b.txt', Buffer.from('b'), 'text/plain');
      await storage.deletePrefix('c2/r1');
      assert.equal(await storage.stat('c2/r1/a.txt'), undefined);
      assert.equal(await storage.stat('c2/r1/thumbs_a.txt/1x1_a.txt'), undefined);
      assert.equal(
        await text(await storage.read('c2/r10/b.txt')),
        'b',
        'a longer key with the same start stays',
      );
      await storage.deletePrefix('c2/nothing-here');
    });

    it('refuses unsafe keys before touching anything', async () => {
      for (const key of [
        '../x',
        'c1/../../x',
        '/abs',
        'c1//x',
        'c1/.hidden',
        'c1/a b',
        'c1/a\\b',
        'c1/\u0000',
      ])
        await assert.rejects(
          storage.putBuffer(key, Buffer.from('x'), 'text/plain'),
          /unsafe storage key/,
          key,
        );
      await assert.rejects(storage.read('../etc/passwd'), /unsafe storage key/);
      await assert.rejects(storage.deletePrefix('..'), /unsafe storage key/);
    });
  });
}
