// The serving face: which version answers (models.serving) and scoring with it (models.predict), logged
// once per request id, all or nothing, for the ingest role only.
import { versionArtifact } from '../../db/models';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, count, eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { datasetSnapshots, evalReports, examples, models, modelVersions, predictions, routes, shadowPredictions } from '../../db/schema';
import { artifactHash, deserializeArtifact, predictBatch, serializeArtifact, trainHashedLogReg } from '../../trainers/hashedLogReg';
import { corpusSubset, uid } from '../helpers';
import { plantProductionVersion, startCallerEnv, type CallerEnv } from '../caller';

let env: CallerEnv;
let ingest: ApiClient;
let model: string;
let modelId: number;
let versionId: number;
const THRESHOLD = 0.7;
const emails = corpusSubset().slice(0, 400);
const trainOn = emails.slice(0, 300);
const traffic = emails.slice(300);

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);
const at = '2026-11-20T10:00:00Z';
const asRequest = (e: (typeof emails)[number], i: number, prefix = 'r') => ({
  requestId: `${prefix}-${i}`,
  externalId: e.externalId,
  input: e.input,
  attributes: { ...e.slices } as Record<string, string>,
  occurredAt: at,
});

before(async () => {
  env = await startCallerEnv();
  const db = env.db;
  ingest = (await env.as(`mail-frontend-${uid()}`, 'ingest')).client;
  model = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model });
  [{ id: modelId }] = (await db.select({ id: models.id }).from(models).where(eq(models.name, model))) as [{ id: number }];
  // A real artifact, promoted by hand, with the eval report a run would have written (its threshold is what serves).
  const runId = `run-${model}-manual`;
  versionId = await plantProductionVersion(db, modelId, trainOn, { runId });
  const [snap] = await db.insert(datasetSnapshots).values({ modelId, runId, contentHash: 'sha256:x', trainCount: 300, heldoutCount: 0 }).returning();
  await db.insert(evalReports).values({ runId, versionId, snapshotId: snap!.id, role: 'candidate', summary: { settings: { threshold: THRESHOLD, confidence: 0.95, B: 10, seed: 1 } }, contentHash: 'sha256:y' });
});
after(async () => {
  await env?.stop();
});

const logged = async () => Number((await env.db.select({ n: count() }).from(predictions).where(eq(predictions.modelId, modelId)))[0]!.n);

test('serving names the production version and the threshold it was evaluated at; ingest and viewer may ask', async () => {
  const expected = { version: 1, versionId, threshold: THRESHOLD, thresholdSource: 'evaluation' };
  assert.deepEqual(await ingest.models.serving.query({ name: model }), expected);
  assert.deepEqual(await env.clients.viewer.models.serving.query({ name: model }), expected);
});

test('predict scores with the production version and logs each request once, in one row with score, decision and version', async () => {
  const db = env.db;
  const requests = traffic.slice(0, 60).map((e, i) => asRequest(e, i));
  const out = await ingest.models.predict.mutate({ name: model, requests });
  assert.equal(out.version, 1);
  assert.equal(out.threshold, THRESHOLD);
  assert.equal(out.logged, 60);
  assert.equal(out.duplicates, 0);
  assert.deepEqual(out.results.map((r) => r.requestId), requests.map((r) => r.requestId), 'results in request order');
  // The scores are the trainer's own.
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, versionId));
  const local = predictBatch(deserializeArtifact((await versionArtifact(db, v!.id))!), requests.map((r) => r.input));
  out.results.forEach((r, i) => {
    assert.ok(Math.abs(r.score - local[i]!) < 1e-12, `score of ${r.requestId}`);
    assert.equal(r.decision, r.score >= THRESHOLD ? 1 : 0);
  });
  assert.ok(out.results.some((r) => r.decision === 1) && out.results.some((r) => r.decision === 0), 'both decisions occur');

  const rows = await db.select().from(predictions).where(eq(predictions.modelId, modelId));
  assert.equal(rows.length, 60);
  for (const r of out.results) {
    const row = rows.find((x) => x.requestId === r.requestId)!;
    assert.equal(row.versionId, versionId);
    assert.ok(Math.abs(row.score - r.score) < 1e-6, 'score stored (as real)');
    assert.equal(row.decision, r.decision);
    assert.equal(row.occurredAt.toISOString(), new Date(at).toISOString());
    assert.ok(row.loggedBy.startsWith('mail-frontend-'), 'the logger is the token, not the body');
  }
  const first = rows.find((x) => x.requestId === 'r-0')!;
  assert.equal(first.exampleExternalId, traffic[0]!.externalId);
  assert.deepEqual(first.attributes, { ...traffic[0]!.slices });

  // Each request with an external id became an unlabelled example, ready for annotation.
  const [ex] = await db.select().from(examples).where(and(eq(examples.modelId, modelId), eq(examples.externalId, traffic[0]!.externalId)));
  assert.ok(ex);
  assert.equal(ex.label, null);
  assert.equal(ex.split, 'train');
  assert.deepEqual(ex.slices, { ...traffic[0]!.slices });
  assert.deepEqual(ex.input, traffic[0]!.input);
  assert.equal(ex.observedAt?.toISOString(), new Date(at).toISOString());
});

