import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openZipEntry, readZipEntries } from './zip-read.ts';
import { createZipWriter, type ZipWriterOptions } from './zip-write.ts';

// Zip64 checked against independent implementations: Python's zipfile (always installed here) reads what
// Plinth writes and writes what Plinth reads; Info-ZIP's unzip -t and zip -fz join in when installed.

const root = mkdtempSync(join(tmpdir(), 'plinth-zip64-'));
const has = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const ENTRIES = 70_000;

/** Plinth's archive of `entries` (name → body). */
async function write(name: string, entries: [string, Buffer][], options?: ZipWriterOptions): Promise<string> {
  const path = join(root, name);
  const zip = createZipWriter(path, options);
  for (const [n, body] of entries) await zip.addBuffer(n, body);
  await zip.finish();
  return path;
}

/** What Plinth's reader finds: each entry's name and the sha256 of its bytes. */
async function readBack(path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readZipEntries(path)) {
    const hash = createHash('sha256');
    for await (const c of await openZipEntry(path, entry)) hash.update(c as Buffer);
    out[entry.name] = hash.digest('hex');
  }
  return out;
}

/** What Python's zipfile finds, the same way (its reader checks each entry's CRC and size at the end). */
function pythonReads(path: string): Record<string, string> {
  const script = `
import hashlib, json, sys, zipfile
def digest(z, info):
    h = hashlib.sha256()
    with z.open(info) as f:
        for block in iter(lambda: f.read(1 << 20), b''): h.update(block)
    return h.hexdigest()
with zipfile.ZipFile(sys.argv[1]) as z:
    print(json.dumps({i.filename: digest(z, i) for i in z.infolist()}))
`;
  return JSON.parse(
    execFileSync('python3', ['-c', script, path], { maxBuffer: 64 * 1024 * 1024 }).toString(),
  );
}

/** Info-ZIP's own test of every entry, when it is installed (a note in the test output when not). */
function unzipTests(path: string, t: { diagnostic: (m: string) => void }): void {
  if (!has('unzip')) {
    t.diagnostic('unzip is not installed: only Python checked the archive');
    return;
  }
  const run = spawnSync('unzip', ['-tqq', path]);
  assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
}

const SAMPLE: [string, Buffer][] = [
  ['manifest.json', Buffer.from('{"a":1}')],
  ['empty', Buffer.alloc(0)],
  ['storage/c/r/big.bin', Buffer.alloc(3 * 1024 * 1024, 'plinth zip64 ')],
];
const SAMPLE_SUMS = Object.fromEntries(SAMPLE.map(([n, b]) => [n, sha(b)]));

after(() => rmSync(root, { recursive: true, force: true }));

