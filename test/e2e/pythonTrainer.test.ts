// A team's Python trainer governed end to end on the real dev server and the real data plane: the
// reference scikit-learn worker registered through the API by its queue, a model on UCI Adult declaring
// its features, the worker killed with SIGKILL mid-training and the run finishing with one version (the
// retried job trained by a new worker); then a rollout whose canary is served by the team's own system
// (resolve, score with the artifact, log predictions) and rolled back by an approver.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { defaultPayloadConverter } from '@temporalio/common';
import { and, eq } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { ADULT_FEATURES, loadAdult, type AdultRow } from '../../demo/adult';
import { serveBatch } from '../../demo/adultAct';
import { modelVersions, predictions } from '../../db/schema';
import { issueToken } from '../../db/tokens';
import { ensurePythonTrainer, startPythonTrainer, type PythonTrainerProcess } from '../../temporal-config/pythonTrainer';
import type { TrainInput } from '../../trainers/contract';
import { checkTargetOf, checkTrainer, formatCheckReport } from '../../temporal-config/trainerCheck';
import { startTestEnv, uid, waitFor, waitForPoller, waitForStatus, type TestEnv } from '../helpers';

const cacheDir = process.env.RETRAIN_TEST_PYTHON_DIR ?? path.join(os.tmpdir(), 'retrain-test-python');
const queue = `sklearn-e2e-${uid()}`;
let env: TestEnv;
let python: string;
let token: string;
let artifactsDir: string;
let adult: AdultRow[];
let ingest: ApiClient;
const workers: PythonTrainerProcess[] = [];

async function startTrainer(): Promise<PythonTrainerProcess> {
  const w = await startPythonTrainer({ python, temporalAddress: env.services.temporalAddress, namespace: env.services.namespace, taskQueue: queue, apiToken: token, artifactsDir, log: () => {}, graceMs: 2_000 });
  workers.push(w);
  await w.ready;
  return w;
}

before(
  async () => {
    env = await startTestEnv();
    ({ python } = await ensurePythonTrainer({ dataDir: cacheDir, log: () => {} }));
    adult = await loadAdult(cacheDir, { python });
    const db = env.services.opened.db;
    token = (await issueToken(db, { subject: `trainer-${queue}`, role: 'trainer', createdBy: 'test' })).token;
    ingest = createApiClient(env.url, (await issueToken(db, { subject: `serving-${queue}`, role: 'ingest', createdBy: 'test' })).token);
    artifactsDir = await mkdtemp(path.join(os.tmpdir(), 'sklearn-e2e-'));
    await startTrainer();
    await waitForPoller(env, queue);
    await env.clients.operator.trainers.register.mutate({ taskQueue: queue, timeToStartSeconds: 60 });
  },
  { timeout: 600_000 },
);
after(async () => {
  for (const w of workers) await w.stop().catch(() => {});
  await env?.stop();
});

const model = `income-${uid()}`;

test('the Python worker killed with SIGKILL mid-training: a new worker trains the retried job, the run ends with one version', { timeout: 600_000 }, async () => {
  const db = env.services.opened.db;
  await env.clients.operator.models.register.mutate({
    name: model,
    trainer: { name: 'sklearn/tabular', params: { estimator: 'gradient_boosting', max_iter: 400, learning_rate: 0.05 }, timeToStartSeconds: 120 },
    features: ADULT_FEATURES,
    gatePolicy: { minSliceSupport: 30, rules: [{ kind: 'bound', id: 'auc', metric: 'auc', slices: 'overall', min: 0.8 }] },
  });
  const rows = adult.filter((_, i) => i % 3 === 0);
  for (let i = 0; i < rows.length; i += 2000) {
    await env.clients.operator.models.importExamples.mutate({ name: model, examples: rows.slice(i, i + 2000).map((r) => ({ ...r, slices: { ...r.slices } })) });
  }
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  // Kill once the training job has started and heartbeated (it reads the split, then fits in a thread).
  const handle = env.services.client.workflow.getHandle(runId);
  await waitFor(
    'trainer.train to be running on the Python worker',
    async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'trainer.train' && a.heartbeatDetails),
    180_000,
  );
  process.kill(workers[0]!.pid, 'SIGKILL');
  await startTrainer();
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 300_000);
  assert.equal(run.status, 'promoted', JSON.stringify(run.result));
  const versions = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(versions.length, 1, 'one version');
  assert.equal(versions[0]!.trainer, 'sklearn/tabular');
  assert.match(versions[0]!.artifactUri ?? '', /^file:\/\//);
  // The job was attempted again after the kill, by the new worker: one trainer.train activity, attempt 2 or more.
  const history = await handle.fetchHistory();
  const trains = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'trainer.train');
  assert.equal(trains.length, 1);
  const jobKey = defaultPayloadConverter.fromPayload<TrainInput>(trains[0]!.activityTaskScheduledEventAttributes!.input!.payloads![0]!).jobKey;
  assert.equal(jobKey, `${runId}/candidate`);
  const started = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === trains[0]!.eventId?.toString());
  assert.ok((started?.activityTaskStartedEventAttributes?.attempt ?? 1) >= 2, `attempt ${started?.activityTaskStartedEventAttributes?.attempt}`);
  const lineage = await env.clients.viewer.models.lineage.query({ name: model, version: 1 });
  assert.equal(lineage.trainer.name, 'sklearn/tabular');
  assert.match(lineage.trainer.codeDigest ?? '', /^sha256:/);
  assert.equal(lineage.trainer.taskQueue, queue);
});

