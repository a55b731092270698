/**
 * The built-in trainer's reading of its training data, alone: `jobs` trainer.train activities at once
 * (MockActivityEnvironment, the real thread pool) on `rows` rows from an in-process HTTP server that
 * writes pre-rendered NDJSON (so serving costs next to nothing, and what the event loop does while it
 * writes is the trainer's), `rounds` times. Reports each response's server-side time (request to
 * finish, as bench/millionRun.bench.ts times the export), the event loop's delay meanwhile, peak RSS,
 * RSS after each round, and the main thread's heap; and the artifacts' hashes (the same seeds give the
 * same artifacts whatever the trainer's code reads them with).
 *
 *   npx tsx bench/trainerRead.bench.ts [rows 800000] [jobs 1] [rounds 1]
 *
 * The rows are millionRun's texts (its 1M examples' training split is some 800k rows, 71 MB of NDJSON).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createBuiltinTrainer } from '../trainers/builtin';
import { closeTrainingPool } from '../trainers/threadPool';
import { BINARY_LABELS, CONTRACT_VERSION, type TrainOutput } from '../trainers/contract';

const n = Number(process.argv[2] ?? 800_000);
const parallel = Number(process.argv[3] ?? 1); // jobs at once
const rounds = Number(process.argv[4] ?? 1);
const rssAfterRound: string[] = [];
const parts: Buffer[] = [];
for (let i = 1; i <= n; i += 10_000) {
  let s = '';
  for (let j = i; j < Math.min(n + 1, i + 10_000); j++) {
    const h = (j * 2654435761) % 4294967296;
    s += JSON.stringify({ exampleId: j, externalId: `row-${j}`, input: { text: `w${j % 97} w${(j * 31) % 89} ${h % 100 < 40 ? 'free' : 'notes'}` }, label: h % 100 < 40 ? 1 : 0 }) + '\n';
  }
  parts.push(Buffer.from(s));
}
const served: { from: number; to: number }[] = [];
const server = createServer(async (req, res) => {
  const r = { from: Date.now(), to: 0 };
  served.push(r);
  res.on('finish', () => (r.to = Date.now()));
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  for (const p of parts) for (let o = 0; o < p.length; o += 65536) if (!res.write(p.subarray(o, o + 65536))) await new Promise((ok) => res.once('drain', ok));
  res.end();
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
// Bytes served as the data plane would: the store's PUT answers { uri, size }.
const store = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ uri: `retrain-store:${req.url!.split('/').pop()}`, size: 0 })));
});
await new Promise<void>((ok) => store.listen(0, '127.0.0.1', ok));
const storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}/api/trainer/artifacts`;

if (global.gc) global.gc();
const base = process.memoryUsage();
let peakRss = 0;
let peakHeap = 0;
const sample = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}, 50);
const eld = monitorEventLoopDelay({ resolution: 10 });
eld.enable();
const trainer = createBuiltinTrainer({ token: () => 't', apiUrl: () => url });
const t0 = Date.now();
let out: TrainOutput[] = [];
for (let round = 0; round < rounds; round++) {
  out = await Promise.all(
    Array.from({ length: parallel }, (_, k) =>
      new MockActivityEnvironment().run<[Parameters<(typeof trainer)['trainer.train']>[0]], TrainOutput, (typeof trainer)['trainer.train']>(trainer['trainer.train'], {
        contractVersion: CONTRACT_VERSION,
        jobKey: `k${k}`,
        model: { id: 1, name: 'm', features: null, labelSet: BINARY_LABELS },
        params: { epochs: 1, dimsLog2: 16 },
        seed: 1 + k,
        data: { train: { url: `${url}/x`, rows: n, labelled: true } },
        artifactStore: { url: storeUrl },
      }),
    ),
  );
  rssAfterRound.push((process.memoryUsage().rss / 2 ** 30).toFixed(2));
}
const wall = Date.now() - t0;
eld.disable();
clearInterval(sample);
const after = process.memoryUsage();
const gib = (b: number) => (b / 2 ** 30).toFixed(2);
console.log(
  JSON.stringify({
    rows: n,
    parallel,
    ndjsonMB: +(parts.reduce((s, p) => s + p.length, 0) / 1e6).toFixed(1),
    wallS: wall / 1000,
    serveS: served.map((r) => (r.to - r.from) / 1000),
    eventLoopDelayMs: { p50: eld.percentile(50) / 1e6, p99: +(eld.percentile(99) / 1e6).toFixed(1), max: +(eld.max / 1e6).toFixed(1) },
    rssGiB: { before: gib(base.rss), peak: gib(peakRss), after: gib(after.rss) },
    mainHeapGiB: { before: gib(base.heapUsed), peak: gib(peakHeap), after: gib(after.heapUsed) },
    rssAfterRound,
    artifacts: out.map((o) => o.artifact.sha256.slice(0, 19)),
  }),
);
await closeTrainingPool();
server.close();
store.close();