describe('Zip64 in backup archives', () => {
  it(`writes ${ENTRIES} entries (past 65,535) with a zip64 end record that Python and unzip read`, async (t) => {
    const entries: [string, Buffer][] = Array.from({ length: ENTRIES }, (_, i) => [
      `f/${i}`,
      Buffer.from(`${i}`),
    ]);
    const path = await write('many.zip', entries);
    const bytes = readFileSync(path);
    assert.equal(bytes.readUInt16LE(bytes.length - 12), 0xffff, 'the classic count says "see Zip64"');
    const mine = await readZipEntries(path);
    assert.deepEqual(
      mine.map((e) => e.name),
      entries.map(([n]) => n),
    );
    const py = pythonReads(path);
    assert.equal(Object.keys(py).length, ENTRIES);
    for (const i of [0, 65_535, ENTRIES - 1]) {
      assert.equal(py[`f/${i}`], sha(Buffer.from(`${i}`)));
      const chunks: Buffer[] = [];
      for await (const c of await openZipEntry(path, mine[i]!)) chunks.push(c as Buffer);
      assert.equal(Buffer.concat(chunks).toString(), `${i}`);
    }
    unzipTests(path, t);
  });

  it('writes no Zip64 record for a small archive', async () => {
    const bytes = readFileSync(await write('small.zip', SAMPLE));
    assert.equal(bytes.indexOf(Buffer.from([0x50, 0x4b, 0x06, 0x06])), -1);
    assert.equal(bytes.indexOf(Buffer.from([0x01, 0x00, 0x18, 0x00])), -1, 'no zip64 extra field');
  });

  it('writes every Zip64 record when forced, and Python, unzip and Plinth read them', async (t) => {
    const path = await write('forced.zip', SAMPLE, { forceZip64: true });
    const bytes = readFileSync(path);
    assert.ok(bytes.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06])), 'a zip64 end record');
    assert.equal(bytes.readUInt32LE(bytes.length - 6), 0xffffffff, 'the classic offset says "see Zip64"');
    assert.deepEqual(await readBack(path), SAMPLE_SUMS);
    assert.deepEqual(pythonReads(path), SAMPLE_SUMS);
    unzipTests(path, t);
  });

  it("reads Python's archives: entries written with force_zip64, and more than 65,535 entries", async () => {
    const script = `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, allowZip64=True) as z:
    with z.open('manifest.json', 'w', force_zip64=True) as f: f.write(b'{"a":1}')
    with z.open('empty', 'w', force_zip64=True) as f: pass
    with z.open('storage/c/r/big.bin', 'w', force_zip64=True) as f: f.write(b'plinth zip64 ' * 241979 + b'p')
with zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_STORED, allowZip64=True) as z:
    for i in range(${ENTRIES}): z.writestr('f/%d' % i, str(i))
`;
    const forced = join(root, 'py-forced.zip');
    const many = join(root, 'py-many.zip');
    execFileSync('python3', ['-c', script, forced, many]);
    assert.ok(
      readFileSync(forced).includes(Buffer.from([0x01, 0x00, 0x10, 0x00])),
      'zip64 local extra fields',
    );
    assert.deepEqual(await readBack(forced), SAMPLE_SUMS);
    const entries = await readZipEntries(many);
    assert.equal(entries.length, ENTRIES);
    assert.equal(entries.at(-1)!.name, `f/${ENTRIES - 1}`);
  });

  it("reads Info-ZIP's archives made with zip -fz (zip64 extra fields in the central directory)", async (t) => {
    if (!has('zip')) return t.skip('zip is not installed');
    const dir = join(root, 'zipfz');
    for (const [n, b] of SAMPLE) {
      execFileSync('mkdir', ['-p', join(dir, n, '..')]);
      writeFileSync(join(dir, n), b);
    }
    const path = join(root, 'zipfz.zip');
    execFileSync('zip', ['-q', '-fz', '-D', '-r', path, '.'], { cwd: dir });
    assert.deepEqual(await readBack(path), SAMPLE_SUMS);
  });
});

const sig = (n: number) => Buffer.from([0x50, 0x4b, n >> 8, n & 0xff]);

/** Offsets in a forced-Zip64 archive: the zip64 end record, its locator, the end record, an entry's extra. */
function layout(bytes: Buffer, name: string) {
  const end64 = bytes.lastIndexOf(sig(0x0606));
  const locator = bytes.lastIndexOf(sig(0x0607));
  const eocd = bytes.lastIndexOf(sig(0x0506));
  let extra = -1;
  for (let p = bytes.indexOf(sig(0x0102)); p >= 0; p = bytes.indexOf(sig(0x0102), p + 4)) {
    const length = bytes.readUInt16LE(p + 28);
    if (bytes.subarray(p + 46, p + 46 + length).toString() === name) extra = p + 46 + length;
  }
  return { end64, locator, eocd, extra };
}

