// The annotation loop through a real Temporal server and the API: a run samples production traffic,
// an annotationBatch child hands tasks to annotators (pull, label, skip; expiry and reassignment;
// a guidelines change forcing relabels; adjudication of disagreements), the labels are aggregated
// (Dawid-Skene beside majority vote, Horvitz-Thompson production accuracy) and become training labels
// of the snapshot the candidate is trained on.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { createApiClient } from '../../api/client';
import { issueToken } from '../../db/tokens';
import { runAnnotators, type SimulatedAnnotator } from '../../demo/annotators';
import { loadCorpus, type CorpusEmail } from '../../demo/corpus';
import {
  aggregatedLabels,
  annotationAssignments,
  annotationBatches,
  annotationTasks,
  datasetSnapshotMembers,
  datasetSnapshots,
  examples,
  labels,
} from '../../db/schema';
import {
  annotatorClient as annotatorClientOf,
  logTraffic as logTrafficOf,
  registerModelWithData,
  startTestEnv,
  uid,
  waitFor,
  waitForStatus,
  type TestEnv,
} from '../helpers';

let env: TestEnv;
let model: string;
const suffix = uid();
const truth = new Map<string, CorpusEmail>();

const annotatorClient = (name: string, attributes: Record<string, string> = {}, adjudicator = false) =>
  annotatorClientOf(env, `${name}-${suffix}`, attributes, adjudicator);

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined);

/** Logs `emails` as production traffic answered by the production version: unlabelled examples + predictions. */
const logTraffic = (emails: CorpusEmail[]) => logTrafficOf(env, model, emails);

before(async () => {
  env = await startTestEnv();
  model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  for (const e of loadCorpus()) truth.set(e.externalId, e);
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  await waitForStatus(env, runId, ['promoted']);
});
after(async () => {
  await env?.stop();
});

const truthOf = (externalId: string) => {
  const e = truth.get(externalId);
  return e ? { label: e.label, slices: { ...e.slices } as Record<string, string> } : undefined;
};

