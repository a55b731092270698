// A worker killed with SIGKILL while an annotation batch is open: labels keep arriving through the API
// while no worker runs (the API writes them to the database; Temporal buffers its signals), a new
// worker replays the batch, and the batch completes with every submitted label stored exactly once.
// Worker processes need a database they can share with this one, so this test runs on PostgreSQL.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { aggregatedLabels, annotationBatches, annotationTasks, labels, runs } from '../../db/schema';
import { batchProgressQuery, type AnnotationBatchResult } from '../../workflows/messages';
import { annotatorClient, crashTestRig, logTraffic, needsSharedDatabase, registerModelWithData, type TestEnv, uid, waitFor, waitForStatus } from '../helpers';

const skip = needsSharedDatabase;
const suffix = uid();
const rig = crashTestRig('acrash');
let env: TestEnv;
const startWorker = () => rig.startWorker();
const kill = (child: ChildProcess) => rig.kill(child);

before(async () => {
  if (skip) return;
  env = await rig.start();
});
after(() => rig.stop());

interface Submitted {
  taskId: number;
  annotator: string;
  label: number;
}

test('a worker crash during a batch loses no label', { skip, timeout: 300_000 }, async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const first = startWorker();
  const bootstrap = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, bootstrap.runId, ['promoted'], 180_000);

  const truth = new Map<string, CorpusEmail>(loadCorpus().map((e) => [e.externalId, e]));
  // Production traffic outside the training subset (which holds every 5th e-mail).
  await logTraffic(env, model, loadCorpus().filter((_, i) => i % 5 === 1).slice(0, 40));
  const pool: { subject: string; client: ApiClient }[] = [];
  for (const name of ['ann', 'ben', 'cat']) {
    const subject = `${name}-${suffix}`;
    pool.push({ subject, client: await annotatorClient(env, subject) });
  }

  const budget = 8;
  const overlap = 2;
  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    annotation: { budget, overlap, goldShare: 0, quorum: 1, deadlineSeconds: 150, assignmentSeconds: 5, seed: 3 },
  });
  const batchId = `batch-${runId}`;
  await waitFor('the run to reach annotating', async () => (await db.select().from(runs).where(eq(runs.id, runId)))[0]?.step === 'annotating');
  const tasks = await db.select().from(annotationTasks).where(eq(annotationTasks.batchId, batchId));
  assert.equal(tasks.length, budget, 'goldShare 0: the batch holds the sampled items only');
  // Label only once the child workflow exists, so every signal the API sends has somewhere to go.
  const batchHandle = env.services.client.workflow.getHandle<() => Promise<AnnotationBatchResult>>(batchId);
  await waitFor('the annotationBatch workflow', async () => {
    try {
      return (await batchHandle.describe()).status.name === 'RUNNING';
    } catch {
      return false;
    }
  });

  // Annotators take turns (next → submit the true label), sequentially, so the count is exact.
  const submitted: Submitted[] = [];
  let turn = 0;
  async function labelSome(n: number): Promise<number> {
    let made = 0;
    let idleRounds = 0;
    while (made < n) {
      const a = pool[turn++ % pool.length]!;
      const { task } = await a.client.annotation.next.mutate({});
      if (!task) {
        if (++idleRounds >= pool.length) return made; // nobody found a task: the batch is fully labelled
        continue;
      }
      idleRounds = 0;
      const label = truth.get(task.example.externalId)!.label;
      const r = await a.client.annotation.submit.mutate({ taskId: task.taskId, label, specVersion: task.spec.version });
      assert.equal(r.duplicate, false);
      submitted.push({ taskId: task.taskId, annotator: a.subject, label });
      made++;
    }
    return made;
  }
  const signalsInHistory = async () =>
    ((await batchHandle.fetchHistory()).events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;

  // Some labels while the first worker runs; it has seen their signals before it dies.
  assert.equal(await labelSome(5), 5);
  await waitFor('the batch to count 5 signals', async () => (await batchHandle.query(batchProgressQuery)).signals === 5, 30_000);
  await kill(first);
  const killedAt = Date.now();

  // No worker runs now: the API still stores labels, and Temporal buffers the signals.
  assert.equal(await labelSome(6), 6);
  assert.equal(
    (await db.select().from(labels).innerJoin(annotationTasks, eq(annotationTasks.id, labels.taskId)).where(eq(annotationTasks.batchId, batchId))).length,
    11,
    'labels submitted while no worker ran are stored',
  );
  assert.equal(await signalsInHistory(), 11, 'their signals are in the batch history, waiting for a worker');
  const [stillOpen] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
  assert.equal(stillOpen!.status, 'open');

  // A new worker replays the batch (signals included); the remaining labels arrive while it starts.
  startWorker();
  const rest = await labelSome(budget * overlap - submitted.length);
  assert.equal(submitted.length, budget * overlap, `every task got its ${overlap} labels (${rest} after the restart)`);
  assert.equal(await labelSome(1), 0, 'no task is left to label');

  const batchResult = await batchHandle.result();
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed', 'cancelled'], 120_000);
  assert.ok(['promoted', 'rejected'].includes(run.status), `run ${run.status}: ${JSON.stringify(run.result)}`);
  process.stderr.write(`annotationCrash: batch closed ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill\n`);

  // Every submitted label is stored exactly once, as submitted, and nothing else is.
  const stored = await db
    .select({ taskId: labels.taskId, annotator: labels.annotator, label: labels.label, superseded: labels.supersededBySpec })
    .from(labels)
    .innerJoin(annotationTasks, eq(annotationTasks.id, labels.taskId))
    .where(eq(annotationTasks.batchId, batchId));
  assert.equal(stored.length, submitted.length, `${stored.length} labels stored, ${submitted.length} submitted`);
  for (const s of submitted) {
    const rows = stored.filter((r) => r.taskId === s.taskId && r.annotator === s.annotator);
    assert.equal(rows.length, 1, `label of ${s.annotator} on task ${s.taskId} stored once`);
    assert.equal(rows[0]!.label, s.label);
    assert.equal(rows[0]!.superseded, null);
  }

  const [closed] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
  assert.equal(closed!.status, 'complete');
  assert.equal((closed!.sla as { labels: number }).labels, submitted.length);
  assert.equal(batchResult.closedBy, 'complete');
  assert.equal(batchResult.progress.labels, submitted.length);
  assert.equal(batchResult.progress.done, budget);
  assert.equal(batchResult.signals, submitted.length, 'every signal reached the workflow, those buffered during the outage included');

  const aggregated = await db.select().from(aggregatedLabels).where(eq(aggregatedLabels.batchId, batchId));
  assert.equal(aggregated.length, budget, 'one aggregated label per sampled item');
  assert.deepEqual(new Set(aggregated.map((a) => a.taskId)), new Set(tasks.map((t) => t.id)));
  for (const a of aggregated) assert.equal(a.labelCount, overlap);
});
