// Traffic logged by a team's own serving system (serving.logPredictions) is judged downstream exactly as
// traffic served by models.predict. Two models hold the same versions: `builtin`, served by predict, and
// `external` (trainer sklearn/tabular, which the control plane cannot load), whose simulated serving
// system logs what predict answered, request for request. Every reader of the logs then gives the same
// answer for both: flywheel health (feedback attributed by request), the rollout's shadow comparison and a
// canary analysis window, the drift monitor and the bias re-audit (workflows on the real Temporal server),
// and annotation sampling.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, asc, eq } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { createActivities } from '../../activities/index';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { issueToken } from '../../db/tokens';
import { annotationTasks, auditReports, evalReports, examples, models, modelVersions, predictions, routes, shadowPredictions } from '../../db/schema';
import { artifactHash, serializeArtifact, trainHashedLogReg } from '../../trainers/hashedLogReg';
import { BIAS_REAUDIT_WORKFLOW_TYPE, DRIFT_MONITOR_WORKFLOW_TYPE, type BiasReauditInput, type DriftMonitorInput } from '../../workflows/messages';
import { corpusSubset, promotedModel, startTestEnv, uid, type TestEnv } from '../helpers';

let env: TestEnv;
let ingest: ApiClient;
let acts: ReturnType<typeof createActivities>;
/** One model's side of the comparison: its id, and the row ids of versions 1 (production) and 2 (the candidate). */
interface Side {
  name: string;
  modelId: number;
  v1: number;
  v2: number;
}
let builtin: Side;
let external: Side;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Whole days in the past, apart from anything else the models hold: the shadow window's day, then the canary's.
const today = Math.floor(Date.now() / DAY) * DAY;
const shadowDay = { from: new Date(today - 6 * DAY), to: new Date(today - 5 * DAY) };
const canaryDay = { from: new Date(today - 4 * DAY), to: new Date(today - 3 * DAY) };
// Mail the versions were not trained on: the corpus subset is every fifth mail from 0.
const mail = loadCorpus().filter((_, i) => i % 5 === 2);
const shadowMail = mail.slice(0, 400);
const canaryMail = mail.slice(400, 1000);

before(async () => {
  env = await startTestEnv();
  const db = env.services.opened.db;
  acts = createActivities({ db, dataPlane: { apiUrl: () => env.url } });
  ingest = createApiClient(env.url, (await issueToken(db, { subject: `serving-${uid()}`, role: 'ingest', createdBy: 'test' })).token);

  // The built-in model: v1 promoted by a real bootstrap run (so it has its evaluation and pre-launch audit).
  const promoted = await promotedModel(env);
  // v2: a real second artifact, the candidate a rollout shadows and then canaries.
  const artifact = serializeArtifact(await trainHashedLogReg(corpusSubset().slice(200, 900).map((e) => ({ input: e.input, label: e.label })), { dimsLog2: 14, epochs: 3 }));
  const [b2] = await db
    .insert(modelVersions)
    .values({ modelId: promoted.modelId, version: 2, trainer: 'hashed-logreg@1', params: {}, artifact, artifactHash: artifactHash(artifact), status: 'shadow' })
    .returning({ id: modelVersions.id });
  await db.insert(routes).values({ modelId: promoted.modelId, kind: 'shadow', versionId: b2!.id });
  builtin = { name: promoted.model, modelId: promoted.modelId, v1: promoted.productionVersionId, v2: b2!.id };

  // The external model holds the same two versions, trained elsewhere: v1 in production with v1's
  // evaluation (so the same threshold and pre-launch audit), v2 in shadow.
  const name = `adult-${uid()}`;
  const [m] = await db.insert(models).values({ name, trainerName: 'sklearn/tabular', trainerQueue: 'trainer-sklearn', createdBy: 'test' }).returning();
  const stored = (n: number, status: 'production' | 'shadow') => ({
    modelId: m!.id,
    version: n,
    status,
    trainer: 'sklearn/tabular@0.1.0',
    params: {},
    artifactHash: `sha256:${String(n).repeat(64)}`,
    artifactUri: `s3://models/${name}/${n}.joblib`,
    artifactSize: 1000,
  });
  const [e1] = await db.insert(modelVersions).values(stored(1, 'production')).returning({ id: modelVersions.id });
  const [e2] = await db.insert(modelVersions).values(stored(2, 'shadow')).returning({ id: modelVersions.id });
  await db.insert(routes).values([
    { modelId: m!.id, kind: 'production', versionId: e1!.id },
    { modelId: m!.id, kind: 'shadow', versionId: e2!.id },
  ]);
  const [report] = await db.select().from(evalReports).where(and(eq(evalReports.versionId, builtin.v1), eq(evalReports.role, 'candidate'))).orderBy(asc(evalReports.id)).limit(1);
  assert.ok(report, 'the bootstrap run evaluated v1');
  await db.insert(evalReports).values({ runId: `run-${name}-v1`, versionId: e1!.id, snapshotId: report.snapshotId, role: 'candidate', summary: report.summary, contentHash: report.contentHash });
  external = { name, modelId: m!.id, v1: e1!.id, v2: e2!.id };
});
after(async () => {
  await env?.stop();
});

