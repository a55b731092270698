// Snapshot export: a frozen training split read through the data plane (GET
// /api/trainer/snapshots/{id}/examples, NDJSON over HTTP, as a trainer reads it) against `psql \copy` of
// the same rows as the same JSON lines, same machine, same database, both timed by this process. The API
// server runs in a child process of its own (this file again, with SNAPSHOT_EXPORT_BENCH_SERVE=1), so the
// reader does not share its event loop and its RSS is the server's alone: sampled while it streams the
// split (the route holds a chunk of rows at a time, never the split) and while it serves a nested subset
// (fraction 0.5), which has to order every member's external id first. Needs DATABASE_URL (PostgreSQL)
// and psql.
//   DATABASE_URL=postgres://... npx tsx bench/snapshotExport.bench.ts [--rows 1000000] [--repeat 3]
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import { openDb } from '../db/index';
import { datasetSnapshots, models } from '../db/schema';
import { issueToken } from '../db/tokens';
import { isApiChild, serveAsApiChild, startApiChild } from './apiChild';
import { benchArgs } from './args';
import { exampleLinesQuery, psqlCopyOut, rssOf } from './runMeasure';

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('snapshot export bench skipped: set DATABASE_URL to a PostgreSQL database (PGlite is not the production path)');
  process.exit(0);
}

if (isApiChild('SNAPSHOT_EXPORT_BENCH_SERVE')) await serveAsApiChild(url);
else await bench(url);

