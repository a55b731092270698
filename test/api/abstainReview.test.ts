// The abstain band served, through the routers over PGlite/PostgreSQL: a version's frozen rule answers
// 'abstain' inside its band, the request becomes a review item due after the model's SLA in the same
// transaction, the annotation pool gets review items first (soonest due first), and a label settles the
// item and becomes the example's label (source 'review', selected by the model with probability 1),
// never over an imported label. Plus the queue's SLA figures, the before/after report, refusals.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { TRPCClientError } from '@trpc/client';
import { and, eq } from 'drizzle-orm';
import type { ApiClient } from '../../api/client';
import { servedTallies } from '../../analysis/abstainReport';
import { versionArtifact } from '../../db/models';
import { servedBandTallies } from '../../db/review';
import { aggregatedLabels, annotationBatches, annotationTasks, examples, models, modelVersions, predictions, type DecisionRule } from '../../db/schema';
import { deserializeArtifact, predictBatch } from '../../trainers/hashedLogReg';
import { corpusSubset, uid } from '../helpers';
import { assertNothingWritten, fingerprint, plantProductionVersion, startCallerEnv, type CallerEnv } from '../caller';

let env: CallerEnv;
let ingest: ApiClient;
let annotator: ApiClient;
let model: string;
let modelId: number;
let versionId: number;
let rule: DecisionRule;
const SLA = 3600;
const emails = corpusSubset().slice(0, 420);
const traffic = emails.slice(300);
/** Traffic e-mails with their local scores, split by the band. */
let inside: ((typeof traffic)[number] & { score: number })[];
let outside: ((typeof traffic)[number] & { score: number })[];

const codeOf = (err: unknown) => (err instanceof TRPCClientError ? (err.data as { code?: string }).code : undefined);
const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000).toISOString();

before(async () => {
  env = await startCallerEnv();
  ingest = (await env.as(`frontend-${uid()}`, 'ingest')).client;
  const reviewer = `reviewer-${uid()}`;
  annotator = (await env.as(reviewer, 'annotator')).client;
  model = `spam-${uid()}`;
  await env.clients.operator.models.register.mutate({ name: model, reviewSlaSeconds: SLA });
  await env.clients.operator.annotation.registerAnnotator.mutate({ subject: reviewer });
  [{ id: modelId }] = (await env.db.select({ id: models.id }).from(models).where(eq(models.name, model))) as [{ id: number }];
  versionId = await plantProductionVersion(env.db, modelId, emails.slice(0, 300));
  // The band between the traffic's 30th and 70th score percentiles, as a rule frozen at evaluation would hold it.
  const local = predictBatch(deserializeArtifact((await versionArtifact(env.db, versionId))!), traffic.map((e) => e.input));
  const sorted = [...local].sort((a, b) => a - b);
  const threshold = sorted[Math.floor(sorted.length / 2)]!;
  rule = { threshold, abstain: { lower: sorted[Math.floor(sorted.length * 0.3)]!, upper: sorted[Math.floor(sorted.length * 0.7)]! }, policyVersion: 1 };
  await env.db.update(modelVersions).set({ decisionRule: rule }).where(eq(modelVersions.id, versionId));
  const scored = traffic.map((e, i) => ({ ...e, score: local[i]! }));
  inside = scored.filter((e) => e.score >= rule.abstain!.lower && e.score < rule.abstain!.upper);
  outside = scored.filter((e) => !(e.score >= rule.abstain!.lower && e.score < rule.abstain!.upper));
  assert.ok(inside.length >= 20 && outside.length >= 20, 'both sides of the band occur');
});
after(async () => {
  await env?.stop();
});

test('resolve returns the answering version’s decision rule, to ingest and viewer', async () => {
  for (const c of [ingest, env.clients.viewer]) {
    const r = await c.models.resolve.query({ name: model, requestKey: 'k' });
    assert.deepEqual(r.decisionRule, rule);
    assert.deepEqual(r.shadow, []);
  }
});