/** A time inside `day`, spread over its hours by index. */
const within = (day: { from: Date }, i: number) => new Date(day.from.getTime() + HOUR + (i % 20) * HOUR).toISOString();

/**
 * The same requests through predict (the built-in model) and through the ingest endpoint (the external
 * model, as its serving system would log them after resolving). Decisions are left out on every other
 * request, so the endpoint draws them at the version's threshold as predict did. Returns the request ids.
 */
async function serveBothWays(tag: string, emails: CorpusEmail[], day: { from: Date }) {
  const db = env.services.opened.db;
  const requests = emails.map((e, i) => ({
    requestId: `${tag}-${i}`,
    routingKey: `user-${tag}-${i}`,
    externalId: e.externalId,
    input: e.input,
    attributes: { ...e.slices } as Record<string, string>,
    occurredAt: within(day, i),
  }));
  const served = await ingest.models.predict.mutate({ name: builtin.name, requests });
  assert.equal(served.logged, requests.length);
  const shadowRows = await db.select().from(shadowPredictions).where(eq(shadowPredictions.modelId, builtin.modelId));
  const shadowOf = new Map(shadowRows.map((s) => [s.requestId, s]));
  for (const [i, r] of requests.entries()) {
    const resolved = await ingest.models.resolve.query({ name: external.name, requestKey: r.routingKey });
    assert.equal(resolved.version, served.results[i]!.version, `resolve and predict route ${r.routingKey} alike`);
  }
  const logged = await ingest.serving.logPredictions.mutate({
    name: external.name,
    requests: requests.map((r, i) => {
      const answer = served.results[i]!;
      const s = shadowOf.get(r.requestId);
      return {
        ...r,
        version: answer.version,
        score: answer.score,
        ...(i % 2 ? { decision: answer.decision } : {}),
        shadow: s ? [{ version: 2, score: s.score, ...(i % 2 ? { decision: s.decision as 0 | 1 } : {}) }] : [],
      };
    }),
  });
  assert.equal(logged.logged, requests.length);
  return requests.map((r) => r.requestId);
}

/** Users' feedback on the same requests, sent to both models, tagged with the version that answered. */
async function feedbackBothWays(tag: string, requestIds: string[], emails: CorpusEmail[], versionOf: (requestId: string) => Promise<number>, at: (i: number) => string) {
  for (const side of [builtin, external]) {
    const events = [];
    for (const [i, requestId] of requestIds.entries()) {
      const version = await versionOf(requestId);
      // Every request reviewed (a correction carries its true label); every 8th overridden, every 13th reported.
      events.push({ idempotencyKey: `${tag}-${i}-c`, kind: 'correction' as const, correctedLabel: emails[i]!.label, version, requestId, occurredAt: at(i) });
      if (i % 8 === 0) events.push({ idempotencyKey: `${tag}-${i}-o`, kind: 'override' as const, action: 'not_spam' as const, version, requestId, occurredAt: at(i), attributes: { ...emails[i]!.slices } });
      if (i % 13 === 0) events.push({ idempotencyKey: `${tag}-${i}-r`, kind: 'report' as const, version, requestId, occurredAt: at(i) });
    }
    const out = await ingest.feedback.ingest.mutate({ model: side.name, events });
    assert.equal(out.inserted, events.length);
  }
}

const servedVersion = async (requestId: string) => {
  const [row] = await env.services.opened.db.select({ version: modelVersions.version }).from(predictions).innerJoin(modelVersions, eq(modelVersions.id, predictions.versionId)).where(and(eq(predictions.modelId, builtin.modelId), eq(predictions.requestId, requestId)));
  return row!.version;
};

