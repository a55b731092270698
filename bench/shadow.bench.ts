// What shadow scoring costs models.predict: requests/s through the API with the production version only,
// and with a shadow version that also scores every request and logs its decisions, in the same process,
// on the same real e-mails, alternating the two so drift of the machine falls on both.
//   npx tsx bench/shadow.bench.ts [--rows 6046] [--repeat 3]       (PGlite; DATABASE_URL for PostgreSQL)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import { and, eq } from 'drizzle-orm';
import { createApiClient } from '../api/client';
import { issueToken } from '../db/tokens';
import { startApiServer } from '../api/server';
import { openDb } from '../db/index';
import { models, modelVersions, routes } from '../db/schema';
import { loadCorpus } from '../demo/corpus';
import { createScorer } from '../trainers/scorer';
import { artifactHash, serializeArtifact, trainHashedLogReg } from '../trainers/hashedLogReg';
import { benchArgs } from './args';

const BATCH = 500;
const { rows, repeat } = benchArgs(process.argv.slice(2), { rows: [6046] });
const corpus = loadCorpus();
const n = Math.min(rows[0]!, corpus.length);
const mail = corpus.slice(0, n);

const dir = process.env.DATABASE_URL ? null : mkdtempSync(join(tmpdir(), 'shadow-bench-'));
const opened = await openDb(dir ? { pgliteDir: dir } : { url: process.env.DATABASE_URL! });
const db = opened.db;
try {
  // Two real versions: trained on different halves, so they disagree now and then as a candidate would.
  const half = (k: number) => corpus.filter((_, i) => i % 2 === k).map((e) => ({ input: e.input, label: e.label }));
  const artifacts = [serializeArtifact(await trainHashedLogReg(half(0))), serializeArtifact(await trainHashedLogReg(half(1)))];
  const name = `shadow-bench-${Date.now().toString(36)}`;
  const [m] = await db.insert(models).values({ name, createdBy: 'bench' }).returning();
  const versionIds: number[] = [];
  for (const [i, artifact] of artifacts.entries()) {
    const [v] = await db
      .insert(modelVersions)
      .values({ modelId: m!.id, version: i + 1, trainer: 'hashed-logreg', params: {}, artifact, artifactHash: artifactHash(artifact), status: i === 0 ? 'production' : 'shadow' })
      .returning();
    versionIds.push(v!.id);
  }
  await db.insert(routes).values({ modelId: m!.id, kind: 'production', versionId: versionIds[0]!, weight: 1 });
  const token = (await issueToken(db, { subject: 'bench-gateway', role: 'ingest', createdBy: 'bench' })).token;
  // predict never reaches Temporal; a client that never connects is enough.
  const api = await startApiServer({ db, temporal: new Client(), namespace: 'default', taskQueues: { control: 'control', training: 'training' }, defaultApprovalTimeoutSeconds: 60, scorer: createScorer() });
  const client = createApiClient(api.url, token);

  const setShadow = async (on: boolean) => {
    await db.delete(routes).where(and(eq(routes.modelId, m!.id), eq(routes.kind, 'shadow')));
    if (on) await db.insert(routes).values({ modelId: m!.id, kind: 'shadow', versionId: versionIds[1]!, weight: 1 });
  };
  let round = 0;
  /** Every e-mail once, as fresh requests (a replayed id is logged once, which would flatter the second pass). */
  const pass = async (shadow: boolean) => {
    await setShadow(shadow);
    round++;
    let shadowed = 0;
    const t0 = performance.now();
    for (let i = 0; i < mail.length; i += BATCH) {
      const requests = mail.slice(i, i + BATCH).map((e) => ({
        requestId: `r${round}-${e.externalId}`,
        input: e.input,
        attributes: { ...e.slices } as Record<string, string>,
        occurredAt: e.sentAt ?? '2002-08-01T00:00:00Z',
      }));
      const r = await client.models.predict.mutate({ name, requests });
      shadowed += r.shadowed;
    }
    const ms = performance.now() - t0;
    if (shadowed !== (shadow ? mail.length : 0)) throw new Error(`expected ${shadow ? mail.length : 0} shadowed requests, got ${shadowed}`);
    return ms;
  };
  await pass(false); // warm-up: artifact cache, JIT, prepared statements
  const plain: number[] = [];
  const withShadow: number[] = [];
  for (let k = 0; k < repeat; k++) {
    plain.push(await pass(false));
    withShadow.push(await pass(true));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rate = (ms: number) => Math.round((mail.length / ms) * 1000);
  console.log(`models.predict, ${mail.length} real e-mails in batches of ${BATCH}, ${repeat} alternating rounds, ${dir ? 'PGlite' : 'PostgreSQL'}:`);
  console.log(`  production only          ${rate(median(plain)).toLocaleString('en')} requests/s (median of ${plain.map((x) => x.toFixed(0)).join(', ')} ms)`);
  console.log(`  + shadow scoring/logging ${rate(median(withShadow)).toLocaleString('en')} requests/s (median of ${withShadow.map((x) => x.toFixed(0)).join(', ')} ms)`);
  console.log(`  ratio with/without shadow: ${(median(plain) / median(withShadow)).toFixed(2)} of the throughput`);
  await api.close();
} finally {
  await opened.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
