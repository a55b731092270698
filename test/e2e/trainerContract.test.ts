// Runs through the trainer contract on the real dev server: the built-in trainer trains and scores by
// reference (its artifact in the control plane's store, the version's lineage recorded, the run's history
// small), and a run whose trainer's queue has no worker waits, says so, and fails clearly after the
// model's time-to-start instead of hanging.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { artifacts, models, modelVersions, scoreSets } from '../../db/schema';
import { builtinDescription } from '../../activities/index';
import { upsertTrainer } from '../../db/trainers';
import { registerModelWithData, startTestEnv, waitFor, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

test('the built-in trainer through the contract: artifact in the store, scores put back, lineage recorded, history small', async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', trainerParams: { epochs: 2 } });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed']);
  assert.equal(run.status, 'promoted', JSON.stringify(run.result));

  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.ok(v);
  assert.equal(v.trainer, 'builtin/hashed-logreg');
  assert.equal(v.trainerVersion, '1');
  assert.match(v.codeDigest ?? '', /^sha256:[0-9a-f]{64}$/);
  assert.equal(v.artifact, null, 'the bytes are in the store, not the row');
  assert.equal(v.artifactUri, `retrain-store:${v.artifactHash}`);
  const [stored] = await db.select({ size: artifacts.size }).from(artifacts).where(eq(artifacts.sha256, v.artifactHash));
  assert.equal(stored?.size, v.artifactSize, 'the store holds the artifact the version names');
  assert.ok(v.labelSources && (v.labelSources.import ?? 0) > 0, JSON.stringify(v.labelSources));
  const sets = await db.select().from(scoreSets).where(eq(scoreSets.versionId, v.id));
  assert.equal(sets.length, 1, 'the candidate scored once on the held-out split');
  assert.equal(sets[0]!.status, 'complete');

  // The scored version serves: predict loads it from the store.
  const served = await env.clients.admin.models.predict.mutate({ name: model, requests: [{ requestId: `r-${runId}`, input: { subject: 'cheap meds now', body: 'buy now' }, occurredAt: new Date().toISOString() }] });
  assert.equal(served.results.length, 1);

  // Data by reference: the whole history is small and no payload carries rows.
  const history = await env.services.client.workflow.getHandle(runId).fetchHistory();
  const bytes = Buffer.byteLength(JSON.stringify(history));
  assert.ok(bytes < 256 * 1024, `run history ${bytes} bytes`);
});

test('a run whose trainer queue has no worker says it waits there, then fails naming the trainer and the queue', async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const queue = `nobody-serves-${model}`;
  // A trainer registered once whose workers are gone (its row as trainers.register stored it).
  await upsertTrainer(db, { description: { ...builtinDescription, name: 'sklearn/tabular' }, taskQueue: queue, registeredBy: 'test' });
  await db.update(models).set({ trainerName: 'sklearn/tabular', trainerQueue: queue, trainerTimeToStartSeconds: 5 }).where(eq(models.name, model));
  const started = Date.now();
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  const waiting = await waitFor('the run to say it waits for its trainer', async () => (await env.clients.viewer.runs.get.query({ runId })).waitingForTrainer, 20_000);
  assert.equal(waiting.trainer, 'sklearn/tabular');
  assert.equal(waiting.taskQueue, queue);
  assert.equal(waiting.activity, 'trainer.train');
  assert.equal(waiting.timeToStartSeconds, 5);
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 60_000);
  const seconds = (Date.now() - started) / 1000;
  assert.equal(run.status, 'failed');
  const reason = String((run.result as { reason?: string }).reason);
  assert.match(reason, new RegExp(`no worker of trainer 'sklearn/tabular' took trainer.train from task queue '${queue}' within 5 s`));
  assert.equal((run.result as { step?: string }).step, 'training');
  assert.ok(seconds >= 5 && seconds < 40, `failed after ${seconds} s`);
  const versions = await db.select().from(modelVersions).where(eq(modelVersions.runId, runId));
  assert.equal(versions.length, 0, 'no version recorded');
});
