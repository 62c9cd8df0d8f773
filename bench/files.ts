// `node bench/files.ts`: uploads, downloads and thumbnails on Plinth, against a bare `node:http` + `fs`
// server copying the same bytes (bench/baseline-files.ts), in the same run. The load comes from a separate
// process (bench/files-load.ts), the same client code for both servers. Three parts (--only):
//
//   throughput: for each --sizes (MiB; 1 and 100): uploads (a multipart POST whose file is streamed from
//     disk: Plinth `POST /api/collections/blobs/records`, the baseline writes the whole body to a file) and
//     downloads (Plinth `GET /api/files/{collectionId}/{recordId}/{name}`, the baseline
//     `fs.createReadStream`), --concurrency at once for --duration seconds, --rounds rounds alternating
//     which server goes first. Per server: the medians (and the spread) of requests/s, MiB/s, p50 latency
//     and the server's CPU per request (/proc/PID/stat), and the ratio Plinth / baseline of the medians.
//   memory: for each --memory-sizes (MiB; 10 and 100), a fresh server each time: --memory-concurrency (20)
//     uploads of that size all at once, then as many downloads of them at once; the server's RSS is read
//     from /proc every 100 ms: idle before, peak during each phase, 2 s after, VmHWM at the end.
//   thumbs (Plinth only): --images images of 2000×1500 (a gradient with noise, so they do not compress to
//     nothing) per round and format, each asked for in 8 sizes, --thumb-concurrency at once: every one
//     made for the first time (thumbnails made per second); then the same URLs again for --duration
//     seconds (stored thumbnails served per second).
//
// Flags: --rounds N (3) --duration S (5) --warmup S (1) --concurrency C (4) --sizes 1,100
//        --memory-sizes 10,100 --memory-concurrency N (20) --images N (8) --thumb-concurrency C (4)
//        --thumb-formats jpeg,png (jpeg) --only throughput,memory,thumbs (all) --engine sqlite|postgres
//        --json --keep (keep the temporary directory)
// Everything goes to a directory under os.tmpdir() (sources, data dirs, stored files), removed at the end.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { FilesLoadResult } from './files-load.ts';
import { cpuSeconds, memory, runInChild } from './proc.ts';
import {
  api,
  dropBenchDatabases,
  type RunningServer,
  startFilesBaseline,
  startPlinthPostgres,
  startPlinthSqlite,
} from './servers.ts';

const TMP = join(tmpdir(), `plinth-bench-files-${process.pid}`);
const MIB = 1024 * 1024;
const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '4' },
    sizes: { type: 'string', default: '1,100' },
    'memory-sizes': { type: 'string', default: '10,100' },
    'memory-concurrency': { type: 'string', default: '20' },
    images: { type: 'string', default: '8' },
    'thumb-concurrency': { type: 'string', default: '4' },
    'thumb-formats': { type: 'string', default: 'jpeg' },
    only: { type: 'string', default: 'throughput,memory,thumbs' },
    engine: { type: 'string', default: 'sqlite' },
    json: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const log = (msg: string) => console.error(`bench: ${msg}`);
const only = new Set(String(flags.only).split(','));
const numbers = (list: string) => list.split(',').filter(Boolean).map(Number);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const round = (x: number, digits = 1) => Number(x.toFixed(digits));
/** Bytes the process has sent to the storage layer so far (page cache included), from /proc/PID/io. */
function bytesWritten(pid: number): number {
  return Number(/^write_bytes:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? 0);
}

// ---------------------------------------------------------------------------------------------------
// Setup

/** A file of `mib` MiB of random bytes on disk: the upload body is streamed from it. */
function source(mib: number): string {
  const path = join(TMP, `source-${mib}mib.bin`);
  const fd = openSync(path, 'w');
  for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(MIB));
  closeSync(fd);
  return path;
}

/** Runs bench/files-load.ts in its own process; resolves with its JSON line. */
const load = (args: string[]) => runInChild<FilesLoadResult>('files-load.ts', args);

let targetFiles = 0;
/** Writes a targets file for `files-load.ts --mode get`. */
function targets(list: { url: string; expect?: string }[]): string {
  const path = join(TMP, `targets-${++targetFiles}.json`);
  writeFileSync(path, JSON.stringify(list));
  return path;
}

