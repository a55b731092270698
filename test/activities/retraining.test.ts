// The control plane's side of training alone (trainer contract: plan a trainer's job, record what it
// answered, judge the scores it put back), over a real database, with the trainer's answers made here:
// what a job's input says, and what a retried attempt writes (nothing twice). The trainers themselves are
// tested in test/trainers, the workflows that join them end to end in test/e2e.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createHash } from 'node:crypto';
import { asc, count, eq } from 'drizzle-orm';
import { createActivities, type TrainingJob } from '../../activities/index';
import { createRetrainingActivities } from '../../activities/retraining';
import type { VersionEvaluation } from '../../analysis/report';
import { type OpenedDb } from '../../db/index';
import { snapshotMembers } from '../../db/queries';
import { scoreInput, trainInput, type TrainOutput } from '../../trainers/contract';
import { artifactHash, deserializeArtifact, predictBatch, serializeArtifact, trainHashedLogReg } from '../../trainers/hashedLogReg';
import { openFileDatabase } from '../fileDatabase';
import { datasetSnapshotMembers, datasetSnapshots, evalReports, examples, gateResults, models, modelVersions, runs, saturationPoints, scoreSets } from '../../db/schema';
import { corpusSubset, toExampleInputs, uid } from '../helpers';

let opened: OpenedDb;
let modelId: number;
const runId = `run-activities-${uid()}`;
const trainerParams = { epochs: 2, dimsLog2: 14 };
/** The data plane's address as the activities hand it to trainers (nothing listens: these tests call no trainer). */
const API = 'http://127.0.0.1:9';
const deps = () => ({ db: opened.db, dataPlane: { apiUrl: () => API } });

before(async () => {
  opened = await openFileDatabase();
  const db = opened.db;
  const [m] = await db.insert(models).values({ name: `activities-${uid()}`, createdBy: 'test' }).returning();
  modelId = m!.id;
  // 400 labelled mails with the recorded held-out split: enough for a real model and a real evaluation.
  const rows = toExampleInputs(corpusSubset().slice(0, 400));
  await db.insert(examples).values(rows.map((r) => ({ modelId, externalId: r.externalId, input: r.input, label: r.label, slices: r.slices, split: r.split })));
  await db.insert(runs).values({ id: runId, modelId, trigger: 'manual', requestedBy: 'test', status: 'running', step: 'queued', params: {} });
});
after(async () => {
  await opened?.close();
});

/** Runs `fn` in a fresh activity context and returns its result with every heartbeat it sent. */
async function inActivity<R>(fn: () => Promise<R>): Promise<{ result: R; heartbeats: unknown[] }> {
  const env = new MockActivityEnvironment({ activityType: fn.name });
  const heartbeats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => heartbeats.push(d));
  const result = (await env.run(fn)) as R;
  return { result, heartbeats };
}

const rowsOf = async (table: typeof datasetSnapshots | typeof modelVersions | typeof evalReports | typeof gateResults, where: ReturnType<typeof eq>) =>
  Number((await opened.db.select({ n: count() }).from(table).where(where))[0]!.n);

test('freezeSnapshot: a retried attempt returns the stored snapshot and writes no second one', async () => {
  const { freezeSnapshot } = createRetrainingActivities(deps());
  const first = await inActivity(() => freezeSnapshot({ runId, modelId }));
  const again = await inActivity(() => freezeSnapshot({ runId, modelId }));
  assert.deepEqual(again.result, first.result);
  assert.equal(first.result.trainCount + first.result.heldoutCount, 400);
  assert.equal(await rowsOf(datasetSnapshots, eq(datasetSnapshots.runId, runId)), 1);
  const members = await opened.db.select({ n: count() }).from(datasetSnapshotMembers).where(eq(datasetSnapshotMembers.snapshotId, first.result.snapshotId));
  assert.equal(Number(members[0]!.n), 400, 'each member stored once');
  // The database computes the content hash as the process once did: sha256 of `externalId \t label \t split` lines in external-id order.
  const rows = await opened.db.select().from(examples).where(eq(examples.modelId, modelId)).orderBy(asc(examples.externalId));
  const expected = `sha256:${createHash('sha256').update(rows.map((r) => `${r.externalId}\t${r.label}\t${r.split}`).join('\n')).digest('hex')}`;
  assert.equal(first.result.contentHash, expected);
});

/** What a trainer answers for a job (the builtin trainer, run here in-process, as its worker would). */
async function trainedBy(job: TrainingJob): Promise<{ trained: TrainOutput; bytes: Uint8Array }> {
  const rows = await snapshotMembers(opened.db, Number(/snapshots\/(\d+)/.exec(job.input.data.train.url)![1]), 'train');
  const bytes = serializeArtifact(await trainHashedLogReg(rows.map((r) => ({ input: r.input, label: r.label as 0 | 1 })), { ...job.input.params, seed: job.input.seed }));
  const sha256 = artifactHash(bytes);
  return {
    bytes,
    trained: { contractVersion: 1, jobKey: job.input.jobKey, artifact: { uri: `retrain-store:${sha256}`, sha256, size: bytes.length }, trainedOn: rows.length, trainer: { name: 'builtin/hashed-logreg', version: '1', codeDigest: sha256 } },
  };
}

