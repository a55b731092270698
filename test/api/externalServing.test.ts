// Serving outside the control plane, over real HTTP: a model trained by a trainer the control plane
// cannot load (sklearn/tabular here) is served by the team's own system, which asks models.resolve who
// answers and logs what it answered with serving.logPredictions (POST /models/{name}/predictions). The
// rows are predict's own (predictions, shadow_predictions, examples); a replay is logged once, a changed
// replay is a 409, bad input a 400 naming the request and field, and on any refusal nothing is written.
// models.predict refuses such a model with a 412 that says where to go instead.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, desc, eq, inArray } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { auditLog, datasetSnapshots, deploymentEvents, evalReports, examples, models, modelVersions, predictions, routes, shadowPredictions } from '../../db/schema';
import { assertNothingWritten, fingerprint } from '../caller';
import { startTestEnv, uid, type TestEnv } from '../helpers';

let env: TestEnv;
let ingest: ApiClient;
let ingestToken: string;
let ingestSubject: string;
let model: string;
let modelId: number;
/** Version number -> row id: 1 production (evaluated at THRESHOLD), 2 shadow, 3 a candidate that never served, 4 production before 1. */
const ids = new Map<number, number>();
const THRESHOLD = 0.7;
const db = () => env.services.opened.db;
const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);
const at = new Date(Date.now() - 3_600_000).toISOString();

type Req = Parameters<ApiClient['serving']['logPredictions']['mutate']>[0]['requests'][number];

/** A request as a tabular serving system logs it: features of every kind, slices, the score it served. */
const request = (tag: string, i: number, extra: Partial<Req> = {}): Req => ({
  requestId: `${tag}-${i}`,
  version: 1,
  score: ((i * 37) % 100) / 100,
  externalId: `${tag}-ex-${i}`,
  input: { age: 20 + (i % 50), workclass: i % 3 ? 'Private' : 'State-gov', married: i % 2 === 0, capital_gain: i % 7 ? null : 5000 },
  attributes: { sex: i % 2 ? 'Male' : 'Female', native_country: i % 5 ? 'United-States' : 'Mexico' },
  occurredAt: at,
  shadow: [{ version: 2, score: ((i * 53) % 100) / 100 }],
  ...extra,
});

before(async () => {
  env = await startTestEnv();
  ingestSubject = `tabular-frontend-${uid()}`;
  ingestToken = (await issueToken(db(), { subject: ingestSubject, role: 'ingest', createdBy: 'test' })).token;
  ingest = createApiClient(env.url, ingestToken);
  model = `adult-${uid()}`;
  // What the registry will hold for a Python-trained model; the API cannot make these versions yet.
  const [m] = await db()
    .insert(models)
    .values({
      name: model,
      trainerName: 'sklearn/tabular',
      trainerQueue: 'trainer-sklearn',
      featureSchema: [
        { name: 'age', kind: 'number', missing: false },
        { name: 'workclass', kind: 'category', missing: false },
        { name: 'married', kind: 'boolean', missing: false },
        { name: 'capital_gain', kind: 'number', missing: true },
      ],
      createdBy: 'test',
    })
    .returning();
  modelId = m!.id;
  const version = (n: number, status: 'production' | 'shadow' | 'candidate' | 'retired') => ({
    modelId,
    version: n,
    status,
    trainer: 'sklearn/tabular@0.1.0',
    params: {},
    artifact: null,
    artifactHash: `sha256:${String(n).repeat(64)}`,
    artifactUri: `s3://models/adult/${n}.joblib`,
    artifactSize: 1000,
    runId: `run-${model}-v${n}`,
  });
  for (const [n, status] of [[1, 'production'], [2, 'shadow'], [3, 'candidate'], [4, 'retired']] as const) {
    const [row] = await db().insert(modelVersions).values(version(n, status)).returning({ id: modelVersions.id });
    ids.set(n, row!.id);
  }
  await db().insert(routes).values([
    { modelId, kind: 'production', versionId: ids.get(1)! },
    { modelId, kind: 'shadow', versionId: ids.get(2)! },
  ]);
  await db().insert(deploymentEvents).values({ modelId, action: 'promote', fromVersionId: ids.get(4)!, toVersionId: ids.get(1)!, actor: 'test', idempotencyKey: `promote-${model}` });
  // Version 1 was gated at THRESHOLD: that is where a decision the serving system leaves out is drawn.
  const [snap] = await db().insert(datasetSnapshots).values({ modelId, runId: `run-${model}-v1`, contentHash: 'sha256:x', trainCount: 1, heldoutCount: 1 }).returning();
  await db().insert(evalReports).values({ runId: `run-${model}-v1`, versionId: ids.get(1)!, snapshotId: snap!.id, role: 'candidate', summary: { settings: { threshold: THRESHOLD, confidence: 0.95, B: 10, seed: 1 } }, contentHash: 'sha256:y' });
});
after(async () => {
  await env?.stop();
});