/** One server under test, as the files bench sees it. */
interface Side {
  label: 'plinth' | 'baseline';
  server: RunningServer;
  uploadUrl: string;
  /** The download URL of a file, from its upload's answer. */
  fileUrl(answer: unknown): string;
  /** Removes what these uploads stored (between rounds: the disk is not filled up). */
  remove(answers: unknown[]): Promise<void>;
}

const BLOBS_FIELD = 'file';
async function startPlinth(runDir: string): Promise<RunningServer> {
  return flags.engine === 'postgres' ? startPlinthPostgres(runDir) : startPlinthSqlite(runDir);
}

/** Plinth with a `blobs` collection (one file field up to 200 MiB, public create and view). */
async function plinthSide(runDir: string): Promise<Side> {
  const server = await startPlinth(runDir);
  const created = await api(
    server.baseUrl,
    'POST',
    '/api/collections',
    {
      name: 'blobs',
      type: 'base',
      listRule: '',
      viewRule: '',
      createRule: '',
      fields: [{ name: BLOBS_FIELD, type: 'file', maxSelect: 1, maxSize: 200 * MIB }],
    },
    server.adminHeaders,
  );
  if (created.status !== 200) {
    await server.stop();
    throw new Error(`blobs: ${created.status} ${created.text.slice(0, 300)}`);
  }
  const collectionId = (created.json as { id: string }).id;
  return {
    label: 'plinth',
    server,
    uploadUrl: `${server.baseUrl}/api/collections/blobs/records`,
    fileUrl: (answer) => {
      const record = answer as { id: string; file: string };
      return `${server.baseUrl}/api/files/${collectionId}/${record.id}/${record.file}`;
    },
    async remove(answers) {
      for (const a of answers) {
        const id = (a as { id: string }).id;
        const res = await api(
          server.baseUrl,
          'DELETE',
          `/api/collections/blobs/records/${id}`,
          undefined,
          server.adminHeaders,
        );
        if (res.status !== 204) log(`note: deleting record ${id} answered ${res.status}`);
      }
    },
  };
}

async function baselineSide(runDir: string): Promise<Side> {
  const server = await startFilesBaseline(runDir);
  const dir = server.db.engine === 'sqlite' ? server.db.file : '';
  return {
    label: 'baseline',
    server,
    uploadUrl: `${server.baseUrl}/upload`,
    fileUrl: (answer) => `${server.baseUrl}/files/${(answer as { name: string }).name}`,
    async remove(answers) {
      for (const a of answers) rmSync(join(dir, (a as { name: string }).name), { force: true });
    },
  };
}

function check(label: string, r: FilesLoadResult): void {
  if (r.failures || r.unexpected)
    throw new Error(
      `${label}: ${r.failures} failed, ${r.unexpected} unexpected of ${r.requests} (statuses ${JSON.stringify(r.statuses)}; ${r.firstError ?? ''})`,
    );
}

// ---------------------------------------------------------------------------------------------------
// Throughput

interface Measure {
  rps: number;
  mibps: number;
  p50: number;
  cpuMsPerRequest: number;
  /** MiB the server wrote to disk (the page cache) per request. */
  writtenMibPerRequest: number;
  requests: number;
}

async function measure(
  pid: number,
  args: string[],
  bytes: (r: FilesLoadResult) => number,
  label: string,
): Promise<{ m: Measure; r: FilesLoadResult }> {
  const before = cpuSeconds(pid);
  const writtenBefore = bytesWritten(pid);
  const r = await load(args);
  const cpu = cpuSeconds(pid) - before;
  const written = bytesWritten(pid) - writtenBefore;
  check(label, r);
  const m = {
    rps: r.requests / r.seconds,
    mibps: bytes(r) / MIB / r.seconds,
    p50: r.p50,
    cpuMsPerRequest: (cpu * 1000) / r.requests,
    writtenMibPerRequest: written / MIB / r.requests,
    requests: r.requests,
  };
  log(
    `${label}: ${m.requests} in ${r.seconds} s, ${round(m.rps)}/s, ${round(m.mibps)} MiB/s, p50 ${m.p50} ms, ${round(m.cpuMsPerRequest, 2)} ms CPU each, ${round(m.writtenMibPerRequest, 2)} MiB written each`,
  );
  return { m, r };
}