test('a run samples traffic, annotators label it (expiry, relabel, adjudication), and the labels train the candidate', { timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  // Traffic the model answered: e-mails outside the test subset (which holds every 5th).
  const traffic = loadCorpus().filter((_, i) => i % 5 === 1).slice(0, 80);
  const modelId = await logTraffic(traffic);

  const alice = await annotatorClient('alice');
  const bob = await annotatorClient('bob');
  const carol = await annotatorClient('carol');
  const judge = await annotatorClient('judge', {}, true);

  // Not in the pool, wrong role: refused before anything is written.
  const { token: strangerToken } = await issueToken(db, { subject: `stranger-${suffix}`, role: 'annotator', createdBy: 'test' });
  await assert.rejects(createApiClient(env.url, strangerToken).annotation.next.mutate({}), (e) => codeOf(e) === 'FORBIDDEN');
  await assert.rejects(env.clients.viewer.annotation.next.mutate({}), (e) => codeOf(e) === 'FORBIDDEN');
  await assert.rejects(alice.runs.start.mutate({ model }), (e) => codeOf(e) === 'FORBIDDEN');

  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    annotation: { budget: 12, overlap: 2, goldShare: 0.2, quorum: 1, deadlineSeconds: 180, assignmentSeconds: 3, seed: 11 },
  });
  const batchId = `batch-${runId}`;
  const batch = await waitFor('the batch', async () => (await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId)))[0]);
  const tasks = await db.select().from(annotationTasks).where(eq(annotationTasks.batchId, batchId));
  assert.equal(tasks.filter((t) => t.isGold === 0).length, 12);
  assert.equal(tasks.filter((t) => t.isGold === 1).length, 3, 'gold is 20% of the batch: 3 of 15');
  for (const t of tasks.filter((x) => x.isGold === 0)) {
    assert.ok(t.inclusionProbability > 0 && t.inclusionProbability <= 1, `task ${t.id} has pi ${t.inclusionProbability}`);
  }
  assert.equal(batch.specVersion, 1);

  // Pull is idempotent: asking again returns the task you hold.
  const first = (await alice.annotation.next.mutate({})).task!;
  assert.ok(first);
  assert.equal((await alice.annotation.next.mutate({})).task!.taskId, first.taskId);
  assert.equal(first.spec.labels.join(','), 'ham,spam');
  // Bad input: a label outside the spec's label set.
  await assert.rejects(alice.annotation.submit.mutate({ taskId: first.taskId, label: 7, specVersion: 1 }), (e) => codeOf(e) === 'BAD_REQUEST');

  // Alice walks away from her task: after 3 s the sweep takes it back and someone else gets it.
  await waitFor(
    'alice’s assignment to expire',
    async () =>
      (
        await db
          .select()
          .from(annotationAssignments)
          .where(and(eq(annotationAssignments.taskId, first.taskId), eq(annotationAssignments.annotator, `alice-${suffix}`)))
      )[0]?.status === 'expired',
    30_000,
  );
  await assert.rejects(alice.annotation.submit.mutate({ taskId: first.taskId, label: 0, specVersion: 1 }), (e) => codeOf(e) === 'CONFLICT');

  // Bob labels one task and resubmits it: stored once.
  const bobs = (await bob.annotation.next.mutate({})).task!;
  const truthLabel = truth.get(bobs.example.externalId)!.label;
  assert.equal((await bob.annotation.submit.mutate({ taskId: bobs.taskId, label: truthLabel, specVersion: 1 })).duplicate, false);
  assert.equal((await bob.annotation.submit.mutate({ taskId: bobs.taskId, label: truthLabel, specVersion: 1 })).duplicate, true);
  await assert.rejects(bob.annotation.submit.mutate({ taskId: bobs.taskId, label: 1 - truthLabel, specVersion: 1 }), (e) => codeOf(e) === 'CONFLICT');
  assert.equal((await db.select().from(labels).where(eq(labels.taskId, bobs.taskId))).length, 1);

  // A guidelines change affecting Bob's item: his label is superseded, the task reopens, old-spec submits are refused.
  const bobsSlices = truth.get(bobs.example.externalId)!.slices;
  const spec2 = await env.clients.operator.annotation.setSpec.mutate({
    model,
    guidelines: 'v2: newsletters the recipient subscribed to are ham even when they look like promotions.',
    affects: { corpus_group: [bobsSlices.corpus_group] },
  });
  assert.equal(spec2.version, 2);
  assert.ok(spec2.relabel.labels >= 1);
  const [superseded] = await db.select().from(labels).where(eq(labels.taskId, bobs.taskId));
  assert.equal(superseded!.supersededBySpec, 2);
  const carols = (await carol.annotation.next.mutate({})).task!;
  assert.equal(carols.spec.version, 2);
  await assert.rejects(carol.annotation.submit.mutate({ taskId: carols.taskId, label: 0, specVersion: 1 }), (e) => codeOf(e) === 'CONFLICT');
  await carol.annotation.skip.mutate({ taskId: carols.taskId });
  assert.equal((await carol.annotation.skip.mutate({ taskId: carols.taskId })).skipped, true, 'skip is idempotent');

  // A disagreement, forced: carol labels one sampled (not gold) item against the truth, and alice and bob
  // label truthfully below, so whoever labels that item second disagrees and it goes to the adjudicator.
  let disputed: number | undefined;
  while (disputed === undefined) {
    const { task } = await carol.annotation.next.mutate({});
    assert.ok(task, 'carol finds a sampled item before the batch runs out');
    const [row] = await db.select().from(annotationTasks).where(eq(annotationTasks.id, task.taskId));
    const right = truth.get(task.example.externalId)!.label;
    await carol.annotation.submit.mutate({ taskId: task.taskId, label: row!.isGold ? right : 1 - right, specVersion: task.spec.version });
    if (!row!.isGold) disputed = task.taskId;
  }

  // The pool does the rest; carol keeps disagreeing now and then.
  const pool: SimulatedAnnotator[] = [
    { subject: `alice-${suffix}`, client: alice, accuracy: 1 },
    { subject: `bob-${suffix}`, client: bob, accuracy: 1 },
    { subject: `carol-${suffix}`, client: carol, accuracy: 0.6 },
    { subject: `judge-${suffix}`, client: judge, accuracy: 1 },
  ];
  const stats = await runAnnotators({
    annotators: pool,
    truthOf,
    seed: 5,
    stop: async () => {
      const [b] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
      return b!.status !== 'open';
    },
  });

  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 120_000);
  assert.notEqual(run.status, 'failed', JSON.stringify(run.result));
  const [closed] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
  assert.equal(closed!.status, 'complete');
  const sla = closed!.sla as { labels: number; reassigned: number; medianSecondsToLabel: number };
  assert.ok(sla.reassigned >= 1, 'alice’s expired task counts as reassigned');
  assert.ok(sla.labels >= 15 * 2);

  // Every sampled item got a training label from annotation, and the run's snapshot holds them.
  const aggregated = await db.select().from(aggregatedLabels).where(eq(aggregatedLabels.batchId, batchId));
  assert.equal(aggregated.length, 12);
  const adjudicated = aggregated.filter((a) => a.method === 'adjudication').length;
  const settled = aggregated.find((a) => a.taskId === disputed);
  assert.equal(settled?.method, 'adjudication', `the disputed item ${disputed} was adjudicated: ${JSON.stringify(settled)}`);
  assert.equal(settled.label, truth.get((await db.select().from(examples).where(eq(examples.id, settled.exampleId)))[0]!.externalId)!.label, 'and the adjudicator (always right) decided it');
  assert.ok(adjudicated >= 1);
  const estimate = closed!.estimate as { summary: { adjudicated: number; productionAccuracy: { estimate: number; lower: number; upper: number } } };
  assert.equal(estimate.summary.adjudicated, adjudicated);
  // The judge (the only adjudicator) labels nothing but adjudications; gold items can need one too,
  // and they get no training label, so the sampled items adjudicated are at most the judge's labels.
  const adjudications = await db
    .select({ annotator: labels.annotator })
    .from(labels)
    .innerJoin(annotationTasks, eq(annotationTasks.id, labels.taskId))
    .where(and(eq(annotationTasks.batchId, batchId), eq(labels.adjudication, 1)));
  assert.ok(adjudications.every((l) => l.annotator === `judge-${suffix}`));
  assert.equal(adjudications.length, stats.labels[`judge-${suffix}`]);
  assert.ok(adjudicated <= adjudications.length);
  const pa = estimate.summary.productionAccuracy;
  assert.ok(pa.lower <= pa.estimate && pa.estimate <= pa.upper && pa.upper <= 1, JSON.stringify(pa));
  const annotated = await db
    .select({ id: examples.id, label: examples.label, externalId: examples.externalId })
    .from(examples)
    .where(and(eq(examples.modelId, modelId), eq(examples.labelSource, 'annotation'), isNotNull(examples.label)));
  assert.equal(annotated.length, 12);
  const correct = annotated.filter((a) => truth.get(a.externalId)!.label === a.label).length;
  assert.ok(correct >= 10, `aggregated labels match the corpus truth on ${correct} of 12`);
  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  const members = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(datasetSnapshotMembers)
    .where(and(eq(datasetSnapshotMembers.snapshotId, snap!.id), sql`${datasetSnapshotMembers.exampleId} in (${sql.join(annotated.map((a) => sql`${a.id}`), sql`, `)})`));
  assert.equal(members[0]!.n, 12, 'the snapshot includes every annotated example');
  assert.ok(['promoted', 'rejected'].includes(run.status));

  // The pool's quality as a production metric: labels and gold accuracy per batch for each annotator.
  const quality = await env.clients.viewer.annotation.annotators.query({ model });
  const bobQ = quality.find((q) => q.subject === `bob-${suffix}`)!;
  assert.ok(bobQ.labels >= 1);
  assert.equal(bobQ.gold.series[0]!.batchId, batchId);
  assert.equal(quality.find((q) => q.subject === `judge-${suffix}`)!.adjudicator, true);

  const view = await env.clients.viewer.annotation.batch.query({ batchId });
  assert.equal(view.progress.done + view.progress.open + view.progress.adjudication, 15);
  // The stored SLA and estimate come back whole: their output schemas name every field the activities stored.
  assert.deepEqual({ sla: view.sla, estimate: view.estimate }, { sla: closed!.sla, estimate: closed!.estimate });
});

test('a batch nobody labels closes at its deadline; the run goes on with the labels it has', { timeout: 180_000 }, async () => {
  const db = env.services.opened.db;
  await logTraffic(loadCorpus().filter((_, i) => i % 5 === 2).slice(0, 20));
  const { runId } = await env.clients.operator.runs.start.mutate({
    model,
    annotation: { budget: 5, goldShare: 0, deadlineSeconds: 6, assignmentSeconds: 2, seed: 2 },
  });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 120_000);
  assert.notEqual(run.status, 'failed', JSON.stringify(run.result));
  const [b] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, `batch-${runId}`));
  assert.equal(b!.status, 'deadline');
  const unresolved = await db
    .select()
    .from(annotationTasks)
    .where(and(eq(annotationTasks.batchId, `batch-${runId}`), eq(annotationTasks.status, 'unresolved')));
  assert.equal(unresolved.length, 5);
  assert.equal((b!.sla as { backlogAtClose: number }).backlogAtClose, 5);
});
