// What the ingest benchmarks share: a database with two models (each with a serving version 1), the API
// served in this process with an ingest token, `CONCURRENCY` senders of `BATCH`-row batches through the
// API's batch path into one model (from a worker thread: a sender is a process of its own in production,
// so making and sending its requests does not take the API's thread, nor on PGlite the database's, which
// is the same one), then COPY of the same rows (a CSV line each) into the other, and the
// rates side by side. With DATABASE_URL: that PostgreSQL database, and the floor is `psql \copy` (psql on
// PATH). Without: the embedded default, PGlite in a folder of its own (deleted afterwards), and the floor
// is PGlite's own COPY FROM '/dev/blob' of the same CSV, in the same process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { Client } from '@temporalio/client';
import { Piscina } from 'piscina';
import { createApiClient, type ApiClient } from '../api/client';
import { issueToken } from '../db/tokens';
import { startApiServer } from '../api/server';
import { openDb } from '../db/index';
import { models, modelVersions } from '../db/schema';
import { benchArgs } from './args';
import { INGEST_BENCHES, type IngestBenchName } from './ingestBenches';

export const BATCH = 10_000;
/** Two senders at once, as two front-end or serving processes would be (the machine has two cores). */
export const CONCURRENCY = 2;

export interface IngestBench {
  /** Names the bench in its skip line and the first line it prints, e.g. 'feedback ingest'. */
  what: string;
  /** What a row is, e.g. 'events'. */
  unit: string;
  /** The model-name prefix, and the copy's temporary directory prefix. */
  tag: string;
  /** Sends rows [start, start + count) through the API into `model`; resolves to how many were stored. */
  send(client: ApiClient, model: string, start: number, count: number): Promise<number>;
  /** The target table and its columns, in the order of the CSV lines. */
  copyInto: string;
  /** Row i as a CSV line for `copyInto`, into the copy's model and version. */
  csvLine(i: number, target: { modelId: number; versionId: number }): string;
}

/** What the senders' worker thread is given. */
interface SenderWork {
  bench: IngestBenchName;
  apiUrl: string;
  token: string;
  model: string;
  rows: number;
}

/** The senders, in the worker thread: every batch through the API; the wall time from the first send to the last answer. */
export default async function send(work: SenderWork): Promise<number> {
  const bench = INGEST_BENCHES[work.bench];
  const client = createApiClient(work.apiUrl, work.token);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const start = next;
        next += BATCH;
        if (start >= work.rows) return;
        const count = Math.min(BATCH, work.rows - start);
        const stored = await bench.send(client, work.model, start, count);
        if (stored !== count) throw new Error(`batch at ${start}: stored ${stored} of ${count}`);
      }
    }),
  );
  return performance.now() - t0;
}

/** Runs the bench named. */
export async function ingestVsCopy(name: IngestBenchName): Promise<void> {
  const bench = INGEST_BENCHES[name];
  const url = process.env.DATABASE_URL;
  const n = benchArgs(process.argv.slice(2), { rows: [1_000_000] }).rows[0]!;
  const dir = mkdtempSync(join(tmpdir(), `${bench.tag}-bench-`));
  const opened = await openDb(url ? { url } : { pgliteDir: join(dir, 'pglite') });
  const db = opened.db;
  // In production: a version that serves, so what is sent is accepted.
  async function newModel(name: string) {
    const [m] = await db.insert(models).values({ name, createdBy: 'bench' }).returning();
    const [v] = await db
      .insert(modelVersions)
      .values({ modelId: m!.id, version: 1, trainer: 'bench', params: {}, artifact: new Uint8Array([0]), artifactHash: 'sha256:bench', status: 'production' })
      .returning();
    return { modelId: m!.id, versionId: v!.id };
  }
  const stamp = Date.now().toString(36);
  const apiModel = `${bench.tag}-api-${stamp}`;
  await newModel(apiModel);
  const copyTarget = await newModel(`${bench.tag}-copy-${stamp}`);
  const token = (await issueToken(db, { subject: `${bench.tag}-ingest`, role: 'ingest', createdBy: 'bench' })).token;
  // Ingest never reaches Temporal; a lazy client that never connects is enough for the API.
  const api = await startApiServer({ db, temporal: new Client(), namespace: 'default', taskQueues: { control: 'control', training: 'training' }, defaultApprovalTimeoutSeconds: 60 });
  // One thread for the senders, loaded as the training threads are (piscina; tsx's loader reaches it).
  const senders = new Piscina({ filename: new URL(import.meta.url).href, minThreads: 1, maxThreads: 1 });
  const apiMs = (await senders.run({ bench: name, apiUrl: api.url, token, model: apiModel, rows: n } satisfies SenderWork)) as number;
  await senders.destroy();

  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(bench.csvLine(i, copyTarget));
  const csv = lines.join('\n');
  lines.length = 0;
  let copyMs: number;
  let failed: string | null = null;
  if (url) {
    const file = join(dir, 'rows.csv');
    writeFileSync(file, csv);
    const t1 = performance.now();
    const copy = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${bench.copyInto} from '${file}' with (format csv)`], { encoding: 'utf8' });
    copyMs = performance.now() - t1;
    if (copy.status !== 0) failed = `psql \\copy failed: ${copy.stderr}`;
  } else {
    // PGlite's COPY reads a Blob handed to the query through its virtual /dev/blob device.
    const pglite = (opened.db as unknown as { $client: PGlite }).$client;
    const blob = new Blob([csv]);
    const t1 = performance.now();
    await pglite.query(`copy ${bench.copyInto} from '/dev/blob' with (format csv)`, [], { blob });
    copyMs = performance.now() - t1;
  }
  await api.close();
  await opened.close();
  rmSync(dir, { recursive: true, force: true });
  if (failed) throw new Error(failed);

  const rate = (ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
  const floorName = url ? 'psql \\copy ' : 'PGlite COPY';
  console.log(`${bench.what}, ${n.toLocaleString('en-US')} ${bench.unit} into ${url ? 'PostgreSQL' : 'PGlite (a folder)'} (batches of ${BATCH}, ${CONCURRENCY} senders in a worker thread)`);
  console.log(`  API batch path   ${(apiMs / 1000).toFixed(1)} s   ${rate(apiMs)} ${bench.unit}/s`);
  console.log(`  ${floorName}      ${(copyMs / 1000).toFixed(1)} s   ${rate(copyMs)} ${bench.unit}/s`);
  console.log(`  API / copy rate  ${(copyMs / apiMs).toFixed(2)}  (target >= 0.9)`);
}