/** A trainer's PUT of a score set, written as the data plane stores it: float64 LE in held-out order. */
async function putScores(jobKey: string, scores: Float64Array) {
  const bytes = new Uint8Array(scores.buffer.slice(0));
  await opened.db.update(scoreSets).set({ status: 'complete', scores: bytes, contentHash: artifactHash(bytes), completedAt: new Date() }).where(eq(scoreSets.jobKey, jobKey));
}

test('planTraining: the model\'s trainer and queue, the training split by reference, the run\'s params over the model\'s with the seed taken out', async () => {
  const acts = createActivities(deps());
  const { result: snapshot } = await inActivity(() => acts.freezeSnapshot({ runId, modelId }));
  const job = await acts.planTraining({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams: { ...trainerParams, seed: 7 }, trainingTaskQueue: 'training-x' });
  assert.deepEqual(job.trainer, { name: 'builtin/hashed-logreg', taskQueue: 'training-x', timeToStartSeconds: 600 });
  assert.equal(job.input.jobKey, `${runId}/candidate`);
  assert.equal(job.input.seed, 7);
  assert.deepEqual(job.input.params, trainerParams);
  assert.deepEqual(job.input.data.train, { url: `${API}/api/trainer/snapshots/${snapshot.snapshotId}/examples?split=train`, rows: snapshot.trainCount, labelled: true });
  assert.equal(job.input.artifactStore.url, `${API}/api/trainer/artifacts`);
  assert.ok(trainInput.safeParse(job.input).success, 'the input is a valid train.input');
  // A model with a trainer of its own sends its jobs to that trainer's queue, with its time-to-start.
  const [other] = await opened.db.insert(models).values({ name: `own-trainer-${uid()}`, createdBy: 'test', trainerName: 'sklearn/tabular', trainerQueue: 'sklearn', trainerTimeToStartSeconds: 30, trainerParams: { C: 2 } }).returning();
  const otherRun = `run-other-${uid()}`;
  await opened.db.insert(runs).values({ id: otherRun, modelId: other!.id, trigger: 'manual', requestedBy: 'test' });
  await opened.db.insert(examples).values(toExampleInputs(corpusSubset().slice(0, 60)).map((r) => ({ modelId: other!.id, externalId: r.externalId, input: r.input, label: r.label, slices: r.slices, split: r.split })));
  const otherSnapshot = await acts.freezeSnapshot({ runId: otherRun, modelId: other!.id });
  const own = await acts.planTraining({ runId: otherRun, modelId: other!.id, snapshotId: otherSnapshot.snapshotId, trainingTaskQueue: 'training-x' });
  assert.deepEqual(own.trainer, { name: 'sklearn/tabular', taskQueue: 'sklearn', timeToStartSeconds: 30 });
  assert.deepEqual(own.input.params, { C: 2 });
  assert.equal(own.input.seed, 1, 'seed 1 when neither the model nor the run names one');
});

test('recordCandidate: one version per run with its lineage; a retry returns it and writes nothing', async () => {
  const acts = createActivities(deps());
  const { result: snapshot } = await inActivity(() => acts.freezeSnapshot({ runId, modelId }));
  const job = await acts.planTraining({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams, trainingTaskQueue: 'training' });
  const { trained } = await trainedBy(job);
  const first = await acts.recordCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainer: job.trainer, job: job.input, trained });
  assert.equal(first.version, 1);
  assert.equal(first.trainedOn, snapshot.trainCount);
  const again = await acts.recordCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainer: job.trainer, job: job.input, trained: { ...trained, artifact: { ...trained.artifact, sha256: `sha256:${'0'.repeat(64)}` } } });
  assert.deepEqual(again, first, 'the first recorded artifact stands');
  assert.equal(await rowsOf(modelVersions, eq(modelVersions.runId, runId)), 1);
  const [v] = await opened.db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(v!.artifact, null, 'the bytes are in the store, not the row');
  assert.equal(v!.artifactUri, trained.artifact.uri);
  assert.equal(v!.artifactSize, trained.artifact.size);
  assert.equal(v!.trainer, 'builtin/hashed-logreg');
  assert.equal(v!.codeDigest, trained.trainer.codeDigest);
  assert.equal(v!.trainerQueue, null, "the built-in trainer's versions score on the control plane's training queue");
  assert.deepEqual(v!.labelSources, { import: 400 });
  assert.deepEqual(v!.params, { ...trainerParams, seed: 1, trainedOn: snapshot.trainCount });
  const [run] = await opened.db.select().from(runs).where(eq(runs.id, runId));
  assert.equal(run!.candidateVersionId, first.versionId, 'the run names its candidate');
});

