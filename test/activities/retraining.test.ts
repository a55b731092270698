// The retraining and saturation activities alone, each run in MockActivityEnvironment (a real activity
// context, no server) over a real database: what a retried attempt writes (nothing twice) and what an
// attempt reports by heartbeat. The workflows that call them are tested end to end in test/e2e.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { count, eq } from 'drizzle-orm';
import { createRetrainingActivities } from '../../activities/retraining';
import { createSaturationActivities } from '../../activities/saturation';
import { type OpenedDb } from '../../db/index';
import { openFileDatabase } from '../fileDatabase';
import { datasetSnapshotMembers, datasetSnapshots, evalReports, examples, gateResults, models, modelVersions, runs, saturationPoints } from '../../db/schema';
import { closeTrainingPool } from '../../trainers/threadPool';
import { corpusSubset, toExampleInputs, uid } from '../helpers';

let opened: OpenedDb;
let modelId: number;
const runId = `run-activities-${uid()}`;
const trainerParams = { epochs: 2, dimsLog2: 14 };

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
  await closeTrainingPool();
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
  const { freezeSnapshot } = createRetrainingActivities({ db: opened.db });
  const first = await inActivity(() => freezeSnapshot({ runId, modelId }));
  const again = await inActivity(() => freezeSnapshot({ runId, modelId }));
  assert.deepEqual(again.result, first.result);
  assert.equal(first.result.trainCount + first.result.heldoutCount, 400);
  assert.equal(await rowsOf(datasetSnapshots, eq(datasetSnapshots.runId, runId)), 1);
  const members = await opened.db.select({ n: count() }).from(datasetSnapshotMembers).where(eq(datasetSnapshotMembers.snapshotId, first.result.snapshotId));
  assert.equal(Number(members[0]!.n), 400, 'each member stored once');
});

test('trainCandidate heartbeats the examples loaded and every epoch; a retry returns the stored candidate without training', async () => {
  const { freezeSnapshot, trainCandidate } = createRetrainingActivities({ db: opened.db });
  const { result: snapshot } = await inActivity(() => freezeSnapshot({ runId, modelId }));
  const first = await inActivity(() => trainCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams }));
  assert.deepEqual(first.heartbeats[0], { phase: 'loaded', examples: snapshot.trainCount });
  const epochs = first.heartbeats.slice(1) as { phase: string; epoch: number; epochs: number; meanLoss: number }[];
  assert.deepEqual(
    epochs.map((h) => [h.phase, h.epoch, h.epochs]),
    [
      ['training', 1, 2],
      ['training', 2, 2],
    ],
  );
  assert.ok(epochs.every((h) => Number.isFinite(h.meanLoss) && h.meanLoss > 0));
  assert.equal(first.result.version, 1);
  assert.equal(first.result.trainedOn, snapshot.trainCount);
  const [run] = await opened.db.select().from(runs).where(eq(runs.id, runId));
  assert.equal(run!.candidateVersionId, first.result.versionId, 'the run names its candidate');

  const again = await inActivity(() => trainCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams }));
  assert.deepEqual(again.result, first.result);
  assert.deepEqual(again.heartbeats, [], 'nothing trained on the retry');
  assert.equal(await rowsOf(modelVersions, eq(modelVersions.runId, runId)), 1);
});

test('evaluateVersions heartbeats scoring and evaluation; a retry returns the stored packet and writes no second report', async () => {
  const { freezeSnapshot, trainCandidate, evaluateVersions } = createRetrainingActivities({ db: opened.db });
  const { result: snapshot } = await inActivity(() => freezeSnapshot({ runId, modelId }));
  const { result: candidate } = await inActivity(() => trainCandidate({ runId, modelId, snapshotId: snapshot.snapshotId, trainerParams }));
  const input = { runId, modelId, snapshotId: snapshot.snapshotId, candidateVersionId: candidate.versionId };
  const first = await inActivity(() => evaluateVersions(input));
  assert.deepEqual(first.heartbeats, [
    { phase: 'scored', versionId: candidate.versionId },
    { phase: 'evaluated', versionId: candidate.versionId },
  ]);
  assert.equal(first.result.champion, null, 'no production version, no champion');
  assert.match(first.result.packetHash, /^sha256:[0-9a-f]{64}$/);

  const again = await inActivity(() => evaluateVersions(input));
  assert.deepEqual(again.result, first.result);
  assert.deepEqual(again.heartbeats, [], 'nothing scored on the retry');
  assert.equal(await rowsOf(evalReports, eq(evalReports.runId, runId)), 1);
  assert.equal(await rowsOf(gateResults, eq(gateResults.runId, runId)), 1);
});

test('trainSaturationPoint heartbeats while queued for a thread; a retry reuses the stored point', async () => {
  const { freezeSnapshot } = createRetrainingActivities({ db: opened.db });
  const { trainSaturationPoint } = createSaturationActivities({ db: opened.db });
  const { result: snapshot } = await inActivity(() => freezeSnapshot({ runId, modelId }));
  const point = { runId, snapshotId: snapshot.snapshotId, variant: 'curve' as const, fraction: 0.5, seed: 1, trainerParams };
  const first = await inActivity(() => trainSaturationPoint(point));
  assert.deepEqual(first.heartbeats[0], { phase: 'queued' });
  assert.equal(first.result.reused, false);
  assert.equal(first.result.trainSize, Math.round(0.5 * snapshot.trainCount));
  assert.ok(first.result.error > 0 && first.result.error < 0.5, `held-out error ${first.result.error}`);

  const again = await inActivity(() => trainSaturationPoint(point));
  assert.deepEqual(again.result, { ...first.result, reused: true });
  assert.deepEqual(again.heartbeats, [], 'nothing trained on the retry');
  const stored = await opened.db.select({ n: count() }).from(saturationPoints).where(eq(saturationPoints.runId, runId));
  assert.equal(Number(stored[0]!.n), 1);
});