/** Removes what names a model's own rows (ids, its name), leaving what was judged. */
function judged(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v) => (['versionId', 'prelaunchEvalReportId', 'reportId', 'model', 'workflowId'].includes(key) ? undefined : v));
}

test('the same traffic logged by a serving system and served by predict is judged the same by every reader downstream', { timeout: 600_000 }, async (t) => {
  const db = env.services.opened.db;

  // ---- the shadow window: v1 answers, v2 scores silently ----
  const shadowIds = await serveBothWays(`sh-${uid()}`, shadowMail, shadowDay);
  await feedbackBothWays(`fb-sh-${uid()}`, shadowIds, shadowMail, servedVersion, (i) => within(shadowDay, i));
  for (const side of [builtin, external]) {
    const rows = await db.select().from(shadowPredictions).where(eq(shadowPredictions.modelId, side.modelId));
    assert.equal(rows.length, shadowIds.length, `${side.name}: every request shadowed`);
  }

  // ---- the canary window: v2 answers 30% of users, sticky per routing key ----
  for (const side of [builtin, external]) {
    await acts.setRolloutRoute({ runId: `run-${side.name}-manual`, modelId: side.modelId, versionId: side.v2, kind: 'canary', weight: 0.3 });
  }
  assert.equal((await db.select().from(routes).where(and(eq(routes.modelId, external.modelId), eq(routes.kind, 'shadow')))).length, 0, 'the canary is no longer shadowed');
  const canaryIds = await serveBothWays(`ca-${uid()}`, canaryMail, canaryDay);
  await feedbackBothWays(`fb-ca-${uid()}`, canaryIds, canaryMail, servedVersion, (i) => within(canaryDay, i));
  const canaryShare = (await Promise.all(canaryIds.map(servedVersion))).filter((v) => v === 2).length / canaryIds.length;
  assert.ok(canaryShare > 0.15 && canaryShare < 0.45, `the canary answered ${canaryShare} of the traffic`);

  // The logs themselves: the same rows, request for request.
  for (const table of [predictions, shadowPredictions] as const) {
    const rowsOf = async (side: Side) =>
      (await db.select().from(table).where(eq(table.modelId, side.modelId)))
        .map((r) => ({ requestId: r.requestId, version: r.versionId === side.v1 ? 1 : 2, score: r.score, decision: r.decision, attributes: r.attributes, occurredAt: r.occurredAt.toISOString(), example: 'exampleExternalId' in r ? r.exampleExternalId : null }))
        .sort((a, b) => a.requestId.localeCompare(b.requestId));
    const [a, b] = [await rowsOf(builtin), await rowsOf(external)];
    assert.ok(a.length > 0);
    assert.deepEqual(b, a, 'the external log holds what predict logged');
  }

  await t.test('flywheel health: feedback attributed to the logged requests', async () => {
    const window = { from: new Date(shadowDay.from.getTime()).toISOString(), to: canaryDay.to.toISOString(), buckets: 2 };
    const [a, b] = await Promise.all([builtin, external].map((s) => env.clients.viewer.feedback.health.query({ model: s.name, ...window })));
    assert.equal(a!.feedback.linkedToTraffic, a!.feedback.events, 'every event names a logged request');
    assert.ok(a!.feedback.events > shadowIds.length + canaryIds.length);
    // The label-source mix counts the model's examples by where their labels came from, not its traffic:
    // the built-in model holds the corpus it was bootstrapped on, the external one none.
    const traffic = (h: typeof a) => judged({ ...h, labelSources: undefined });
    assert.ok(b!.labelSources.overall.total === 0 && a!.labelSources.overall.total > 0);
    assert.deepEqual(traffic(b), traffic(a));
  });

  await t.test('the rollout\'s shadow comparison', async () => {
    const compare = (s: Side) => acts.analyzeShadowWindow({ modelId: s.modelId, shadowVersionId: s.v2, servingVersionId: s.v1, from: shadowDay.from.toISOString(), to: shadowDay.to.toISOString() });
    const [a, b] = [await compare(builtin), await compare(external)];
    assert.equal(a.servedRequests, shadowIds.length);
    assert.equal(a.coverage, 1);
    assert.ok(a.slicesCompared! > 0);
    assert.deepEqual(b, a);
  });

  await t.test('a canary analysis window', async () => {
    const rules = [
      { metric: 'override_rate' as const, maxIncrease: 0.05, minRequests: 50 },
      { metric: 'report_rate' as const, maxIncrease: 0.05, minRequests: 50 },
    ];
    const analyse = (s: Side) => acts.analyzeCanaryWindow({ modelId: s.modelId, canaryVersionId: s.v2, baselineVersionId: s.v1, from: canaryDay.from.toISOString(), to: canaryDay.to.toISOString(), rules });
    const [a, b] = [await analyse(builtin), await analyse(external)];
    assert.ok(a.measurements.some((m) => m.slice === 'overall'), JSON.stringify(a));
    assert.deepEqual(b, a);
  });

  await t.test('the drift monitor and the bias re-audit, as workflows on the Temporal server', async () => {
    const drift = async (s: Side) => {
      const input: DriftMonitorInput = { modelId: s.modelId, model: s.name, scheduleId: null, windowDays: 1, windowEnd: shadowDay.to.toISOString(), policy: { attributes: ['sender_tld', 'format'], maxPsi: 0.25, maxOverrideRise: 0.05 } };
      const result = await env.services.client.workflow.execute(DRIFT_MONITOR_WORKFLOW_TYPE, { taskQueue: env.services.taskQueues.control, workflowId: `drift-ext-${uid()}`, args: [input] });
      const [row] = await db.select().from(auditReports).where(eq(auditReports.id, result.reportId));
      return { result, report: row!.report as { requests: number } };
    };
    const [da, db_] = [await drift(builtin), await drift(external)];
    assert.equal(da.report.requests, shadowIds.length);
    assert.deepEqual(judged(db_.report), judged(da.report));
    assert.deepEqual(judged(db_.result), judged(da.result));

    const reaudit = async (s: Side) => {
      const input: BiasReauditInput = { modelId: s.modelId, model: s.name, scheduleId: null, windowDays: 1, windowEnd: shadowDay.to.toISOString(), policy: { maxFprIncrease: 0.05, maxFairnessGap: 0.2, minSupport: 30, attributes: ['sender_tld'] } };
      const result = await env.services.client.workflow.execute(BIAS_REAUDIT_WORKFLOW_TYPE, { taskQueue: env.services.taskQueues.control, workflowId: `reaudit-ext-${uid()}`, args: [input] });
      const [row] = await db.select().from(auditReports).where(eq(auditReports.id, result.reportId));
      return { result, report: row!.report as { labelled: number; labelDesign: string } };
    };
    const [ra, rb] = [await reaudit(builtin), await reaudit(external)];
    assert.equal(ra.report.labelled, shadowIds.length, 'every request of the window labelled by its correction');
    assert.equal(ra.report.labelDesign, 'review');
    assert.deepEqual(judged(rb.report), judged(ra.report));
    assert.equal(rb.result.alert, ra.result.alert);
    assert.deepEqual(rb.result.reasons, ra.result.reasons);
  });

  await t.test('annotation sampling draws the same sample from the logged traffic', async () => {
    // No derived long-tail floors and no gold: those read the model's gate history and imports, which differ by design.
    const settings = { budget: 60, deadlineSeconds: 600, seed: 11, goldShare: 0, longTailFloor: 0 };
    const sample = async (s: Side) => {
      const ref = await acts.sampleForAnnotation({ runId: `run-${s.name}-sample`, modelId: s.modelId, requestedBy: 'test', settings });
      assert.ok(ref);
      const tasks = await db
        .select({ externalId: examples.externalId, stratum: annotationTasks.stratum, pi: annotationTasks.inclusionProbability, score: annotationTasks.score, isGold: annotationTasks.isGold })
        .from(annotationTasks)
        .innerJoin(examples, eq(examples.id, annotationTasks.exampleId))
        .where(eq(annotationTasks.batchId, ref.batchId));
      return { ref: { tasks: ref.tasks, sampled: ref.sampled, gold: ref.gold, poolSize: ref.poolSize }, tasks: tasks.sort((x, y) => x.externalId.localeCompare(y.externalId) || x.stratum.localeCompare(y.stratum)) };
    };
    const [a, b] = [await sample(builtin), await sample(external)];
    assert.equal(a.ref.poolSize, shadowIds.length + canaryIds.length, 'the pool is every logged request kept as an example');
    assert.equal(a.ref.sampled, 60);
    assert.deepEqual(b, a);
  });
});