async function expectRefusal(call: Promise<unknown>, code: string, message: RegExp) {
  await assert.rejects(call, (err) => {
    assert.equal(codeOf(err), code, (err as Error).message);
    assert.match((err as Error).message, message);
    return true;
  });
}

const servedRows = (requestIds: string[]) => db().select().from(predictions).where(and(eq(predictions.modelId, modelId), inArray(predictions.requestId, requestIds)));

test('the serving system resolves, then logs: the rows models.predict writes, decisions drawn at the version\'s evaluated threshold when left out', async () => {
  const resolved = await ingest.models.resolve.query({ name: model, requestKey: 'user-1' });
  assert.equal(resolved.version, 1);
  assert.deepEqual(resolved.shadow.map((s) => s.version), [2]);

  const requests = Array.from({ length: 50 }, (_, i) => request('log', i, i % 10 === 0 ? { decision: 1 } : {}));
  const out = await ingest.serving.logPredictions.mutate({ name: model, requests });
  assert.deepEqual(out, { received: 50, logged: 50, duplicates: 0, shadowed: 50, shadowDuplicates: 0, queuedForReview: 0 });

  const rows = await servedRows(requests.map((r) => r.requestId));
  assert.equal(rows.length, 50);
  for (const r of requests) {
    const row = rows.find((x) => x.requestId === r.requestId)!;
    assert.equal(row.versionId, ids.get(1));
    assert.ok(Math.abs(row.score - r.score) < 1e-6, `score of ${r.requestId} stored (as real)`);
    assert.equal(row.decision, r.decision ?? (r.score >= THRESHOLD ? 1 : 0), `decision of ${r.requestId}`);
    assert.equal(row.exampleExternalId, r.externalId);
    assert.deepEqual(row.attributes, r.attributes);
    assert.equal(row.occurredAt.toISOString(), at);
    assert.equal(row.loggedBy, ingestSubject, 'the logger is the token, not the body');
  }
  // Score 0.1 (i = 10) was decided 1 by the serving system, and is logged as it decided.
  assert.equal(rows.find((x) => x.requestId === 'log-10')!.decision, 1);

  // Each request with an external id and input became an unlabelled example, features of every kind kept.
  const ex = await db().select().from(examples).where(and(eq(examples.modelId, modelId), inArray(examples.externalId, requests.map((r) => r.externalId!))));
  assert.equal(ex.length, 50);
  const first = ex.find((e) => e.externalId === 'log-ex-0')!;
  assert.deepEqual(first.input, { age: 20, workclass: 'State-gov', married: true, capital_gain: 5000 });
  assert.deepEqual(first.slices, { sex: 'Female', native_country: 'Mexico' });
  assert.equal(first.label, null);
  assert.equal(first.split, 'train');
  assert.equal(first.observedAt?.toISOString(), at);

  // Shadow decisions: version 2 has no evaluation, so 0.5 decides.
  const shadow = await db().select().from(shadowPredictions).where(and(eq(shadowPredictions.modelId, modelId), inArray(shadowPredictions.requestId, requests.map((r) => r.requestId))));
  assert.equal(shadow.length, 50);
  for (const r of requests) {
    const row = shadow.find((x) => x.requestId === r.requestId)!;
    assert.equal(row.versionId, ids.get(2));
    assert.ok(Math.abs(row.score - r.shadow![0]!.score) < 1e-6);
    assert.equal(row.decision, r.shadow![0]!.score >= 0.5 ? 1 : 0);
    assert.deepEqual(row.attributes, r.attributes);
  }

  // Audited like every mutation, the bulk array summarised.
  const [entry] = await db().select().from(auditLog).where(and(eq(auditLog.action, 'serving.logPredictions'), eq(auditLog.target, model))).orderBy(desc(auditLog.id)).limit(1);
  assert.equal(entry?.actor, ingestSubject);
  assert.equal((entry?.details as { input: { requests: unknown } }).input.requests, '[50 items]');
});

