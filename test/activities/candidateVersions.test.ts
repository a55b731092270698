// Runs of one model that finish training together must number their candidates one after the other (a
// duplicate version number failed a run before the model row was locked): each gets its own version,
// consecutive, with no error, and promotions of one model never interleave (db/models.ts says what
// concurrent runs of one model mean). And a failed query must reach Temporal without its parameters (an
// artifact in an error message exceeded the payload limit and failed the workflow task instead of the
// activity). On PostgreSQL (a pool of connections, truly concurrent) and on PGlite.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { asc, eq, inArray } from 'drizzle-orm';
import { withoutQueryParameters } from '../../activities/errors';
import { createActivities, type CandidateRef } from '../../activities/index';
import { type OpenedDb } from '../../db/index';
import { changeProductionRoute, insertRunVersion } from '../../db/models';
import { openFileDatabase } from '../fileDatabase';
import { deploymentEvents, examples, modelVersions, models, routes, runs } from '../../db/schema';
import { corpusSubset, toExampleInputs, uid } from '../helpers';

let opened: OpenedDb;
let modelId: number;

before(async () => {
  opened = await openFileDatabase();
  const [m] = await opened.db.insert(models).values({ name: `versions-${uid()}`, createdBy: 'test' }).returning();
  modelId = m!.id;
  const rows = toExampleInputs(corpusSubset().slice(0, 200));
  await opened.db.insert(examples).values(rows.map((r) => ({ modelId, externalId: r.externalId, input: r.input, label: r.label, slices: r.slices, split: r.split })));
});

after(async () => {
  await opened?.close();
});

test('four runs of one model training at once get versions 1..4, one each, with no error', async () => {
  const activities = createActivities({ db: opened.db, dataPlane: { apiUrl: () => 'http://127.0.0.1:9' } });
  const runIds = Array.from({ length: 4 }, (_, i) => `run-${i}-${uid()}`);
  await opened.db.insert(runs).values(runIds.map((id) => ({ id, modelId, trigger: 'manual', requestedBy: 'test' })));
  const snapshots = await Promise.all(runIds.map((runId) => activities.freezeSnapshot({ runId, modelId })));
  // Each run's trainer answered with an artifact of its own; recording them races on the model's version numbers.
  const train = async (i: number) => {
    const job = await activities.planTraining({ runId: runIds[i]!, modelId, snapshotId: snapshots[i]!.snapshotId, trainerParams: { epochs: 1 }, trainingTaskQueue: 'training' });
    const sha256 = `sha256:${String(i).repeat(64)}`;
    const trained = { contractVersion: 1 as const, jobKey: job.input.jobKey, artifact: { uri: `retrain-store:${sha256}`, sha256, size: 1 }, trainedOn: job.input.data.train.rows, trainer: { name: 'builtin/hashed-logreg', version: '1', codeDigest: sha256 } };
    return new MockActivityEnvironment().run<[Parameters<typeof activities.recordCandidate>[0]], CandidateRef, typeof activities.recordCandidate>(activities.recordCandidate, {
      runId: runIds[i]!,
      modelId,
      snapshotId: snapshots[i]!.snapshotId,
      trainer: job.trainer,
      job: job.input,
      trained,
    });
  };
  const settled = await Promise.allSettled(runIds.map((_, i) => train(i)));
  assert.deepEqual(
    settled.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ok')),
    ['ok', 'ok', 'ok', 'ok'],
  );
  const candidates = settled.map((s) => (s as PromiseFulfilledResult<CandidateRef>).value);
  assert.deepEqual(candidates.map((c) => c.version).sort(), [1, 2, 3, 4]);
  const stored = await opened.db.select({ id: modelVersions.id, version: modelVersions.version, runId: modelVersions.runId }).from(modelVersions).where(eq(modelVersions.modelId, modelId));
  assert.deepEqual(stored.map((v) => v.version).sort(), [1, 2, 3, 4]);
  // Each run points at its own candidate.
  const runRows = await opened.db.select({ id: runs.id, candidateVersionId: runs.candidateVersionId }).from(runs).where(inArray(runs.id, runIds));
  for (const r of runRows) assert.equal(r.candidateVersionId, stored.find((v) => v.runId === r.id)?.id, r.id);
  // A retried activity finds its candidate instead of making a fifth.
  const again = await train(0);
  assert.equal(again.versionId, candidates[0]!.versionId);
  assert.equal((await opened.db.select().from(modelVersions).where(eq(modelVersions.modelId, modelId))).length, 4);
});

