// Two runs of one model that finish training together must number their candidates one after the
// other (a duplicate version number failed a run before the model row was locked), and a failed
// query must reach Temporal without its parameters (an artifact in an error message exceeded the
// payload limit and failed the workflow task instead of the activity).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { eq } from 'drizzle-orm';
import { withoutQueryParameters } from '../../activities/errors';
import { createActivities, type CandidateRef } from '../../activities/index';
import { type OpenedDb } from '../../db/index';
import { openFileDatabase } from '../fileDatabase';
import { examples, modelVersions, models, runs } from '../../db/schema';
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

test('two runs of one model training at once get consecutive version numbers', async () => {
  const activities = createActivities({ db: opened.db });
  const runIds = [`run-a-${uid()}`, `run-b-${uid()}`];
  await opened.db.insert(runs).values(runIds.map((id) => ({ id, modelId, trigger: 'manual', requestedBy: 'test' })));
  const snapshots = await Promise.all(runIds.map((runId) => activities.freezeSnapshot({ runId, modelId })));
  const params = { epochs: 1, dimsLog2: 12 };
  const candidates = await Promise.all(
    runIds.map((runId, i) => new MockActivityEnvironment().run<[Parameters<typeof activities.trainCandidate>[0]], CandidateRef, typeof activities.trainCandidate>(activities.trainCandidate, { runId, modelId, snapshotId: snapshots[i]!.snapshotId, trainerParams: params })),
  );
  assert.deepEqual(candidates.map((c) => c.version).sort(), [1, 2]);
  const stored = await opened.db.select({ version: modelVersions.version, runId: modelVersions.runId }).from(modelVersions).where(eq(modelVersions.modelId, modelId));
  assert.deepEqual(stored.map((v) => v.version).sort(), [1, 2]);
  // A retried activity finds its candidate instead of making a third.
  const again: CandidateRef = await new MockActivityEnvironment().run<[Parameters<typeof activities.trainCandidate>[0]], CandidateRef, typeof activities.trainCandidate>(activities.trainCandidate, { runId: runIds[0]!, modelId, snapshotId: snapshots[0]!.snapshotId, trainerParams: params });
  assert.equal(again.versionId, candidates[0]!.versionId);
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
