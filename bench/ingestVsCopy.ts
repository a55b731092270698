// What the ingest benchmarks share: a PostgreSQL database with two models (each with a serving version 1),
// the API served in this process with an ingest token, `CONCURRENCY` senders of `BATCH`-row batches through
// the API's batch path into one model, then `psql \copy` of the same rows (a CSV line each) into the other,
// and the rates side by side. Needs DATABASE_URL (PostgreSQL) and psql.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { createApiClient, type ApiClient } from '../api/client';
import { issueToken } from '../db/tokens';
import { startApiServer } from '../api/server';
import { openDb } from '../db/index';
import { models, modelVersions } from '../db/schema';
import { benchArgs } from './args';

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

export async function ingestVsCopy(bench: IngestBench): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.log(`${bench.what} bench skipped: set DATABASE_URL to a PostgreSQL database (PGlite is not the production path)`);
    return;
  }
  const n = benchArgs(process.argv.slice(2), { rows: [1_000_000] }).rows[0]!;
  const opened = await openDb({ url });
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
  const client = createApiClient(api.url, token);

  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (;;) {
        const start = next;
        next += BATCH;
        if (start >= n) return;
        const count = Math.min(BATCH, n - start);
        const stored = await bench.send(client, apiModel, start, count);
        if (stored !== count) throw new Error(`batch at ${start}: stored ${stored} of ${count}`);
      }
    }),
  );
  const apiMs = performance.now() - t0;

  const dir = mkdtempSync(join(tmpdir(), `${bench.tag}-bench-`));
  const file = join(dir, 'rows.csv');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) lines.push(bench.csvLine(i, copyTarget));
  writeFileSync(file, lines.join('\n'));
  const t1 = performance.now();
  const copy = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${bench.copyInto} from '${file}' with (format csv)`], { encoding: 'utf8' });
  const copyMs = performance.now() - t1;
  rmSync(dir, { recursive: true, force: true });
  await api.close();
  await opened.close();
  if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`);

  const rate = (ms: number) => Math.round(n / (ms / 1000)).toLocaleString('en-US');
  console.log(`${bench.what}, ${n.toLocaleString('en-US')} ${bench.unit} into PostgreSQL (batches of ${BATCH}, ${CONCURRENCY} senders)`);
  console.log(`  API batch path   ${(apiMs / 1000).toFixed(1)} s   ${rate(apiMs)} ${bench.unit}/s`);
  console.log(`  psql \\copy       ${(copyMs / 1000).toFixed(1)} s   ${rate(copyMs)} ${bench.unit}/s`);
  console.log(`  API / copy rate  ${(copyMs / apiMs).toFixed(2)}  (target >= 0.9)`);
}

/** A JSON value as one CSV field. */
export const csvJson = (v: unknown) => `"${JSON.stringify(v).replace(/"/g, '""')}"`;