test('predict answers abstain inside the band with the threshold as fallback, and queues each abstained request for review in the same call', async () => {
  const occurredAt = minutesAgo(30);
  // Two abstained without an externalId (kept under their request id), the rest with one.
  const batch = [...inside.slice(0, 6), ...outside.slice(0, 6)];
  const requests = batch.map((e, i) => ({
    requestId: `p-${i}`,
    ...(i < 2 ? {} : { externalId: e.externalId }),
    input: e.input,
    attributes: { ...e.slices } as Record<string, string>,
    occurredAt,
  }));
  const out = await ingest.models.predict.mutate({ name: model, requests });
  assert.equal(out.queuedForReview, 6);
  out.results.forEach((r, i) => {
    assert.equal(r.fallback, r.score >= rule.threshold ? 1 : 0, `fallback of ${r.requestId}`);
    assert.equal(r.decision, i < 6 ? 'abstain' : r.fallback, `decision of ${r.requestId}`);
  });
  const rows = await env.db.select().from(predictions).where(eq(predictions.modelId, modelId));
  for (const [i, r] of out.results.entries()) {
    const row = rows.find((x) => x.requestId === r.requestId)!;
    assert.equal(row.abstained, i < 6 ? 1 : 0);
    assert.equal(row.decision, r.fallback, 'the decision stored is the fallback');
    if (i < 2) assert.equal(row.exampleExternalId, r.requestId, 'an abstained request without externalId is kept under its request id');
  }
  const kept = await env.db.select().from(examples).where(and(eq(examples.modelId, modelId), eq(examples.externalId, 'p-0')));
  assert.equal(kept.length, 1);
  assert.deepEqual(kept[0]!.input, batch[0]!.input);

  const [batchRow] = await env.db.select().from(annotationBatches).where(and(eq(annotationBatches.modelId, modelId), eq(annotationBatches.kind, 'review')));
  assert.ok(batchRow, 'the review batch was created on demand');
  assert.deepEqual([batchRow.overlap, batchRow.goldShare, batchRow.runId, batchRow.status], [1, 0, null, 'open']);
  const tasks = await env.db.select().from(annotationTasks).where(eq(annotationTasks.batchId, batchRow.id));
  assert.equal(tasks.length, 6);
  for (const t of tasks) {
    assert.equal(t.stratum, 'abstain');
    assert.equal(t.inclusionProbability, 1);
    assert.equal(t.isGold, 0);
    assert.equal(t.dueAt!.getTime(), Date.parse(occurredAt) + SLA * 1000, 'due = served + the model’s SLA');
    const served = out.results.find((r) => r.requestId === t.requestId)!;
    assert.ok(Math.abs(t.score! - served.score) < 1e-6);
  }
  // A replay is logged once and queued once; no workflow was signalled or started for the review batch.
  const again = await ingest.models.predict.mutate({ name: model, requests });
  assert.deepEqual([again.logged, again.queuedForReview], [0, 0]);
  assert.equal((await env.db.select().from(annotationTasks).where(eq(annotationTasks.batchId, batchRow.id))).length, 6);
  assert.equal(env.temporal.calls.length, 0);
});

test('the pool gets review items before a sample batch’s, soonest due first; a label becomes the example’s label with its selection', async () => {
  // A sample batch created earlier, with an open task, would come first by age.
  const sampleId = `sample-${uid()}`;
  const [ex] = await env.db.select({ id: examples.id }).from(examples).where(eq(examples.modelId, modelId)).limit(1);
  await env.db.insert(annotationBatches).values({ id: sampleId, modelId, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(Date.now() + 86_400_000), createdBy: 'test', createdAt: new Date(Date.now() - 86_400_000) });
  await env.db.insert(annotationTasks).values({ batchId: sampleId, exampleId: ex!.id, stratum: 's', inclusionProbability: 0.5 });
  // An abstained request served earlier than the ones above: due sooner, reviewed first.
  const early = inside[10]!;
  await ingest.models.predict.mutate({ name: model, requests: [{ requestId: 'early', externalId: early.externalId, input: early.input, attributes: {}, occurredAt: minutesAgo(50) }] });

  const first = await annotator.annotation.next.mutate({});
  assert.equal(first.task!.example.externalId, early.externalId, 'the soonest due review item first');
  const done = await annotator.annotation.submit.mutate({ taskId: first.task!.taskId, label: 1, specVersion: first.task!.spec.version });
  assert.equal(done.taskStatus, 'done');
  const [labelled] = await env.db.select().from(examples).where(and(eq(examples.modelId, modelId), eq(examples.externalId, early.externalId)));
  assert.equal(labelled!.label, 1);
  assert.equal(labelled!.labelSource, 'review');
  assert.deepEqual(labelled!.labelSelection, { by: 'model', how: 'abstain-band', inclusionProbability: 1, requestId: 'early', version: 1 });
  const [agg] = await env.db.select().from(aggregatedLabels).where(eq(aggregatedLabels.taskId, first.task!.taskId));
  assert.deepEqual([agg!.method, agg!.label, agg!.labelCount], ['review', 1, 1]);
  assert.equal(env.temporal.calls.filter((c) => c.kind === 'signal').length, 0, 'no workflow to signal for a review batch');

  const second = await annotator.annotation.next.mutate({});
  assert.equal(second.task!.batchId, `review-model-${modelId}`, 'review items still come before the older sample batch');
  await annotator.annotation.skip.mutate({ taskId: second.task!.taskId });
});