async function bench(url: string) {
  const { rows, repeat } = benchArgs(process.argv.slice(2), { rows: [1_000_000] });
  const n = rows[0]!;

  const opened = await openDb({ url });
  const db = opened.db;
  const stamp = Date.now().toString(36);
  const [model] = await db.insert(models).values({ name: `bench-export-${stamp}`, createdBy: 'bench' }).returning();
  const [snapshot] = await db.insert(datasetSnapshots).values({ modelId: model!.id, runId: `bench-export-${stamp}`, contentHash: 'sha256:bench', trainCount: n, heldoutCount: 0 }).returning();
  const snapshotId = snapshot!.id;

  // Tabular-ish inputs, 14 fields of every kind (numbers, categories, text, booleans, a missing value), made in the database.
  const t0 = performance.now();
  await db.execute(sql`
    with made as (
      insert into examples (model_id, external_id, input, split)
      select ${model!.id}, 'row-' || i,
        jsonb_build_object(
          'age', 17 + i % 74, 'workclass', (array['private','self-emp','federal-gov','local-gov'])[1 + i % 4],
          'fnlwgt', (i::bigint * 7919) % 1000000, 'education', (array['bachelors','hs-grad','masters','doctorate','some-college'])[1 + i % 5],
          'education_num', 1 + i % 16, 'marital_status', (array['married','never-married','divorced'])[1 + i % 3],
          'occupation', 'occ-' || (i % 14), 'relationship', (array['husband','wife','own-child','unmarried'])[1 + i % 4],
          'race', 'race-' || (i % 5), 'sex', (array['female','male'])[1 + i % 2], 'capital_gain', round(((i * 31) % 100000) / 7.0, 2),
          'hours_per_week', 1 + i % 99, 'native_country', case when i % 50 = 0 then null else 'country-' || (i % 41) end, 'is_weekend', i % 7 >= 5)
        , 'train'
      from generate_series(1, ${n}) i
      returning id)
    insert into dataset_snapshot_members (snapshot_id, example_id, split, label)
    select ${snapshotId}, id, 'train', (id % 3 = 0)::int from made`);
  await db.execute(sql`analyze examples`);
  await db.execute(sql`analyze dataset_snapshot_members`);
  console.log(`inserted ${n.toLocaleString('en-US')} examples into snapshot ${snapshotId} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const token = (await issueToken(db, { subject: `bench-trainer-${stamp}`, role: 'trainer', createdBy: 'bench' })).token;
  const server = await startApiChild(fileURLToPath(import.meta.url), 'SNAPSHOT_EXPORT_BENCH_SERVE');
  const apiUrl = server.url;
  const rssOfServer = () => rssOf(server.process.pid!);

  interface Read {
    ms: number;
    bytes: number;
    lines: number;
    peakRss: number;
  }

  /** The server process's RSS, sampled every 20 ms while `f` runs. */
  async function withPeakRss<T>(f: () => Promise<T>): Promise<{ value: T; peakRss: number }> {
    let peak = rssOfServer();
    const timer = setInterval(() => (peak = Math.max(peak, rssOfServer())), 20);
    try {
      const value = await f();
      return { value, peakRss: Math.max(peak, rssOfServer()) };
    } finally {
      clearInterval(timer);
    }
  }

  /** One GET through the endpoint, counting bytes and lines as they arrive (nothing kept). */
  function getOnce(query: string): Promise<Read> {
    return withPeakRss(
      () =>
        new Promise<Omit<Read, 'peakRss'>>((resolve, reject) => {
          const start = performance.now();
          http
            .get(`${apiUrl}/api/trainer/snapshots/${snapshotId}/examples?${query}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
              if (res.statusCode !== 200) return reject(new Error(`GET answered ${res.statusCode}`));
              let bytes = 0;
              let lines = 0;
              res.on('data', (c: Buffer) => {
                bytes += c.length;
                for (let at = c.indexOf(10); at >= 0; at = c.indexOf(10, at + 1)) lines++;
              });
              res.on('end', () => resolve({ ms: performance.now() - start, bytes, lines }));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
    ).then(({ value, peakRss }) => ({ ...value, peakRss }));
  }

  /** The same lines as the endpoint writes them (db/trainerData exampleLineSql), in the same order, by psql \copy. */
  const copyOnce = (): Promise<Read> => psqlCopyOut(url, exampleLinesQuery(snapshotId, 'train')).then((r) => ({ ...r, peakRss: 0 }));

  async function bestOf(f: () => Promise<Read>): Promise<Read> {
    await f(); // warm-up: caches, JIT
    let best: Read | null = null;
    let peakRss = 0;
    for (let r = 0; r < repeat; r++) {
      const read = await f();
      if (read.lines !== n && read.lines !== subsetRows) throw new Error(`read ${read.lines} lines`);
      peakRss = Math.max(peakRss, read.peakRss);
      if (!best || read.ms < best.ms) best = read;
    }
    return { ...best!, peakRss };
  }

  const subsetRows = Math.max(1, Math.round(0.5 * n));
  const rssBefore = rssOfServer();
  const viaApi = await bestOf(() => getOnce('split=train'));
  const viaCopy = await bestOf(copyOnce);
  const subset = await bestOf(() => getOnce('split=train&fraction=0.5&seed=1'));

  server.close();
  await db.execute(sql`delete from dataset_snapshot_members where snapshot_id = ${snapshotId}`);
  await db.execute(sql`delete from dataset_snapshots where id = ${snapshotId}`);
  await db.execute(sql`delete from examples where model_id = ${model!.id}`);
  await db.execute(sql`delete from models where id = ${model!.id}`);
  await opened.close();

  const mb = (bytes: number) => bytes / 1e6;
  const line = (what: string, r: Read) =>
    `  ${what.padEnd(26)} ${(r.ms / 1000).toFixed(2).padStart(6)} s  ${Math.round(r.lines / (r.ms / 1000))
      .toLocaleString('en-US')
      .padStart(10)} rows/s  ${(mb(r.bytes) / (r.ms / 1000)).toFixed(1).padStart(6)} MB/s  (${mb(r.bytes).toFixed(0)} MB)`;
  console.log(`snapshot export, ${n.toLocaleString('en-US')} training rows of 14 fields (best of ${repeat}, after a warm-up)`);
  console.log(line('GET .../examples (NDJSON)', viaApi));
  console.log(line('psql \\copy to stdout', viaCopy));
  console.log(`  API / copy rate            ${(viaCopy.ms / viaApi.ms).toFixed(2)}`);
  console.log(line('GET nested subset f=0.5', subset));
  console.log(`  server RSS: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before; peak ${(viaApi.peakRss / 2 ** 20).toFixed(0)} MiB streaming the split, ${(subset.peakRss / 2 ** 20).toFixed(0)} MiB serving the subset`);
}
