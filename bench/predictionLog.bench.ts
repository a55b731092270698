// Prediction logging throughput: requests a team's own serving system answered, through the API's batch
// path (POST /models/{name}/predictions, serving.logPredictions) into PostgreSQL, against `psql \copy` of
// the same rows into predictions on the same machine and database. Needs DATABASE_URL (PostgreSQL) and psql.
//   DATABASE_URL=postgres://... npx tsx bench/predictionLog.bench.ts [--rows 1000000]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { createApiClient } from '../api/client';
import { issueToken } from '../db/tokens';
import { startApiServer } from '../api/server';
import { openDb } from '../db/index';
import { models, modelVersions } from '../db/schema';
import { benchArgs } from './args';

const BATCH = 10_000;
/** Two senders at once, as two serving processes would be (the machine has two cores). */
const CONCURRENCY = 2;

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('prediction log bench skipped: set DATABASE_URL to a PostgreSQL database (PGlite is not the production path)');
  process.exit(0);
}
const { rows } = benchArgs(process.argv.slice(2), { rows: [1_000_000] });
const n = rows[0]!;

const opened = await openDb({ url });
const db = opened.db;
async function newModel(name: string) {
  const [m] = await db.insert(models).values({ name, createdBy: 'bench' }).returning();
  // In production: a version that serves, so the log is accepted.
  const [v] = await db
    .insert(modelVersions)
    .values({ modelId: m!.id, version: 1, trainer: 'bench', params: {}, artifact: new Uint8Array([0]), artifactHash: 'sha256:bench', status: 'production' })
    .returning();
  return { modelId: m!.id, versionId: v!.id };
}

const stamp = Date.now().toString(36);
const apiModel = `bench-log-api-${stamp}`;
const copyModel = `bench-log-copy-${stamp}`;
await newModel(apiModel);
const copyTarget = await newModel(copyModel);
const token = (await issueToken(db, { subject: 'bench-serving', role: 'ingest', createdBy: 'bench' })).token;
// Logging never reaches Temporal; a lazy client that never connects is enough for the API.
const api = await startApiServer({ db, temporal: new Client(), namespace: 'default', taskQueues: { control: 'control', training: 'training' }, defaultApprovalTimeoutSeconds: 60 });
const client = createApiClient(api.url, token);

const occurredAt = '2026-11-20T10:00:00.000Z';
/** What a serving system logs per request: its id, the version that answered, the score and decision, the slices. */
const request = (i: number) => {
  const score = ((i * 7919) % 10_000) / 10_000;
  return {
    requestId: `req-${i}`,
    version: 1,
    score,
    decision: (score >= 0.5 ? 1 : 0) as 0 | 1,
    attributes: { sender_tld: i % 3 === 0 ? 'country_code' : 'generic' },
    occurredAt,
  };
};

// API path.
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const start = next;
      next += BATCH;
      if (start >= n) return;
      const requests = Array.from({ length: Math.min(BATCH, n - start) }, (_, k) => request(start + k));
      const r = await client.serving.logPredictions.mutate({ name: apiModel, requests });
      if (r.logged !== requests.length) throw new Error(`batch at ${start}: logged ${r.logged} of ${requests.length}`);
    }
  }),
);
const apiMs = performance.now() - t0;

// psql \copy of the same rows (same columns, same values) into the other model.
const dir = mkdtempSync(join(tmpdir(), 'prediction-log-bench-'));
const file = join(dir, 'predictions.csv');
const lines: string[] = [];
for (let i = 0; i < n; i++) {
  const r = request(i);
  const attrs = JSON.stringify(r.attributes).replace(/"/g, '""');
  lines.push(`${copyTarget.modelId},${copyTarget.versionId},${r.requestId},,${r.score},${r.decision},0,"${attrs}",${occurredAt},bench-serving`);
}
writeFileSync(file, lines.join('\n'));
const copyCommand = `\\copy predictions (model_id, version_id, request_id, example_external_id, score, decision, abstained, attributes, occurred_at, logged_by) from '${file}' with (format csv)`;
const t1 = performance.now();
const copy = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', copyCommand], { encoding: 'utf8' });
const copyMs = performance.now() - t1;
rmSync(dir, { recursive: true, force: true });
if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`);

await api.close();
await opened.close();
const rate = (ms: number) => Math.round(n / (ms / 1000));
console.log(`prediction logging, ${n.toLocaleString('en-US')} requests into PostgreSQL (batches of ${BATCH}, ${CONCURRENCY} senders)`);
console.log(`  API batch path   ${(apiMs / 1000).toFixed(1)} s   ${rate(apiMs).toLocaleString('en-US')} requests/s`);
console.log(`  psql \\copy       ${(copyMs / 1000).toFixed(1)} s   ${rate(copyMs).toLocaleString('en-US')} requests/s`);
console.log(`  API / copy rate  ${(copyMs / apiMs).toFixed(2)}  (target >= 0.9)`);
