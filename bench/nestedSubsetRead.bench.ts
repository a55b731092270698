// Nested subset reads against the id-order read of the same training split (issue #17): the data plane's
// GET /api/trainer/snapshots/{id}/examples?fraction=F&seed=S (and the ablation and recency variants) per
// row, beside ?split=train in exampleId order, one read at a time, on an otherwise idle machine. The API
// server runs in a child process (this file again, NESTED_SUBSET_BENCH_SERVE=1), so its RSS is its own,
// sampled every 20 ms during each read. Each answer's sha256 is printed, taken over its lines with each
// exampleId made relative to the model's first (the rows get new ids each run, in the same order): the
// same --rows gives the same hashes under any version of the route that serves the same bytes. During the
// id-order read and the first read of a seed (which orders the split), /healthz is asked every 10 ms, one
// request at a time: its answer times are how long the API kept every other caller waiting meanwhile.
// Needs DATABASE_URL (PostgreSQL); the rows go into a model of their own and are deleted afterwards.
//   DATABASE_URL=postgres://... npx tsx bench/nestedSubsetRead.bench.ts [--rows 1000000]
//
// The rows are the million-run bench's shape (a short text, a label, two slices, a fifth held out by a
// multiplicative hash), dated one second apart (so the recency halves have rows), with an annotation
// batch over every twentieth training row (the ablation's excludeBatch).
import { createHash } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { openDb } from '../db/index';
import { resultRows } from '../db/queries';
import { datasetSnapshots, models } from '../db/schema';
import { issueToken } from '../db/tokens';
import { isApiChild, serveAsApiChild, startApiChild } from './apiChild';
import { benchArgs } from './args';
import { rssOf } from './runMeasure';

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('nested subset read bench skipped: set DATABASE_URL to a PostgreSQL database');
  process.exit(0);
}

if (isApiChild('NESTED_SUBSET_BENCH_SERVE')) await serveAsApiChild(url);
else await bench(url);

