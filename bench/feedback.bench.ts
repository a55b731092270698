// Feedback ingest throughput: events through the API's batch path into PostgreSQL, against `psql \copy`
// of the same rows on the same machine and database. Needs DATABASE_URL (PostgreSQL) and psql.
//   DATABASE_URL=postgres://... npx tsx bench/feedback.bench.ts [--rows 1000000]
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
/** Two senders at once, as two front-end processes would be (the machine has two cores). */
const CONCURRENCY = 2;

const url = process.env.DATABASE_URL;
if (!url) {
  console.log('feedback bench skipped: set DATABASE_URL to a PostgreSQL database (PGlite is not the production path)');
  process.exit(0);
}
const { rows } = benchArgs(process.argv.slice(2), { rows: [1_000_000] });
const n = rows[0]!;

const opened = await openDb({ url });
const db = opened.db;
async function newModel(name: string) {
  const [m] = await db.insert(models).values({ name, createdBy: 'bench' }).returning();
  const [v] = await db
    .insert(modelVersions)
    .values({ modelId: m!.id, version: 1, trainer: 'bench', params: {}, artifact: new Uint8Array([0]), artifactHash: 'sha256:bench', status: 'production' })
    .returning();
  return { modelId: m!.id, versionId: v!.id };
}

const stamp = Date.now().toString(36);
const apiModel = `bench-api-${stamp}`;
const copyModel = `bench-copy-${stamp}`;
await newModel(apiModel);
const copyTarget = await newModel(copyModel);
const token = (await issueToken(db, { subject: 'bench-ingest', role: 'ingest', createdBy: 'bench' })).token;
// Feedback never reaches Temporal; a lazy client that never connects is enough for the API.
const api = await startApiServer({ db, temporal: new Client(), namespace: 'default', taskQueues: { control: 'control', training: 'training' }, defaultApprovalTimeoutSeconds: 60 });
const client = createApiClient(api.url, token);

const occurredAt = '2026-11-20T10:00:00.000Z';
const event = (i: number) => ({
  kind: 'override' as const,
  action: 'not_spam' as const,
  idempotencyKey: `e-${i}`,
  version: 1,
  requestId: `req-${i}`,
  surface: 'inbox',
  position: i % 50,
  attributes: { sender_tld: i % 3 === 0 ? 'country_code' : 'generic' },
  occurredAt,
});

// API path.
let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    for (;;) {
      const start = next;
      next += BATCH;
      if (start >= n) return;
      const events = Array.from({ length: Math.min(BATCH, n - start) }, (_, k) => event(start + k));
      const r = await client.feedback.ingest.mutate({ model: apiModel, events });
      if (r.inserted !== events.length) throw new Error(`batch at ${start}: inserted ${r.inserted} of ${events.length}`);
    }
  }),
);
const apiMs = performance.now() - t0;

// psql \copy of the same rows (same columns, same values) into the other model.
const dir = mkdtempSync(join(tmpdir(), 'feedback-bench-'));
const file = join(dir, 'events.csv');
const lines: string[] = [];
for (let i = 0; i < n; i++) {
  const e = event(i);
  const attrs = JSON.stringify(e.attributes).replace(/"/g, '""');
  lines.push(`${copyTarget.modelId},${copyTarget.versionId},${e.idempotencyKey},${e.requestId},${e.kind},"{""action"":""not_spam""}",${e.surface},${e.position},"${attrs}",${occurredAt},bench-ingest`);
}
writeFileSync(file, lines.join('\n'));
const copyCommand = `\\copy feedback_events (model_id, version_id, idempotency_key, request_id, kind, value, surface, position, attributes, occurred_at, ingested_by) from '${file}' with (format csv)`;
const t1 = performance.now();
const copy = spawnSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-c', copyCommand], { encoding: 'utf8' });
const copyMs = performance.now() - t1;
rmSync(dir, { recursive: true, force: true });
if (copy.status !== 0) throw new Error(`psql \\copy failed: ${copy.stderr}`);

await api.close();
await opened.close();
const rate = (ms: number) => Math.round(n / (ms / 1000));
console.log(`feedback ingest, ${n.toLocaleString('en-US')} events into PostgreSQL (batches of ${BATCH}, ${CONCURRENCY} senders)`);
console.log(`  API batch path   ${(apiMs / 1000).toFixed(1)} s   ${rate(apiMs).toLocaleString('en-US')} events/s`);
console.log(`  psql \\copy       ${(copyMs / 1000).toFixed(1)} s   ${rate(copyMs).toLocaleString('en-US')} events/s`);
console.log(`  API / copy rate  ${(copyMs / apiMs).toFixed(2)}  (target >= 0.9)`);