test('a replayed request id is logged once and counted as a duplicate; a version production ran before still logs', async () => {
  const requests = Array.from({ length: 10 }, (_, i) => request('replay', i));
  await ingest.serving.logPredictions.mutate({ name: model, requests });
  const fresh = Array.from({ length: 5 }, (_, i) => request('replay', 10 + i, { version: 4, shadow: [] }));
  const out = await ingest.serving.logPredictions.mutate({ name: model, requests: [...requests, ...fresh] });
  assert.deepEqual(out, { received: 15, logged: 5, duplicates: 10, shadowed: 0, shadowDuplicates: 10, queuedForReview: 0 });
  const rows = await servedRows([...requests, ...fresh].map((r) => r.requestId));
  assert.equal(rows.length, 15);
  const late = new Set(fresh.map((r) => r.requestId));
  assert.deepEqual(rows.filter((r) => late.has(r.requestId)).map((r) => r.versionId), fresh.map(() => ids.get(4)), 'late logs of the retired version');
  assert.equal((await db().select().from(shadowPredictions).where(and(eq(shadowPredictions.modelId, modelId), inArray(shadowPredictions.requestId, requests.map((r) => r.requestId))))).length, 10);
  // A decision left out is the one drawn before: still a duplicate, not a conflict.
  const again = await ingest.serving.logPredictions.mutate({ name: model, requests: requests.slice(0, 2).map((r) => ({ ...r, decision: r.score >= THRESHOLD ? 1 : 0 })) });
  assert.equal(again.duplicates, 2);
});

test('the same request id with another version, score or decision is a 409 naming it; nothing of the batch is written', async () => {
  const requests = Array.from({ length: 3 }, (_, i) => request('conflict', i));
  await ingest.serving.logPredictions.mutate({ name: model, requests });
  const fresh = request('conflict', 99);
  const cases: { what: string; batch: Req[]; message: RegExp }[] = [
    { what: 'another score', batch: [fresh, { ...requests[1]!, score: 0.01 }], message: /requests\[1\]: request 'conflict-1' is logged already as version 1, score 0\.37.*this batch says version 1, score 0\.01/ },
    { what: 'another version', batch: [{ ...requests[2]!, version: 4, shadow: [] }, fresh], message: /requests\[0\]: request 'conflict-2' is logged already as version 1.*says version 4/ },
    { what: 'another decision', batch: [{ ...requests[0]!, decision: 1 }, fresh], message: /requests\[0\]: request 'conflict-0' .*decision 0; this batch says .*decision 1/ },
    { what: 'another shadow score', batch: [fresh, { ...requests[1]!, shadow: [{ version: 2, score: 0.99 }] }], message: /requests\[1\]\.shadow\[0\]: request 'conflict-1' is logged for shadow version 2 already/ },
  ];
  for (const c of cases) {
    const before = await fingerprint(db());
    await expectRefusal(ingest.serving.logPredictions.mutate({ name: model, requests: c.batch }), 'CONFLICT', c.message);
    await assertNothingWritten(db(), before, c.what);
  }
  assert.equal((await servedRows([fresh.requestId])).length, 0);
});