describe('damaged Zip64 records', () => {
  const damaged: {
    name: string;
    patch: (b: Buffer, at: ReturnType<typeof layout>) => void;
    error: RegExp;
  }[] = [
    {
      name: 'a central directory offset past the end of the file',
      patch: (b, at) => b.writeBigUInt64LE(BigInt(b.length + 10), at.end64 + 48),
      error: /central directory out of bounds/,
    },
    {
      name: 'a central directory size that runs into the end records',
      patch: (b, at) => b.writeBigUInt64LE(b.readBigUInt64LE(at.end64 + 40) + 30n, at.end64 + 40),
      error: /central directory out of bounds/,
    },
    {
      name: 'an entry count one more than the directory holds',
      patch: (b, at) => {
        b.writeBigUInt64LE(4n, at.end64 + 24);
        b.writeBigUInt64LE(4n, at.end64 + 32);
      },
      error: /entry count does not match its central directory/,
    },
    {
      name: 'an entry count one less than the directory holds',
      patch: (b, at) => {
        b.writeBigUInt64LE(2n, at.end64 + 24);
        b.writeBigUInt64LE(2n, at.end64 + 32);
      },
      error: /entry count does not match its central directory/,
    },
    {
      name: 'an entry count of 2^60',
      patch: (b, at) => {
        b.writeBigUInt64LE(2n ** 60n, at.end64 + 24);
        b.writeBigUInt64LE(2n ** 60n, at.end64 + 32);
      },
      error: /a zip64 value is out of range/,
    },
    {
      name: 'a classic entry count that disagrees with the zip64 one',
      patch: (b, at) => {
        b.writeUInt16LE(2, at.eocd + 8);
        b.writeUInt16LE(2, at.eocd + 10);
      },
      error: /zip64 end record disagrees with its end record/,
    },
    {
      name: 'a locator that points past its own place',
      patch: (b, at) => b.writeBigUInt64LE(BigInt(b.length), at.locator + 8),
      error: /zip64 end record out of bounds/,
    },
    {
      name: 'a locator that points at something else',
      patch: (b, at) => b.writeBigUInt64LE(0n, at.locator + 8),
      error: /bad zip64 end record/,
    },
    {
      name: 'all ones in the end record and no locator',
      patch: (b, at) => b.writeUInt32LE(0, at.locator),
      error: /zip64 end record is missing/,
    },
    {
      name: "an entry's compressed size that runs past the file",
      patch: (b, at) => b.writeBigUInt64LE(2n ** 40n, at.extra + 12),
      error: /entries overlap or run past its end/,
    },
    {
      name: "an entry's header offset past the file",
      patch: (b, at) => b.writeBigUInt64LE(BigInt(b.length) * 2n, at.extra + 20),
      error: /entries overlap or run past its end/,
    },
    {
      name: 'an entry without its zip64 extra field',
      patch: (b, at) => b.writeUInt16LE(0x9999, at.extra),
      error: /"storage\/c\/r\/big\.bin" lacks its zip64 sizes/,
    },
  ];
  for (const c of damaged)
    it(`refuses ${c.name}`, async () => {
      const path = await write(`bad-${c.name.replace(/\W+/g, '-')}.zip`, SAMPLE, { forceZip64: true });
      const bytes = readFileSync(path);
      c.patch(bytes, layout(bytes, 'storage/c/r/big.bin'));
      writeFileSync(path, bytes);
      await assert.rejects(readZipEntries(path), (err: Error) => {
        assert.equal(err.constructor.name, 'ArchiveError');
        assert.match(err.message, c.error);
        return true;
      });
    });

  it('stops an entry whose zip64 size is smaller than its bytes', async () => {
    const path = await write('bad-bomb.zip', SAMPLE, { forceZip64: true });
    const bytes = readFileSync(path);
    bytes.writeBigUInt64LE(1000n, layout(bytes, 'storage/c/r/big.bin').extra + 4);
    writeFileSync(path, bytes);
    const entry = (await readZipEntries(path)).find((e) => e.name === 'storage/c/r/big.bin')!;
    assert.equal(entry.size, 1000);
    await assert.rejects(async () => {
      for await (const _ of await openZipEntry(path, entry));
    }, /holds more bytes than the archive declares/);
  });
});

// Long mode (PLINTH_LONG_TESTS=1; `npm test` leaves it out): real sizes and offsets past 4 GiB, no forcing.
// It writes about 4.4 GB to the temp folder and reads it back three times (Plinth, Python, unzip).
describe('Zip64 past 4 GiB, for real (long mode)', { skip: !process.env.PLINTH_LONG_TESTS }, () => {
  it('writes an entry of more than 4 GiB and one after it, which Python, unzip and Plinth read', async (t) => {
    // 1 MiB of noise repeated: deflate's 32 KiB window cannot see the repeats, so the bytes stay incompressible.
    const noise = randomBytes(1024 * 1024);
    const chunks = 4 * 1024 + 64; // 4 GiB and 64 MiB
    const hash = createHash('sha256');
    function* body() {
      for (let i = 0; i < chunks; i++) yield noise;
    }
    const path = join(root, 'huge.zip');
    const zip = createZipWriter(path);
    await zip.add('huge.bin', body(), (c) => hash.update(c));
    await zip.addBuffer('after', Buffer.from('past 4 GiB'));
    await zip.finish();
    const sums = { 'huge.bin': hash.digest('hex'), after: sha(Buffer.from('past 4 GiB')) };
    const entries = await readZipEntries(path);
    assert.equal(entries[0]!.size, chunks * noise.length);
    assert.ok(entries[1]!.headerOffset > 0xffffffff, 'the second entry starts past 4 GiB');
    assert.deepEqual(await readBack(path), sums);
    assert.deepEqual(pythonReads(path), sums);
    unzipTests(path, t);
    rmSync(path);
  });
});