test('version allocation alone: 5 writers at once, twice over, get 1..10; a retried writer gets its own version back', async () => {
  const [m] = await opened.db.insert(models).values({ name: `alloc-${uid()}`, createdBy: 'test' }).returning();
  const id = m!.id;
  const runIds = Array.from({ length: 10 }, (_, i) => `alloc-${i}-${uid()}`);
  await opened.db.insert(runs).values(runIds.map((r) => ({ id: r, modelId: id, trigger: 'manual', requestedBy: 'test' })));
  const write = (runId: string) =>
    insertRunVersion(opened.db, { modelId: id, status: 'candidate', trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: runId, runId });
  const first = await Promise.all(runIds.slice(0, 5).map(write));
  assert.deepEqual(first.map((v) => v.version).sort(), [1, 2, 3, 4, 5]);
  // The second wave overlaps retries of the first: the retries return their versions, the new ones continue at 6.
  const second = await Promise.all([...runIds.slice(5).map(write), ...runIds.slice(0, 5).map(write)]);
  assert.deepEqual(second.slice(5).map((v) => v.id), first.map((v) => v.id), 'retries return the version they made');
  assert.deepEqual(second.slice(0, 5).map((v) => v.version).sort((a, b) => a - b), [6, 7, 8, 9, 10]);
  const stored = await opened.db.select({ version: modelVersions.version }).from(modelVersions).where(eq(modelVersions.modelId, id)).orderBy(asc(modelVersions.version));
  assert.deepEqual(stored.map((v) => v.version), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
});

test('three promotions of one model at once are serialised: one production version, each event names the one it replaced', async () => {
  const [m] = await opened.db.insert(models).values({ name: `promote-${uid()}`, createdBy: 'test' }).returning();
  const id = m!.id;
  const runIds = Array.from({ length: 3 }, (_, i) => `promote-${i}-${uid()}`);
  await opened.db.insert(runs).values(runIds.map((r) => ({ id: r, modelId: id, trigger: 'manual', requestedBy: 'test' })));
  const versions = await Promise.all(
    runIds.map((runId) => insertRunVersion(opened.db, { modelId: id, status: 'candidate', trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: runId, runId })),
  );
  const results = await Promise.all(
    versions.map((v) =>
      changeProductionRoute(opened.db, {
        modelId: id,
        toVersionId: v.id,
        action: 'promote',
        actor: 'test',
        reason: `run ${v.runId} passed its gate`,
        runId: v.runId,
        idempotencyKey: `${v.runId}:promote`,
        previousStatus: 'retired',
      }),
    ),
  );
  assert.ok(results.every((r) => r.applied));
  const events = await opened.db.select().from(deploymentEvents).where(eq(deploymentEvents.modelId, id)).orderBy(asc(deploymentEvents.id));
  assert.equal(events.length, 3);
  // A chain: nothing to v_a, v_a to v_b, v_b to v_c (in commit order): no promotion saw a stale production.
  assert.equal(events[0]!.fromVersionId, null);
  for (let i = 1; i < 3; i++) assert.equal(events[i]!.fromVersionId, events[i - 1]!.toVersionId);
  const [route] = await opened.db.select().from(routes).where(eq(routes.modelId, id));
  assert.equal(route!.versionId, events[2]!.toVersionId, 'the last promotion to commit is production');
  const statuses = await opened.db.select({ id: modelVersions.id, status: modelVersions.status }).from(modelVersions).where(eq(modelVersions.modelId, id));
  assert.deepEqual(statuses.map((s) => s.status).sort(), ['production', 'retired', 'retired']);
});

test('a failed query reaches Temporal with the database reason and the statement, never the parameters', async () => {
  const secret = 'x'.repeat(100_000);
  let failure: unknown;
  try {
    await opened.db.insert(models).values([
      { name: `dup-${uid()}`, description: secret, createdBy: 'test' },
    ]);
    const [m] = await opened.db.select().from(models).where(eq(models.id, modelId));
    await opened.db.insert(models).values({ name: m!.name, description: secret, createdBy: 'test' });
  } catch (e) {
    failure = e;
  }
  assert.ok(failure instanceof Error && failure.message.includes(secret), 'drizzle quotes the parameters');
  const clean = withoutQueryParameters(failure);
  assert.ok(clean instanceof Error);
  assert.ok(!clean.message.includes(secret));
  assert.match(clean.message, /^query failed: .*duplicate key value violates unique constraint/);
  assert.match(clean.message, /statement: insert into "models"/);
  assert.ok(clean.message.length < 1000);
  // Anything else passes through untouched.
  const other = new Error('the gate has not been judged');
  assert.equal(withoutQueryParameters(other), other);
});