test('two senders racing with one request id and different scores: one is logged, the other is a 409', async () => {
  for (let round = 0; round < 5; round++) {
    const a = request(`race${round}`, 0, { score: 0.2 });
    const b = { ...a, score: 0.9 };
    const outcomes = await Promise.allSettled([ingest.serving.logPredictions.mutate({ name: model, requests: [a] }), ingest.serving.logPredictions.mutate({ name: model, requests: [b] })]);
    const won = outcomes.findIndex((o) => o.status === 'fulfilled');
    assert.notEqual(won, -1, 'one of them is logged');
    const lost = outcomes[1 - won]!;
    assert.equal(lost.status, 'rejected');
    assert.equal(codeOf((lost as PromiseRejectedResult).reason), 'CONFLICT', String((lost as PromiseRejectedResult).reason));
    const [row] = await servedRows([a.requestId]);
    assert.ok(Math.abs(row!.score - [a, b][won]!.score) < 1e-6, 'the row is the winner\'s');
  }
});

test('bad input is a 400 naming the request and field, and nothing is written', async () => {
  const ok = (i: number) => request('bad', i);
  const cases: { what: string; requests: unknown[]; message: RegExp }[] = [
    { what: 'a version the model does not have', requests: [ok(0), ok(1), { ...ok(2), version: 9 }], message: /requests\[2\]\.version: model '.*' has no version 9/ },
    { what: 'a version that never served', requests: [ok(0), { ...ok(1), version: 3, shadow: [] }], message: /requests\[1\]\.version: version 3 of model '.*' never served \(status candidate\)/ },
    { what: 'a shadow version that never served', requests: [{ ...ok(0), shadow: [{ version: 3, score: 0.2 }] }], message: /requests\[0\]\.shadow\[0\]\.version: version 3 .* never served/ },
    { what: 'the answering version as its own shadow', requests: [ok(0), { ...ok(1), shadow: [{ version: 1, score: 0.2 }] }], message: /requests\[1\]\.shadow\[0\]\.version 1 is the version that answered/ },
    { what: 'a shadow version twice', requests: [{ ...ok(0), shadow: [{ version: 2, score: 0.2 }, { version: 2, score: 0.3 }] }], message: /requests\[0\]\.shadow\[1\]\.version 2 appears twice/ },
    { what: 'a time in the future', requests: [ok(0), { ...ok(1), occurredAt: new Date(Date.now() + 3_600_000).toISOString() }], message: /requests\[1\]\.occurredAt .* is in the future/ },
    { what: 'a repeated request id', requests: [ok(0), ok(1), ok(0)], message: /requests\[2\]\.requestId 'bad-0' repeats requests\[0\]\.requestId/ },
    { what: 'input without externalId', requests: [ok(0), { ...ok(1), externalId: undefined }], message: /requests\[1\]\.input is given without externalId/ },
    { what: 'a feature of the wrong kind', requests: [ok(0), { ...ok(1), input: { ...ok(1).input, age: 'forty' } }], message: /requests\[1\]\.input\.age: field 'age' is a number feature and must be a finite number, got "forty"/ },
    { what: 'an undeclared feature', requests: [{ ...ok(0), input: { ...ok(0).input, colour: 'red' } }], message: /requests\[0\]\.input\.colour: field 'colour' is not in the model's feature schema/ },
    { what: 'a required feature missing', requests: [{ ...ok(0), input: { age: 30, workclass: 'Private' } }], message: /requests\[0\]\.input\.married: field 'married' is missing/ },
    { what: 'a score above 1', requests: [ok(0), ok(1), ok(2), { ...ok(3), score: 1.5 }], message: /requests\[3\]\.score|requests\.3\.score/ },
    { what: 'a decision of 2', requests: [{ ...ok(0), decision: 2 }], message: /requests\[0\]\.decision|requests\.0\.decision/ },
    { what: 'an object as a feature value', requests: [{ ...ok(0), input: { age: { years: 3 } } }], message: /requests\[0\]\.input\.age|requests\.0\.input\.age/ },
    { what: 'a bad time', requests: [{ ...ok(0), occurredAt: 'yesterday' }], message: /requests\[0\]\.occurredAt|requests\.0\.occurredAt/ },
    { what: 'an unknown field', requests: [{ ...ok(0), label: 1 }], message: /label/ },
    { what: 'an empty batch', requests: [], message: /requests/ },
  ];
  for (const c of cases) {
    const before = await fingerprint(db());
    await expectRefusal(ingest.serving.logPredictions.mutate({ name: model, requests: c.requests as Req[] }), 'BAD_REQUEST', c.message);
    await assertNothingWritten(db(), before, c.what);
  }
  await expectRefusal(ingest.serving.logPredictions.mutate({ name: 'no-such-model', requests: [ok(0)] }), 'NOT_FOUND', /model 'no-such-model' not found/);
});

test('only the ingest role (or admin) may log; over REST the same procedure answers POST /models/{name}/predictions', async () => {
  const requests = [request('roles', 0)];
  await expectRefusal(env.clients.viewer.serving.logPredictions.mutate({ name: model, requests }), 'FORBIDDEN', /this needs 'ingest'/);
  await expectRefusal(env.clients.operator.serving.logPredictions.mutate({ name: model, requests }), 'FORBIDDEN', /this needs 'ingest'/);
  assert.equal((await env.clients.admin.serving.logPredictions.mutate({ name: model, requests })).logged, 1);

  const post = (body: unknown) =>
    fetch(`${env.url}/api/models/${model}/predictions`, { method: 'POST', headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const res = await post({ requests: [request('rest', 0), request('rest', 1)] });
  assert.equal(res.status, 200, await res.clone().text());
  assert.deepEqual(await res.json(), { received: 2, logged: 2, duplicates: 0, shadowed: 2, shadowDuplicates: 0, queuedForReview: 0 });
  const conflict = await post({ requests: [{ ...request('rest', 0), score: 0.99 }] });
  assert.equal(conflict.status, 409);
  assert.match(((await conflict.json()) as { message: string }).message, /request 'rest-0' is logged already/);
  const badVersion = await post({ requests: [{ ...request('rest', 2), version: 3 }] });
  assert.equal(badVersion.status, 400);
  assert.equal((await servedRows(['rest-2'])).length, 0);
});

test('models.predict refuses a model whose trainer it cannot load, and says where to log instead', async () => {
  const before = await fingerprint(db());
  const requests = [{ requestId: 'p-0', input: { workclass: 'Private' }, attributes: {}, occurredAt: at }];
  await expectRefusal(
    ingest.models.predict.mutate({ name: model, requests }),
    'PRECONDITION_FAILED',
    new RegExp(`^model ${model} is trained by sklearn/tabular; serve it from your own system: resolve, then POST /models/${model}/predictions$`),
  );
  const res = await fetch(`${env.url}/api/models/${model}/predict`, { method: 'POST', headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ requests }) });
  assert.equal(res.status, 412);
  await assertNothingWritten(db(), before, 'a refused predict');
});

test('a batch of 10,000 logs in one call; 10,001 is refused', { timeout: 120_000 }, async () => {
  const requests = Array.from({ length: 10_000 }, (_, i) => request('bulk', i));
  const started = performance.now();
  const out = await ingest.serving.logPredictions.mutate({ name: model, requests });
  const ms = performance.now() - started;
  assert.deepEqual(out, { received: 10_000, logged: 10_000, duplicates: 0, shadowed: 10_000, shadowDuplicates: 0, queuedForReview: 0 });
  const replay = performance.now();
  assert.equal((await ingest.serving.logPredictions.mutate({ name: model, requests })).duplicates, 10_000);
  process.stdout.write(`# 10,000 logged in ${ms.toFixed(0)} ms; replayed in ${(performance.now() - replay).toFixed(0)} ms (${process.env.DATABASE_URL ? 'PostgreSQL' : 'PGlite'})\n`);
  await expectRefusal(ingest.serving.logPredictions.mutate({ name: model, requests: [...requests, request('bulk', 10_000)] }), 'BAD_REQUEST', /requests/);
});