test("a rollout served by the team's own system (resolve, score, log predictions), rolled back by an approver", { timeout: 600_000 }, async () => {
  const db = env.services.opened.db;
  await env.clients.operator.models.configureTrainer.mutate({ name: model, trainer: { name: 'sklearn/tabular', params: { estimator: 'logistic_regression' } } });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, rollout: { steps: [{ weight: 0.5, analysisSeconds: 3600 }] } });
  await waitFor('the canary at 50%', async () => {
    const run = await env.clients.viewer.runs.get.query({ runId });
    if (['rejected', 'failed'].includes(run.status)) throw new Error(`run ${run.status}: ${JSON.stringify(run.result)}`);
    return run.live?.step === 'rolling_out' && (await ingest.models.resolve.query({ name: model, requestKey: 'probe' })).canaryWeight === 0.5;
  }, 300_000);
  // 300 requests: each resolved to the version that answers it, scored by that version's artifact, logged.
  const traffic = adult.filter((_, i) => i % 3 === 1).slice(0, 300);
  const byVersion = new Map<number, { requestId: string; row: AdultRow }[]>();
  for (const row of traffic) {
    const requestId = `req-${runId}-${row.externalId}`;
    const { version } = await ingest.models.resolve.query({ name: model, requestKey: requestId });
    byVersion.set(version, [...(byVersion.get(version) ?? []), { requestId, row }]);
  }
  assert.deepEqual([...byVersion.keys()].sort(), [1, 2], 'both versions answer a share of the keys');
  for (const [version, requests] of byVersion) {
    const lineage = await env.clients.viewer.models.lineage.query({ name: model, version });
    const scores = await serveBatch(python, fileURLToPath(lineage.artifact.uri!), requests.map((r) => ({ requestId: r.requestId, input: r.row.input })));
    const out = await ingest.serving.logPredictions.mutate({
      name: model,
      requests: requests.map(({ requestId, row }) => ({ requestId, version, score: scores.get(requestId)!, attributes: { ...row.slices }, occurredAt: new Date().toISOString() })),
    });
    assert.equal(out.logged, requests.length);
  }
  const [m] = await env.clients.viewer.models.list.query().then((l) => l.filter((x) => x.name === model));
  assert.ok(m);
  const v2 = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  const logged = await db.select().from(predictions).where(and(eq(predictions.versionId, v2[0]!.id)));
  assert.equal(logged.length, byVersion.get(2)!.length, "the canary's predictions are in the log");

  await env.clients.approver.runs.rollback.mutate({ runId, reason: 'income-service reports a spike of declined applicants' });
  const done = await waitForStatus(env, runId, ['rolled_back', 'promoted', 'failed'], 120_000);
  assert.equal(done.status, 'rolled_back');
  const resolved = await ingest.models.resolve.query({ name: model, requestKey: 'after-rollback' });
  assert.equal(resolved.version, 1);
  assert.equal(resolved.canaryWeight, 0);
  const [after] = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(after!.status, 'rolled_back');
});

test('the reference Python trainer passes every check of the conformance suite', { timeout: 600_000 }, async () => {
  const report = await checkTrainer({
    ...checkTargetOf(env.services),
    taskQueue: queue,
    rows: 1200,
    largeRows: 20_000,
    // Tabular kinds (gradient boosting takes no text), and a fit long enough for a cancellation to land in.
    featureKinds: ['number', 'category', 'boolean'],
    slowParams: { estimator: 'gradient_boosting', max_iter: 100_000 },
  });
  console.log(formatCheckReport(report));
  for (const c of report.checks) assert.equal(c.status, 'passed', `${c.name}: ${c.status}: ${c.detail}`);
  assert.equal(report.trainer?.name, 'sklearn/tabular');
});