test('evaluateVersions judges from the score set the trainer put back; without one it fails, not retried; a retry writes no second report', async () => {
  const acts = createActivities(deps());
  const { result: snapshot } = await inActivity(() => acts.freezeSnapshot({ runId, modelId }));
  const job = await acts.planTraining({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams, trainingTaskQueue: 'training' });
  const { trained, bytes } = await trainedBy(job);
  const candidate = await acts.recordCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainer: job.trainer, job: job.input, trained });
  const jobs = await acts.planEvaluationScoring({ runId, modelId, snapshotId: snapshot.snapshotId, candidateVersionId: candidate.versionId, trainingTaskQueue: 'training' });
  assert.equal(jobs.length, 1, 'no production version, no champion to score');
  const scoring = jobs[0]!;
  assert.equal(scoring.input.jobKey, `${runId}/score/v${candidate.versionId}/heldout`);
  assert.deepEqual(scoring.input.data.examples, { url: `${API}/api/trainer/snapshots/${snapshot.snapshotId}/examples?split=heldout`, rows: snapshot.heldoutCount, labelled: false });
  assert.equal(scoring.input.scores.url, `${API}/api/trainer/score-sets/${encodeURIComponent(scoring.input.jobKey)}`);
  assert.ok(scoreInput.safeParse(scoring.input).success, 'the input is a valid score.input');
  const [pending] = await opened.db.select().from(scoreSets).where(eq(scoreSets.jobKey, scoring.input.jobKey));
  assert.equal(pending!.status, 'pending');
  assert.equal(pending!.expectedRows, snapshot.heldoutCount);

  const input = { runId, modelId, snapshotId: snapshot.snapshotId, candidateVersionId: candidate.versionId, scoreSets: [{ versionId: candidate.versionId, jobKey: scoring.input.jobKey }] };
  await assert.rejects(inActivity(() => acts.evaluateVersions(input)), (err: Error & { type?: string; nonRetryable?: boolean }) => err.type === 'MissingScores' && err.nonRetryable === true);

  const heldout = await snapshotMembers(opened.db, snapshot.snapshotId, 'heldout');
  await putScores(scoring.input.jobKey, predictBatch(deserializeArtifact(bytes), heldout.map((m) => m.input)));
  const first = await inActivity(() => acts.evaluateVersions(input));
  assert.equal(first.result.champion, null);
  assert.match(first.result.packetHash, /^sha256:[0-9a-f]{64}$/);
  const [report] = await opened.db.select().from(evalReports).where(eq(evalReports.runId, runId));
  const accuracy = (report!.summary as VersionEvaluation).classification.overall.rates.accuracy.estimate!;
  assert.ok(accuracy > 0.8, `held-out accuracy from the trainer's scores: ${accuracy}`);

  const again = await inActivity(() => acts.evaluateVersions(input));
  assert.deepEqual(again.result, first.result);
  assert.equal(await rowsOf(evalReports, eq(evalReports.runId, runId)), 1);
  assert.equal(await rowsOf(gateResults, eq(gateResults.runId, runId)), 1);
});

test('a saturation point: planned on its nested subset, judged from its score set, stored once', async () => {
  const acts = createActivities(deps());
  const { result: snapshot } = await inActivity(() => acts.freezeSnapshot({ runId, modelId }));
  const key = { runId, variant: 'curve' as const, fraction: 0.5, seed: 3 };
  assert.equal(await acts.storedSaturationPoint(key), null);
  const job = await acts.planSaturationTraining({ ...key, modelId, snapshotId: snapshot.snapshotId, trainerParams, trainingTaskQueue: 'training' });
  assert.equal(job.input.seed, 3);
  assert.equal(job.input.data.train.rows, Math.round(0.5 * snapshot.trainCount));
  assert.equal(job.input.data.train.url, `${API}/api/trainer/snapshots/${snapshot.snapshotId}/examples?split=train&fraction=0.5&seed=3`);
  const [model] = await opened.db.select().from(models).where(eq(models.id, modelId));
  const sha256 = `sha256:${'a'.repeat(64)}`;
  const scoring = await acts.planArtifactScoring({ modelId: model!.id, snapshotId: snapshot.snapshotId, jobKey: `${job.input.jobKey}/heldout`, artifact: { uri: `retrain-store:${sha256}`, sha256, size: 1 } });
  // Every held-out row scored as spam: the error is the share of ham.
  const heldout = await snapshotMembers(opened.db, snapshot.snapshotId, 'heldout');
  await putScores(scoring.jobKey, new Float64Array(heldout.length).fill(0.9));
  const point = { ...key, snapshotId: snapshot.snapshotId, scoreJobKey: scoring.jobKey, trainSize: job.input.data.train.rows, seconds: 1.5 };
  const first = await acts.recordSaturationPoint(point);
  const ham = heldout.filter((m) => m.label === 0).length;
  assert.ok(Math.abs(first.error - ham / heldout.length) < 1e-12, `error ${first.error}`);
  assert.equal(first.reused, false);
  const again = await acts.recordSaturationPoint(point);
  assert.deepEqual(again, { ...first, reused: true });
  assert.deepEqual(await acts.storedSaturationPoint(key), { ...first, reused: true });
  const stored = await opened.db.select({ n: count() }).from(saturationPoints).where(eq(saturationPoints.runId, runId));
  assert.equal(Number(stored[0]!.n), 1);
});