test('a replayed request id is scored again but logged once: counted as a duplicate', async () => {
  const before = await logged();
  const again = traffic.slice(0, 10).map((e, i) => asRequest(e, i));
  const fresh = traffic.slice(60, 65).map((e, i) => asRequest(e, 60 + i));
  const out = await ingest.models.predict.mutate({ name: model, requests: [...again, ...fresh] });
  assert.equal(out.logged, 5);
  assert.equal(out.duplicates, 10);
  assert.equal(out.results.length, 15);
  assert.equal(await logged(), before + 5);
});

test('an example already known (a labelled import) keeps its label when traffic names it', async () => {
  const db = env.db;
  const e = traffic[70]!;
  await env.clients.operator.models.importExamples.mutate({ name: model, examples: [{ externalId: e.externalId, input: e.input, label: e.label, slices: { ...e.slices }, split: 'heldout' }] });
  await ingest.models.predict.mutate({ name: model, requests: [asRequest(e, 70)] });
  const [ex] = await db.select().from(examples).where(and(eq(examples.modelId, modelId), eq(examples.externalId, e.externalId)));
  assert.equal(ex?.label, e.label);
  assert.equal(ex?.split, 'heldout');
});

test('an unknown model is NOT_FOUND; a model with no production version says so', async () => {
  await assert.rejects(ingest.models.predict.mutate({ name: 'no-such-model', requests: [asRequest(traffic[0]!, 0)] }), (err) => {
    assert.equal(codeOf(err), 'NOT_FOUND');
    assert.match((err as Error).message, /model 'no-such-model' not found/);
    return true;
  });
  await assert.rejects(ingest.models.serving.query({ name: 'no-such-model' }), (err) => codeOf(err) === 'NOT_FOUND');
  const bare = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: bare });
  for (const call of [ingest.models.serving.query({ name: bare }), ingest.models.predict.mutate({ name: bare, requests: [asRequest(traffic[0]!, 0, 'bare')] })]) {
    await assert.rejects(call, (err) => {
      assert.equal(codeOf(err), 'NOT_FOUND');
      assert.match((err as Error).message, new RegExp(`model '${bare}' has no production version`));
      return true;
    });
  }
});

test('only the ingest role (or admin) may predict', async () => {
  const requests = [asRequest(traffic[80]!, 80, 'roles')];
  await assert.rejects(env.clients.viewer.models.predict.mutate({ name: model, requests }), (err) => codeOf(err) === 'FORBIDDEN');
  await assert.rejects(env.clients.operator.models.predict.mutate({ name: model, requests }), (err) => codeOf(err) === 'FORBIDDEN');
  const out = await env.clients.admin.models.predict.mutate({ name: model, requests });
  assert.equal(out.logged, 1);
});

