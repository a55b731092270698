// The served abstain band on the real stack (Temporal, database, workers, API over HTTP): a spam model whose
// policy sets abstainHalfWidth is bootstrapped and promoted by a real run, which freezes the version's
// decision rule; predict answers 'abstain' inside the band; a reviewer labels the item through the API; and
// the next run's dataset snapshot holds that example with label source 'review'.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq } from 'drizzle-orm';
import { createApiClient, type ApiClient } from '../../api/client';
import { loadCorpus } from '../../demo/corpus';
import { datasetSnapshotMembers, datasetSnapshots, examples, models, modelVersions, routes } from '../../db/schema';
import { issueToken } from '../../db/tokens';
import { annotatorClient, corpusSubset, startTestEnv, toExampleInputs, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
let ingest: ApiClient;
// Mail the model was not trained on: the corpus subset is every fifth mail from 0.
const traffic = loadCorpus()
  .filter((_, i) => i % 5 === 3)
  .slice(0, 300);

before(async () => {
  env = await startTestEnv();
  ingest = createApiClient(env.url, (await issueToken(env.services.opened.db, { subject: `frontend-${uid()}`, role: 'ingest', createdBy: 'test' })).token);
});
after(async () => {
  await env?.stop();
});

test('a promoted version with a band serves abstain; the reviewed label reaches the next run’s snapshot as a review label', async () => {
  const db = env.services.opened.db;
  const model = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({
    name: model,
    gatePolicy: { minSliceSupport: 10, abstainHalfWidth: 0.1, rules: [{ kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.08 }] },
  });
  const rows = toExampleInputs(corpusSubset());
  for (let i = 0; i < rows.length; i += 500) await env.clients.operator.models.importExamples.mutate({ name: model, examples: rows.slice(i, i + 500) });
  const first = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  assert.equal((await waitForStatus(env, first.runId, ['promoted', 'rejected', 'failed'], 240_000)).status, 'promoted');

  // The rule was frozen when the candidate was evaluated: threshold 0.5 (the evaluation's), band [0.4, 0.6), policy version 1.
  const [m] = await db.select({ id: models.id }).from(models).where(eq(models.name, model));
  const [route] = await db.select().from(routes).where(and(eq(routes.modelId, m!.id), eq(routes.kind, 'production')));
  const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, route!.versionId));
  assert.equal(v!.decisionRule!.threshold, 0.5);
  assert.ok(Math.abs(v!.decisionRule!.abstain!.lower - 0.4) < 1e-12 && Math.abs(v!.decisionRule!.abstain!.upper - 0.6) < 1e-12);
  assert.equal(v!.decisionRule!.policyVersion, 1);
  assert.deepEqual((await ingest.models.resolve.query({ name: model, requestKey: 'u' })).decisionRule, v!.decisionRule);

  const at = new Date(Date.now() - 10 * 60_000).toISOString();
  const served = await ingest.models.predict.mutate({
    name: model,
    requests: traffic.map((e, i) => ({ requestId: `t-${i}`, externalId: `traffic-${e.externalId}`, input: e.input, attributes: { ...e.slices } as Record<string, string>, occurredAt: at })),
  });
  const abstained = served.results.filter((r) => r.decision === 'abstain');
  assert.ok(abstained.length > 0, 'some traffic falls in the band');
  assert.equal(served.queuedForReview, abstained.length);
  for (const r of abstained) assert.ok(r.score >= 0.4 && r.score < 0.6);

  const reviewer = await annotatorClient(env, `reviewer-${uid()}`);
  const next = await reviewer.annotation.next.mutate({});
  assert.ok(next.task, 'the review item waits for the pool');
  const reviewedId = next.task.example.externalId;
  const truth = traffic.find((e) => `traffic-${e.externalId}` === reviewedId)!.label;
  await reviewer.annotation.submit.mutate({ taskId: next.task.taskId, label: truth, specVersion: next.task.spec.version });
  const queue = await env.clients.viewer.review.queue.query({ name: model });
  assert.deepEqual([queue.reviewed, queue.pending, queue.withinSla.count], [1, abstained.length - 1, 1]);

  // Before (held-out, recomputed from the stored scores) is what the packet predicted; after counts what was served.
  const report = await env.clients.viewer.review.abstainReport.query({ name: model });
  const packet = (await env.clients.viewer.reports.get.query({ runId: first.runId })).packet!;
  const overall = report.groups[0]!;
  assert.equal(report.heldOutRows, packet.heldOut.rows);
  assert.equal(overall.before!.abstained.count, packet.abstain!.deferred);
  assert.equal(overall.before!.coverage, packet.abstain!.coverage);
  assert.equal(overall.before!.errorOutside.count / overall.before!.errorOutside.n, packet.abstain!.errorRateOutside);
  assert.deepEqual([overall.after.n, overall.after.abstained.count], [traffic.length, abstained.length]);

  const second = await env.clients.operator.runs.start.mutate({ model, trigger: 'manual' });
  await waitForStatus(env, second.runId, ['promoted', 'rejected', 'failed', 'awaiting_approval'], 240_000);
  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, second.runId));
  assert.ok(snap, 'the second run froze a snapshot');
  const [member] = await db
    .select({ label: datasetSnapshotMembers.label, source: examples.labelSource, selection: examples.labelSelection })
    .from(datasetSnapshotMembers)
    .innerJoin(examples, eq(examples.id, datasetSnapshotMembers.exampleId))
    .where(and(eq(datasetSnapshotMembers.snapshotId, snap.id), eq(examples.externalId, reviewedId)));
  assert.ok(member, 'the reviewed example is in the next run’s snapshot');
  assert.deepEqual([member.label, member.source], [truth, 'review']);
  assert.equal(member.selection?.how, 'abstain-band');
  assert.equal(member.selection?.inclusionProbability, 1);
});