test('a review never overwrites a label from an import', async () => {
  const e = inside[15]!;
  await env.clients.operator.models.importExamples.mutate({ name: model, examples: [{ externalId: e.externalId, input: e.input, label: 0, slices: {}, split: 'train' }] });
  await ingest.models.predict.mutate({ name: model, requests: [{ requestId: 'imported', externalId: e.externalId, input: e.input, attributes: {}, occurredAt: minutesAgo(55) }] });
  const task = await annotator.annotation.next.mutate({});
  assert.equal(task.task!.example.externalId, e.externalId);
  await annotator.annotation.submit.mutate({ taskId: task.task!.taskId, label: 1, specVersion: task.task!.spec.version });
  const [row] = await env.db.select().from(examples).where(and(eq(examples.modelId, modelId), eq(examples.externalId, e.externalId)));
  assert.deepEqual([row!.label, row!.labelSource, row!.labelSelection], [0, 'import', null]);
  const [agg] = await env.db.select().from(aggregatedLabels).where(eq(aggregatedLabels.taskId, task.task!.taskId));
  assert.equal(agg!.method, 'review', 'the review is recorded beside the import label');
});

test('logPredictions takes abstain from a team’s own serving: fallback defaulted from the threshold, kept under the request id; refusals write nothing', async () => {
  const e = inside[20]!;
  const base = { version: 1, score: e.score, input: e.input, attributes: {}, occurredAt: minutesAgo(5) };
  const out = await ingest.serving.logPredictions.mutate({ name: model, requests: [{ requestId: 'ext-1', decision: 'abstain', ...base }] });
  assert.equal(out.queuedForReview, 1);
  const [row] = await env.db.select().from(predictions).where(and(eq(predictions.modelId, modelId), eq(predictions.requestId, 'ext-1')));
  assert.deepEqual([row!.abstained, row!.decision, row!.exampleExternalId], [1, e.score >= rule.threshold ? 1 : 0, 'ext-1']);

  const before = await fingerprint(env.db);
  const refusals = [
    { requests: [{ requestId: 'ext-2', decision: 'abstain' as const, version: 1, score: 0.5, attributes: {}, occurredAt: minutesAgo(5) }], message: /requests\[0\]\.input is missing/ },
    { requests: [{ requestId: 'ext-3', decision: 1 as const, fallback: 0 as const, ...base }], message: /requests\[0\]\.fallback is given with decision 1/ },
  ];
  for (const r of refusals) {
    await assert.rejects(ingest.serving.logPredictions.mutate({ name: model, requests: r.requests }), (err: unknown) => codeOf(err) === 'BAD_REQUEST' && r.message.test((err as Error).message));
  }
  await assert.rejects(ingest.models.predict.mutate({ name: model, requests: [{ requestId: 'bad', input: e.input, attributes: {}, occurredAt: 'yesterday' }] }), (err: unknown) => codeOf(err) === 'BAD_REQUEST');
  await assertNothingWritten(env.db, before, 'refused abstain logs');
});