test('one bad request refuses the whole batch, naming its index and field; nothing is written', async () => {
  const db = env.db;
  const before = await logged();
  const examplesBefore = Number((await db.select({ n: count() }).from(examples).where(eq(examples.modelId, modelId)))[0]!.n);
  const requests: unknown[] = traffic.slice(90, 96).map((e, i) => asRequest(e, i, 'bad'));
  requests[3] = { ...(requests[3] as object), occurredAt: 'yesterday' };
  await assert.rejects(ingest.models.predict.mutate({ name: model, requests: requests as never }), (err) => {
    assert.equal(codeOf(err), 'BAD_REQUEST');
    assert.match((err as Error).message, /requests\[3\]\.occurredAt|requests\.3\.occurredAt/);
    return true;
  });
  const repeated = traffic.slice(90, 93).map((e, i) => asRequest(e, i === 2 ? 0 : i, 'rep'));
  await assert.rejects(ingest.models.predict.mutate({ name: model, requests: repeated }), /requests\[2\]\.requestId 'rep-0' repeats requests\[0\]\.requestId; nothing in this batch was written/);
  await assert.rejects(ingest.models.predict.mutate({ name: model, requests: [] }), (err) => codeOf(err) === 'BAD_REQUEST');
  assert.equal(await logged(), before);
  assert.equal(Number((await db.select({ n: count() }).from(examples).where(eq(examples.modelId, modelId)))[0]!.n), examplesBefore);
});

test('a shadow version scores every request silently at its own threshold, logged once per request in shadow_predictions', async () => {
  const db = env.db;
  // A second real artifact, trained on another part of the corpus, routed as shadow (what the rollout's shadow step does).
  const artifact = serializeArtifact(await trainHashedLogReg(emails.slice(100, 400).map((e) => ({ input: e.input, label: e.label })), { dimsLog2: 12, epochs: 2 }));
  const [shadow] = await db
    .insert(modelVersions)
    .values({ modelId, version: 2, trainer: 'hashed-logreg@1', params: {}, artifact, artifactHash: artifactHash(artifact), status: 'shadow', runId: `run-${model}-shadow` })
    .returning({ id: modelVersions.id });
  await db.insert(routes).values({ modelId, kind: 'shadow', versionId: shadow!.id });
  try {
    const requests = traffic.slice(0, 40).map((e, i) => asRequest(e, i, 'sh'));
    const out = await ingest.models.predict.mutate({ name: model, requests });
    // The caller sees production only.
    assert.equal(out.version, 1);
    assert.ok(out.results.every((r) => r.version === 1));
    assert.equal(out.shadowed, 40);
    assert.equal(out.shadowSkipped, 0);
    const rows = await db.select().from(shadowPredictions).where(and(eq(shadowPredictions.modelId, modelId), eq(shadowPredictions.versionId, shadow!.id)));
    assert.equal(rows.length, 40);
    // The shadow's own scores, decided at its threshold: no eval report, so the default 0.5.
    const local = predictBatch(deserializeArtifact(artifact), requests.map((r) => r.input));
    for (const [i, r] of requests.entries()) {
      const row = rows.find((x) => x.requestId === r.requestId)!;
      assert.ok(Math.abs(row.score - local[i]!) < 1e-6, `shadow score of ${r.requestId}`);
      assert.equal(row.decision, local[i]! >= 0.5 ? 1 : 0);
      assert.deepEqual(row.attributes, r.attributes);
      assert.equal(row.occurredAt.toISOString(), new Date(at).toISOString());
    }
    // Replayed with new ones: the shadow logs each request id once, like predictions.
    const again = await ingest.models.predict.mutate({ name: model, requests: [...requests.slice(0, 5), asRequest(traffic[40]!, 40, 'sh')] });
    assert.equal(again.duplicates, 5);
    assert.equal(again.shadowed, 1);
    assert.equal((await db.select().from(shadowPredictions).where(eq(shadowPredictions.versionId, shadow!.id))).length, 41);

    // A shadow that cannot be scored does not fail serving: the batch is served and logged without it.
    await db.update(modelVersions).set({ artifact: new Uint8Array([1, 2, 3]), artifactHash: 'sha256:broken' }).where(eq(modelVersions.id, shadow!.id));
    const broken = await ingest.models.predict.mutate({ name: model, requests: [asRequest(traffic[41]!, 41, 'sh')] });
    assert.equal(broken.logged, 1);
    assert.equal(broken.shadowed, 0);
    assert.equal(broken.shadowSkipped, 1);
    assert.equal((await db.select().from(shadowPredictions).where(eq(shadowPredictions.versionId, shadow!.id))).length, 41);
  } finally {
    await db.delete(routes).where(and(eq(routes.modelId, modelId), eq(routes.kind, 'shadow')));
  }
  // Without a shadow route nothing is shadowed.
  const plain = await ingest.models.predict.mutate({ name: model, requests: [asRequest(traffic[42]!, 42, 'sh')] });
  assert.equal(plain.shadowed, 0);
  assert.equal(plain.shadowSkipped, 0);
});