async function bench(url: string) {
  const n = benchArgs(process.argv.slice(2), { rows: [1_000_000] }).rows[0]!;
  const opened = await openDb({ url });
  const db = opened.db;
  const stamp = Date.now().toString(36);
  const [model] = await db.insert(models).values({ name: `bench-nested-${stamp}`, createdBy: 'bench' }).returning();
  const modelId = model!.id;
  const [snapshot] = await db
    .insert(datasetSnapshots)
    .values({ modelId, runId: `bench-nested-${stamp}`, contentHash: 'sha256:bench', trainCount: 0, heldoutCount: 0, asOf: new Date('2026-03-01T00:00:00Z') })
    .returning();
  const snapshotId = snapshot!.id;
  const batchId = `bench-nested-${stamp}`;
  const t0 = performance.now();
  await db.execute(sql`
    insert into examples (model_id, external_id, input, label, slices, split, observed_at)
    select ${modelId}, 'row-' || i,
      jsonb_build_object('text', 'w' || (i % 97) || ' w' || ((i * 31) % 89) || ' ' || (array['free','offer','meeting','notes'])[1 + i % 4]),
      ((i::bigint * 2654435761) % 4294967296 % 100 < 40)::int,
      jsonb_build_object('sender_tld', (array['generic','country_code','edu'])[1 + i % 3], 'lang', (array['en','de','fr','es'])[1 + (i / 3) % 4]),
      case when ((i::bigint * 2654435761) % 4294967296 / 1000) % 5 = 0 then 'heldout' else 'train' end,
      timestamptz '2026-01-01' + i * interval '1 second'
    from generate_series(1, ${n}) i`);
  await db.execute(sql`insert into dataset_snapshot_members (snapshot_id, example_id, split, label) select ${snapshotId}, id, split, label from examples where model_id = ${modelId}`);
  await db.execute(sql`insert into annotation_batches (id, model_id, spec_version, overlap, gold_share, deadline, created_by) values (${batchId}, ${modelId}, 1, 1, 0, now(), 'bench')`);
  await db.execute(sql`
    with t as (
      insert into annotation_tasks (batch_id, example_id, stratum, inclusion_probability)
      select ${batchId}, example_id, 'remainder', 1 from dataset_snapshot_members where snapshot_id = ${snapshotId} and split = 'train' and example_id % 20 = 0
      returning id, example_id)
    insert into aggregated_labels (task_id, batch_id, example_id, label, posterior, method, label_count) select id, ${batchId}, example_id, 1, 0.9, 'dawid_skene', 1 from t`);
  await db.execute(sql`analyze examples`);
  await db.execute(sql`analyze dataset_snapshot_members`);
  const [train] = resultRows<{ n: number }>(await db.execute(sql`select count(*)::int as n from dataset_snapshot_members where snapshot_id = ${snapshotId} and split = 'train'`));
  const sizes = resultRows<{ rel: string; size: string }>(
    await db.execute(sql`select relname as rel, pg_size_pretty(pg_relation_size(oid)) as size from pg_class where relname in ('examples', 'dataset_snapshot_members', 'examples_pkey', 'dataset_snapshot_members_snapshot_id_example_id_pk')`),
  );
  const [buffers] = resultRows<{ v: string }>(await db.execute(sql`select current_setting('shared_buffers') as v`));
  console.log(`made ${n.toLocaleString('en-US')} examples (${train!.n.toLocaleString('en-US')} training members) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`  sizes: ${sizes.map((s) => `${s.rel} ${s.size}`).join(', ')}; shared_buffers ${buffers!.v}`);

  const [first] = resultRows<{ id: number }>(await db.execute(sql`select min(id)::int as id from examples where model_id = ${modelId}`));
  const firstId = first!.id;
  const token = (await issueToken(db, { subject: `bench-nested-${stamp}`, role: 'trainer', createdBy: 'bench' })).token;
  const server = await startApiChild(fileURLToPath(import.meta.url), 'NESTED_SUBSET_BENCH_SERVE');
  const apiUrl = server.url;

  interface Read {
    query: string;
    ms: number;
    lines: number;
    bytes: number;
    sha256: string;
    peakRss: number;
  }
  function get(query: string): Promise<Read> {
    let peakRss = rssOf(server.process.pid!);
    const timer = setInterval(() => (peakRss = Math.max(peakRss, rssOf(server.process.pid!))), 20);
    return new Promise<Read>((resolve, reject) => {
      const start = performance.now();
      const hash = createHash('sha256');
      http
        .get(`${apiUrl}/api/trainer/snapshots/${snapshotId}/examples?${query}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`GET ${query} answered ${res.statusCode}`));
          let bytes = 0;
          let lines = 0;
          let carry = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            bytes += Buffer.byteLength(c);
            const text = carry + c;
            let from = 0;
            for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', from)) {
              const line = text.slice(from, at);
              const id = /^\{"exampleId":(\d+),/.exec(line);
              hash.update(id ? `{"exampleId":${Number(id[1]) - firstId},${line.slice(id[0].length)}\n` : `${line}\n`);
              lines++;
              from = at + 1;
            }
            carry = text.slice(from);
          });
          res.on('end', () => resolve({ query, ms: performance.now() - start, lines, bytes, sha256: hash.digest('hex').slice(0, 16), peakRss: Math.max(peakRss, rssOf(server.process.pid!)) }));
          res.on('error', reject);
        })
        .on('error', reject);
    }).finally(() => clearInterval(timer));
  }

  /** `read`, while /healthz is asked every 10 ms (one request at a time): the answers' times, ms. */
  async function probed<T>(read: () => Promise<T>): Promise<{ result: T; probes: number[] }> {
    const agent = new http.Agent({ keepAlive: true });
    const probes: number[] = [];
    let done = false;
    const probing = (async () => {
      while (!done) {
        const start = performance.now();
        await new Promise<void>((resolve, reject) => http.get(`${apiUrl}/healthz`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject));
        probes.push(performance.now() - start);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    try {
      return { result: await read(), probes };
    } finally {
      done = true;
      await probing;
      agent.destroy();
    }
  }
  const probeLine = (what: string, probes: number[]) => {
    const sorted = [...probes].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(0);
    return `  /healthz during ${what}: ${probes.length} answers, median ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms`;
  };

  const reads: Read[] = [];
  const rssBefore = rssOf(server.process.pid!);
  await get('split=train'); // warm-up: caches, JIT
  const idOrderProbed = await probed(() => get('split=train'));
  const idOrder = idOrderProbed.result;
  reads.push(idOrder);
  // The first read of a seed orders every member's external id (kept for the reads after it): shown on its own.
  const firstSeed = await probed(() => get('split=train&fraction=0.125&seed=1'));
  reads.push(firstSeed.result);
  for (const [q, page] of [
    ['split=train&fraction=1&seed=1', ''],
    ['split=train&fraction=0.5&seed=1', ''],
    ['split=train&fraction=0.125&seed=1', ''],
    ['split=train&fraction=1&seed=1', `&offset=${Math.floor(train!.n / 2)}&limit=${Math.floor(train!.n / 8)}`],
    [`split=train&fraction=1&seed=1&excludeBatch=${encodeURIComponent(batchId)}`, ''],
    ['split=train&fraction=1&seed=1&window=newest', ''],
  ] as const) {
    // The variant's order first (untimed), then the read itself.
    await get(`${q}&limit=1`);
    reads.push(await get(q + page));
  }

  server.close();
  await db.execute(sql`delete from aggregated_labels where batch_id = ${batchId}`);
  await db.execute(sql`delete from annotation_tasks where batch_id = ${batchId}`);
  await db.execute(sql`delete from annotation_batches where id = ${batchId}`);
  await db.execute(sql`delete from dataset_snapshot_members where snapshot_id = ${snapshotId}`);
  await db.execute(sql`delete from dataset_snapshots where id = ${snapshotId}`);
  await db.execute(sql`delete from examples where model_id = ${modelId}`);
  await db.execute(sql`delete from models where id = ${modelId}`);
  await opened.close();

  const perRow = (r: Read) => (r.ms * 1000) / Math.max(1, r.lines);
  console.log(`nested subset reads, ${n.toLocaleString('en-US')} examples; one read at a time through the API (child process); server RSS ${(rssBefore / 2 ** 20).toFixed(0)} MiB before`);
  console.log(`  ${'query'.padEnd(72)} ${'s'.padStart(6)} ${'rows'.padStart(8)} ${'us/row'.padStart(7)} ${'x id'.padStart(5)} ${'RSS MiB'.padStart(8)}  sha256`);
  for (const r of reads) {
    console.log(
      `  ${r.query.replace(batchId, '<batch>').padEnd(72)} ${(r.ms / 1000).toFixed(2).padStart(6)} ${String(r.lines).padStart(8)} ${perRow(r).toFixed(1).padStart(7)} ${(perRow(r) / perRow(idOrder)).toFixed(2).padStart(5)} ${(r.peakRss / 2 ** 20).toFixed(0).padStart(8)}  ${r.sha256}`,
    );
  }
  console.log('  (the first fraction=0.125 read includes ordering the seed; later reads of the seed find the order kept)');
  console.log(probeLine('the id-order read', idOrderProbed.probes));
  console.log(probeLine("the seed's first read (ordering it)", firstSeed.probes));
}