test('review queue and abstain report: viewer reads them; no token or a wrong role is refused', async () => {
  const q = await env.clients.viewer.review.queue.query({ name: model });
  // 6 + early + imported + ext-1 queued; early and imported reviewed, each within its hour.
  assert.deepEqual([q.items, q.reviewed, q.pending, q.overdue, q.slaSeconds], [9, 2, 7, 0, SLA]);
  assert.deepEqual([q.withinSla.count, q.withinSla.n], [2, 2]);
  assert.ok(q.medianSecondsToReview !== null && q.medianSecondsToReview >= 0);
  assert.equal(q.oldestPendingDueAt !== null && Date.parse(q.oldestPendingDueAt) > Date.now(), true);

  // Labels on two decided requests: one imported (counts), one from feedback (selected by a user: left out).
  const [counted, userChosen] = [outside[0]!, outside[1]!];
  await env.db.update(examples).set({ label: counted.label, labelSource: 'import' }).where(and(eq(examples.modelId, modelId), eq(examples.externalId, counted.externalId)));
  await env.db
    .update(examples)
    .set({ label: userChosen.label, labelSource: 'feedback', labelSelection: { by: 'user', how: 'feedback:correction', inclusionProbability: null } })
    .where(and(eq(examples.modelId, modelId), eq(examples.externalId, userChosen.externalId)));
  const report = await env.clients.viewer.review.abstainReport.query({ name: model });
  assert.equal(report.version, 1);
  assert.deepEqual(report.rule, rule);
  assert.equal(report.ruleFrozen, true);
  assert.equal(report.heldOutRows, null, 'no held-out scores stored for a hand-planted version');
  const overall = report.groups[0]!;
  assert.equal(overall.attribute, null);
  const logged = await env.db.select().from(predictions).where(eq(predictions.modelId, modelId));
  assert.equal(overall.after.n, logged.length);
  assert.equal(overall.after.abstained.count, logged.filter((p) => p.abstained === 1).length);
  // Of the decided requests only the imported label counts; review labels (inside the band) and feedback labels never do.
  assert.equal(overall.after.errorOutside.n, 1);
  assert.equal(overall.after.errorOutside.count, (counted.score >= rule.threshold ? 1 : 0) === counted.label ? 0 : 1);

  await assert.rejects(env.client(null).review.queue.query({ name: model }), (err: unknown) => codeOf(err) === 'UNAUTHORIZED');
  await assert.rejects(ingest.review.abstainReport.query({ name: model }), (err: unknown) => codeOf(err) === 'FORBIDDEN');
  await assert.rejects(annotator.review.queue.query({ name: model }), (err: unknown) => codeOf(err) === 'FORBIDDEN');
});

test('retrain review prints the queue and its SLA (human and --json); a role that may not read it exits 3', async () => {
  const url = await env.serve();
  const cli = (args: string[], token: string) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'bin/retrain.ts', ...args], { encoding: 'utf8', env: { ...process.env, RETRAIN_API_URL: url, RETRAIN_TOKEN: token }, timeout: 120_000 }, (err, out, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: stderr }),
      );
    });
  const json = await cli(['review', model, '--json'], env.tokens.viewer);
  assert.equal(json.code, 0, json.err);
  const q = JSON.parse(json.out) as { reviewed: number; pending: number; withinSla: { count: number } };
  assert.deepEqual([q.reviewed, q.pending, q.withinSla.count], [2, 7, 2]);
  const human = await cli(['review', model], env.tokens.viewer);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /pending 7 \(overdue 0\)/);
  assert.match(human.out, /reviewed 2; within SLA 2\/2 = 100\.0%/);
  const refused = await cli(['review', model], (await env.as(`frontend-cli-${uid()}`, 'ingest')).token);
  assert.equal(refused.code, 3, refused.err);
});

test('the served side is tallied in the database exactly as the pure tally over the same rows, per group', async () => {
  // Imported labels on the decided requests among 30 of the traffic, every third flipped so some decisions are wrong; reviews and feedback stay out.
  for (const [i, e] of outside.slice(2, 32).entries()) {
    await env.db.update(examples).set({ label: i % 3 === 0 ? 1 - e.label : e.label, labelSource: 'import' }).where(and(eq(examples.modelId, modelId), eq(examples.externalId, e.externalId)));
  }
  const rows = await env.db
    .select({ score: predictions.score, abstained: predictions.abstained, slices: predictions.attributes, label: examples.label, source: examples.labelSource, selection: examples.labelSelection })
    .from(predictions)
    .leftJoin(examples, and(eq(examples.modelId, predictions.modelId), eq(examples.externalId, predictions.exampleExternalId)))
    .where(and(eq(predictions.modelId, modelId), eq(predictions.versionId, versionId)));
  const counts = (source: string | null, selection: { by: string } | null) => source !== null && source !== 'review' && source !== 'feedback' && (selection?.by ?? 'design') === 'design';
  const pure = servedTallies(
    rows.map((r) => ({ score: r.score, abstained: r.abstained === 1, slices: r.slices, label: r.label !== null && counts(r.source, r.selection) ? r.label : null })),
    rule,
  );
  const inDb = await servedBandTallies(env.db, modelId, versionId, rule.threshold);
  assert.equal(inDb.length, pure.size);
  for (const g of inDb) {
    const key = g.attribute === null ? '' : JSON.stringify([g.attribute, g.value]);
    assert.deepEqual({ n: g.n, abstained: g.abstained, decidedLabelled: g.decidedLabelled, errors: g.errors }, pure.get(key), key || 'overall');
  }
  const overall = inDb.find((g) => g.attribute === null)!;
  assert.ok(overall.decidedLabelled >= 5 && overall.errors >= 2, `labelled ${overall.decidedLabelled}, wrong ${overall.errors}`);
});