function summarize(ms: Measure[]) {
  const pick = (f: (m: Measure) => number) => ms.map(f);
  const rps = pick((m) => m.rps);
  return {
    rounds: ms.map((m) => ({
      rps: round(m.rps, 2),
      mibps: round(m.mibps),
      p50: m.p50,
      cpuMsPerRequest: round(m.cpuMsPerRequest, 2),
      writtenMibPerRequest: round(m.writtenMibPerRequest, 2),
      requests: m.requests,
    })),
    medianRps: round(median(rps), 2),
    minRps: round(Math.min(...rps), 2),
    maxRps: round(Math.max(...rps), 2),
    medianMibps: round(median(pick((m) => m.mibps))),
    medianP50: round(median(pick((m) => m.p50))),
    medianCpuMsPerRequest: round(median(pick((m) => m.cpuMsPerRequest)), 2),
    medianWrittenMibPerRequest: round(median(pick((m) => m.writtenMibPerRequest)), 2),
  };
}

async function throughput(mib: number) {
  const runDir = join(TMP, `throughput-${mib}`);
  mkdirSync(runDir, { recursive: true });
  const src = source(mib);
  const c = flags.concurrency;
  const duration = flags.duration;
  const sides: Side[] = [];
  try {
    sides.push(await plinthSide(runDir), await baselineSide(runDir));
    const uploadArgs = (side: Side, seconds: string) => [
      ...['--mode', 'upload', '--url', side.uploadUrl, '--source', src, '--field', BLOBS_FIELD],
      ...['--concurrency', c, '--duration', seconds, '--min', c, '--keep-bodies'],
    ];
    // Files to download: as many as requests at once, uploaded once per server.
    const downloads = new Map<Side, string>();
    for (const side of sides) {
      const warm = await load(uploadArgs(side, flags.warmup));
      check(`${side.label} warm-up`, warm);
      await side.remove(warm.bodies ?? []);
      const kept = await load(uploadArgs(side, '0'));
      check(`${side.label} files`, kept);
      downloads.set(side, targets((kept.bodies ?? []).map((b) => ({ url: side.fileUrl(b) }))));
      check(
        `${side.label} download warm-up`,
        await load([
          ...['--mode', 'get', '--targets', downloads.get(side) as string],
          ...['--concurrency', c, '--duration', flags.warmup, '--min', c],
        ]),
      );
    }
    const results = new Map<string, Measure[]>();
    const add = (key: string, m: Measure) => results.set(key, [...(results.get(key) ?? []), m]);
    for (let r = 0; r < Number(flags.rounds); r++) {
      const order = r % 2 ? [...sides].reverse() : sides;
      for (const side of order) {
        const { m, r: res } = await measure(
          side.server.pid as number,
          uploadArgs(side, duration),
          (x) => x.bytesSent,
          `${mib} MiB upload ${side.label} round ${r + 1}`,
        );
        add(`upload ${side.label}`, m);
        await side.remove(res.bodies ?? []);
      }
      for (const side of order) {
        const args = ['--mode', 'get', '--targets', downloads.get(side) as string];
        args.push('--concurrency', c, '--duration', duration, '--min', c);
        const { m } = await measure(
          side.server.pid as number,
          args,
          (x) => x.bytesReceived,
          `${mib} MiB download ${side.label} round ${r + 1}`,
        );
        add(`download ${side.label}`, m);
      }
    }
    const rows = [];
    for (const op of ['upload', 'download']) {
      const plinth = results.get(`${op} plinth`) ?? [];
      const base = results.get(`${op} baseline`) ?? [];
      const ratios = plinth.map((p, i) => p.rps / (base[i] as Measure).rps);
      rows.push({
        sizeMib: mib,
        op,
        concurrency: Number(c),
        plinth: summarize(plinth),
        baseline: summarize(base),
        ratio: round(median(plinth.map((m) => m.rps)) / median(base.map((m) => m.rps)), 2),
        roundRatios: ratios.map((x) => round(x, 2)),
      });
    }
    return rows;
  } finally {
    await Promise.all(sides.map((s) => s.server.stop()));
    rmSync(runDir, { recursive: true, force: true });
    rmSync(src, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Memory

/** Samples a process's RSS every 100 ms until stopped. */
function sampler(pid: number) {
  const samples: { t: number; rss: number }[] = [];
  const t0 = Date.now();
  const take = () => samples.push({ t: Date.now() - t0, rss: memory(pid).rss });
  take();
  const timer = setInterval(take, 100);
  return {
    samples,
    mark: () => samples.length,
    peakSince: (from: number) => Math.max(...samples.slice(from).map((s) => s.rss)),
    last: () => (samples.at(-1) as { rss: number }).rss,
    stop: () => clearInterval(timer),
  };
}

/**
 * Asks `GET /api/health` one request at a time until stopped: how long a small request waits while the
 * large transfers run (the server's event loop, and anything it does synchronously, such as a commit).
 */
function prober(baseUrl: string) {
  const times: number[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const t = performance.now();
      const res = await fetch(`${baseUrl}/api/health`);
      await res.arrayBuffer();
      times.push(performance.now() - t);
      await sleep(50);
    }
  })();
  return async () => {
    running = false;
    await done;
    const sorted = [...times].sort((a, b) => a - b);
    const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
    return { count: times.length, p50: at(0.5), p99: at(0.99), max: round(sorted.at(-1) ?? 0) };
  };
}

async function memoryRun(mib: number, which: 'plinth' | 'baseline', src: string) {
  const runDir = join(TMP, `memory-${mib}-${which}`);
  mkdirSync(runDir, { recursive: true });
  const side = which === 'plinth' ? await plinthSide(runDir) : await baselineSide(runDir);
  const pid = side.server.pid as number;
  const n = flags['memory-concurrency'];
  try {
    await sleep(2000);
    const s = sampler(pid);
    await sleep(1000);
    const idle = median(s.samples.map((x) => x.rss));
    const upStart = s.mark();
    const writtenBefore = bytesWritten(pid);
    let probe = prober(side.server.baseUrl);
    const up = await load([
      ...['--mode', 'upload', '--url', side.uploadUrl, '--source', src, '--field', BLOBS_FIELD],
      ...['--concurrency', n, '--count', n, '--keep-bodies'],
    ]);
    check(`${mib} MiB × ${n} uploads ${which}`, up);
    const upEnd = s.mark();
    const uploadProbe = await probe();
    const writtenMib = round((bytesWritten(pid) - writtenBefore) / MIB);
    await sleep(2000);
    const afterUpload = s.last();
    const list = targets((up.bodies ?? []).map((b) => ({ url: side.fileUrl(b) })));
    const downStart = s.mark();
    probe = prober(side.server.baseUrl);
    const down = await load(['--mode', 'get', '--targets', list, '--concurrency', n, '--count', n]);
    const downloadProbe = await probe();
    check(`${mib} MiB × ${n} downloads ${which}`, down);
    const downEnd = s.mark();
    await sleep(2000);
    s.stop();
    const result = {
      sizeMib: mib,
      server: which,
      concurrency: Number(n),
      inFlightMib: mib * Number(n),
      idleRss: idle,
      uploadPeakRss: s.peakSince(upStart),
      uploadSeconds: up.seconds,
      uploadWrittenMib: writtenMib,
      afterUploadRss: afterUpload,
      downloadPeakRss: s.peakSince(downStart),
      downloadSeconds: down.seconds,
      afterDownloadRss: s.last(),
      vmHwm: memory(pid).peak,
      healthDuringUploadMs: uploadProbe,
      healthDuringDownloadMs: downloadProbe,
      samples: s.samples,
    };
    log(
      `memory ${which} ${n} × ${mib} MiB: idle ${idle} MB, upload peak ${result.uploadPeakRss} MB (${up.seconds} s, ${writtenMib} MiB written), ` +
        `download peak ${result.downloadPeakRss} MB (${down.seconds} s), after ${result.afterDownloadRss} MB, VmHWM ${result.vmHwm} MB` +
        ` [samples during upload ${upEnd - upStart}, download ${downEnd - downStart}]; GET /api/health meanwhile: ` +
        `upload p50 ${uploadProbe.p50} / max ${uploadProbe.max} ms (${uploadProbe.count}), download p50 ${downloadProbe.p50} / max ${downloadProbe.max} ms`,
    );
    return result;
  } finally {
    await side.server.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------
// Thumbnails

const THUMBS = ['100x100', '300x0', '0x300', '200x200t', '200x200b', '150x150f', '400x300', '50x50'];

/** A 2000×1500 image: a gradient with ±32 of noise on every channel, so it does not compress to nothing. */
async function image(format: 'jpeg' | 'png'): Promise<Buffer> {
  const width = 2000;
  const height = 1500;
  const raw = Buffer.alloc(width * height * 3);
  const noise = randomBytes(raw.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const base = [(x * 255) / width, (y * 255) / height, ((x + y) * 255) / (width + height)];
      for (let k = 0; k < 3; k++)
        raw[i + k] = Math.max(0, Math.min(255, (base[k] as number) + ((noise[i + k] as number) >> 2) - 32));
    }
  const img = sharp(raw, { raw: { width, height, channels: 3 } });
  return format === 'jpeg' ? img.jpeg({ quality: 85 }).toBuffer() : img.png().toBuffer();
}

async function thumbs() {
  const runDir = join(TMP, 'thumbs');
  mkdirSync(runDir, { recursive: true });
  const server = await startPlinth(runDir);
  const c = flags['thumb-concurrency'];
  const rows = [];
  try {
    const created = await api(
      server.baseUrl,
      'POST',
      '/api/collections',
      {
        name: 'images',
        type: 'base',
        listRule: '',
        viewRule: '',
        createRule: '',
        fields: [{ name: 'image', type: 'file', maxSelect: 1, maxSize: 50 * MIB, thumbs: THUMBS.slice(1) }],
      },
      server.adminHeaders,
    );
    if (created.status !== 200) throw new Error(`images: ${created.status} ${created.text.slice(0, 300)}`);
    const collectionId = (created.json as { id: string }).id;
    for (const format of String(flags['thumb-formats']).split(',') as ('jpeg' | 'png')[]) {
      const count = Number(flags.images);
      const images = await Promise.all(Array.from({ length: count }, () => image(format)));
      const avgBytes = images.reduce((sum, b) => sum + b.length, 0) / images.length;
      log(`thumbs ${format}: ${count} images of 2000×1500, ${round(avgBytes / MIB, 2)} MiB on average`);
      const made: Measure[] = [];
      const served: Measure[] = [];
      for (let r = 0; r < Number(flags.rounds); r++) {
        // New records each round: their thumbnails do not exist yet.
        const records: { id: string; image: string }[] = [];
        for (const [i, bytes] of images.entries()) {
          const form = new FormData();
          const type = format === 'jpeg' ? 'image/jpeg' : 'image/png';
          form.append('image', new Blob([new Uint8Array(bytes)], { type }), `photo${i}.${format}`);
          const res = await fetch(`${server.baseUrl}/api/collections/images/records`, {
            method: 'POST',
            body: form,
          });
          if (res.status !== 200) throw new Error(`image upload: ${res.status} ${await res.text()}`);
          records.push((await res.json()) as { id: string; image: string });
        }
        // Size by size, so that the requests at once are for different images.
        const list = targets(
          THUMBS.flatMap((size) =>
            records.map((rec) => ({
              url: `${server.baseUrl}/api/files/${collectionId}/${rec.id}/${rec.image}?thumb=${size}`,
              expect: `filename="${size}_`,
            })),
          ),
        );
        const n = String(THUMBS.length * records.length);
        const pid = server.pid as number;
        made.push(
          (
            await measure(
              pid,
              ['--mode', 'get', '--targets', list, '--concurrency', c, '--count', n],
              (x) => x.bytesReceived,
              `thumbs ${format} first ${n} round ${r + 1}`,
            )
          ).m,
        );
        served.push(
          (
            await measure(
              pid,
              ['--mode', 'get', '--targets', list, '--concurrency', c, '--duration', flags.duration],
              (x) => x.bytesReceived,
              `thumbs ${format} stored round ${r + 1}`,
            )
          ).m,
        );
      }
      rows.push({
        format,
        images: count,
        sizes: THUMBS,
        avgSourceMib: round(avgBytes / MIB, 2),
        concurrency: Number(c),
        made: summarize(made),
        served: summarize(served),
      });
    }
    return rows;
  } finally {
    await server.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------

mkdirSync(TMP, { recursive: true });
process.on('SIGINT', () => {
  rmSync(TMP, { recursive: true, force: true });
  process.exit(130);
});
const fs = statfsSync(TMP);
const freeGb = (fs.bavail * fs.bsize) / 1e9;
const need = Math.max(...numbers(flags['memory-sizes']), 0) * Number(flags['memory-concurrency']) * 2 * 1.05;
if (freeGb * 1000 < need)
  log(`warning: ${round(freeGb)} GB free under ${TMP}; the memory part needs ~${need} MB`);
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  engine: flags.engine,
  loadAverageAtStart: loadavg().map((x) => round(x, 2)),
  loadAverageAtEnd: [] as number[],
  throughput: [] as Awaited<ReturnType<typeof throughput>>,
  memory: [] as Awaited<ReturnType<typeof memoryRun>>[],
  thumbs: [] as Awaited<ReturnType<typeof thumbs>>,
};
try {
  if (only.has('memory'))
    for (const mib of numbers(flags['memory-sizes'])) {
      const src = source(mib);
      for (const which of ['plinth', 'baseline'] as const)
        report.memory.push(await memoryRun(mib, which, src));
      rmSync(src, { force: true });
    }
  if (only.has('throughput'))
    for (const mib of numbers(flags.sizes)) report.throughput.push(...(await throughput(mib)));
  if (only.has('thumbs')) report.thumbs = await thumbs();
} finally {
  if (flags.engine === 'postgres') await dropBenchDatabases();
  if (!flags.keep) rmSync(TMP, { recursive: true, force: true });
}
report.loadAverageAtEnd = loadavg().map((x) => round(x, 2));

if (flags.json) console.log(JSON.stringify(report, null, 2));
else {
  const lines: string[] = [];
  lines.push(
    `load average at start ${report.loadAverageAtStart.join(' ')}, at end ${report.loadAverageAtEnd.join(' ')}`,
  );
  if (report.throughput.length) {
    lines.push(
      '',
      '| size | op | plinth req/s (min–max) | plinth MiB/s | baseline req/s (min–max) | baseline MiB/s | ratio (rounds) | CPU ms/req plinth / baseline | p50 ms plinth / baseline | MiB written/req plinth / baseline |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const t of report.throughput)
      lines.push(
        `| ${t.sizeMib} MiB | ${t.op} | ${t.plinth.medianRps} (${t.plinth.minRps}–${t.plinth.maxRps}) | ${t.plinth.medianMibps} | ` +
          `${t.baseline.medianRps} (${t.baseline.minRps}–${t.baseline.maxRps}) | ${t.baseline.medianMibps} | ${t.ratio} (${t.roundRatios.join(', ')}) | ` +
          `${t.plinth.medianCpuMsPerRequest} / ${t.baseline.medianCpuMsPerRequest} | ${t.plinth.medianP50} / ${t.baseline.medianP50} | ` +
          `${t.plinth.medianWrittenMibPerRequest} / ${t.baseline.medianWrittenMibPerRequest} |`,
      );
  }
  if (report.memory.length) {
    lines.push(
      '',
      '| server | uploads at once | in flight | idle RSS | upload peak | download peak | peak − idle | after | VmHWM | upload s / download s | written while uploading | health p50 / max ms, uploading | downloading |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const m of report.memory)
      lines.push(
        `| ${m.server} | ${m.concurrency} × ${m.sizeMib} MiB | ${m.inFlightMib} MiB | ${m.idleRss} MB | ${m.uploadPeakRss} MB | ` +
          `${m.downloadPeakRss} MB | ${Math.max(m.uploadPeakRss, m.downloadPeakRss) - m.idleRss} MB | ${m.afterDownloadRss} MB | ${m.vmHwm} MB | ` +
          `${m.uploadSeconds} / ${m.downloadSeconds} | ${m.uploadWrittenMib} MiB | ` +
          `${m.healthDuringUploadMs.p50} / ${m.healthDuringUploadMs.max} | ${m.healthDuringDownloadMs.p50} / ${m.healthDuringDownloadMs.max} |`,
      );
  }
  if (report.thumbs.length) {
    lines.push(
      '',
      '| format | source | thumbs per round | made/s (min–max) | CPU ms per thumb | stored served/s (min–max) | p50 ms made / served |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const t of report.thumbs)
      lines.push(
        `| ${t.format} | 2000×1500, ${t.avgSourceMib} MiB | ${t.images} × ${t.sizes.length} | ${t.made.medianRps} (${t.made.minRps}–${t.made.maxRps}) | ` +
          `${t.made.medianCpuMsPerRequest} | ${t.served.medianRps} (${t.served.minRps}–${t.served.maxRps}) | ${t.made.medianP50} / ${t.served.medianP50} |`,
      );
  }
  console.log(lines.join('\n'));
}
