// The saturation check through a real Temporal server, on real mail: with clean labels more data
// helps or has plateaued; with a newest batch whose labels on one slice were flipped (as a biased
// annotator would) the verdict is degrading, the report names the batch, its annotators and the
// slice, and a policy's saturation rule blocks the candidate.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { and, eq, inArray } from 'drizzle-orm';
import type { ApprovalPacket } from '../../analysis/report';
import { formatSaturationReport, type SaturationReportView } from '../../api/format';
import {
  aggregatedLabels,
  annotationBatches,
  annotationTasks,
  examples,
  labels,
  models,
  saturationPoints,
  saturationReports,
} from '../../db/schema';
import { registerModelWithData, startTestEnv, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

type Report = {
  curve: { n: number; errors: number[]; mean: number }[];
  fit: { ok: boolean; projectedGainFromDoubling?: number; reason?: string };
  ablation: { batch: { batchId: string; annotators: string[] }; composition: { slice: string; share: number; lift: number }[]; slicesMostAffected: { slice: string; errorIncrease: number; significant: boolean }[] } | null;
  verdict: { verdict: string; reasons: string[]; recommendation: string };
  chart: { n: number[]; fitted: number[] } | null;
};

test('clean labels: the learning curve says improving or plateau, and the packet carries the verdict', { timeout: 240_000 }, async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', saturation: { seeds: 3 } });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 200_000);
  assert.notEqual(run.status, 'failed', JSON.stringify(run.result));
  const points = await db.select().from(saturationPoints).where(eq(saturationPoints.runId, runId));
  const curvePoints = points.filter((p) => p.variant === 'curve');
  assert.equal(curvePoints.length, 18, '6 fractions × 3 seeds, no ablation without an annotation batch');
  // The mail is dated: the newest and the oldest half of the training mail, 3 seeds each (does data go stale?).
  assert.equal(points.filter((p) => p.variant === 'newest_half' || p.variant === 'oldest_half').length, 6);
  assert.equal(points.length, 24);
  const sizes = [...new Set(curvePoints.map((p) => p.trainSize))].sort((a, b) => a - b);
  assert.equal(sizes.length, 6);
  const [row] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
  const report = row!.report as Report;
  assert.ok(['improving', 'plateau'].includes(report.verdict.verdict), JSON.stringify(report.verdict));
  assert.equal(report.ablation, null);
  assert.equal(report.curve.length, 6);
  // More data helps at the start of the curve: the smallest subset is worse than the full set.
  assert.ok(report.curve[0]!.mean > report.curve.at(-1)!.mean, JSON.stringify(report.curve.map((c) => [c.n, c.mean])));
  const packet = (await env.clients.viewer.reports.get.query({ runId })).packet as unknown as ApprovalPacket;
  assert.equal(packet.saturation?.verdict, report.verdict.verdict);
  assert.equal(packet.saturation?.reportHash, row!.contentHash);
});

test('a newest batch with one slice’s labels flipped: degrading, the batch and slice named, the gate blocks', { timeout: 300_000 }, async () => {
  const db = env.services.opened.db;
  const model = await registerModelWithData(env, { requireHumanApproval: 'never' });
  const [m] = await db.select().from(models).where(eq(models.name, model));
  // A batch whose annotator called every country-code ham in the training split spam.
  const victims = await db
    .select({ id: examples.id, slices: examples.slices })
    .from(examples)
    .where(and(eq(examples.modelId, m!.id), eq(examples.split, 'train'), eq(examples.label, 0)));
  const flipped = victims.filter((v) => v.slices.sender_tld === 'country_code');
  assert.ok(flipped.length >= 40, `only ${flipped.length} country-code ham in the training split`);
  const batchId = `batch-flipped-${m!.id}`;
  await db.insert(annotationBatches).values({ id: batchId, modelId: m!.id, specVersion: 1, overlap: 1, goldShare: 0, deadline: new Date(), status: 'complete', createdBy: 'test' });
  const tasks = await db
    .insert(annotationTasks)
    .values(flipped.map((v) => ({ batchId, exampleId: v.id, stratum: 'remainder', inclusionProbability: 1, status: 'done' as const })))
    .returning({ id: annotationTasks.id, exampleId: annotationTasks.exampleId });
  await db.insert(labels).values(tasks.map((t) => ({ taskId: t.id, annotator: 'biased-bob', label: 1, specVersion: 1 })));
  await db.insert(aggregatedLabels).values(tasks.map((t) => ({ taskId: t.id, batchId, exampleId: t.exampleId, label: 1, posterior: 1, majorityLabel: 1, dawidSkeneLabel: 1, method: 'dawid_skene' as const, labelCount: 1 })));
  await db.update(examples).set({ label: 1, labelSource: 'annotation' }).where(inArray(examples.id, flipped.map((v) => v.id)));

  // The policy judges the verdict; the run gets a saturation check because of the rule.
  await env.clients.operator.gates.setPolicy.mutate({
    model,
    policy: { minSliceSupport: 10, rules: [{ kind: 'bound', metric: 'fpr', slices: 'overall', max: 0.5 }, { kind: 'saturation', id: 'more-data', onDegrading: 'block', seeds: 3 }] },
  });
  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap' });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 250_000);
  const [row] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
  const report = row!.report as Report;
  assert.equal(report.verdict.verdict, 'degrading', JSON.stringify(report.verdict));
  assert.equal(report.verdict.recommendation, 'curate or relabel the newest batch');
  assert.equal(report.ablation!.batch.batchId, batchId);
  assert.deepEqual(report.ablation!.batch.annotators, ['biased-bob']);
  // The batch is all country-code ham: that is where it is concentrated, and where held-out errors rose.
  assert.equal(report.ablation!.composition[0]!.slice, 'sender_tld=country_code', JSON.stringify(report.ablation!.composition));
  const affected = report.ablation!.slicesMostAffected.map((s) => s.slice);
  assert.ok(affected.slice(0, 3).includes('sender_tld=country_code'), JSON.stringify(report.ablation!.slicesMostAffected));
  assert.match(report.verdict.reasons[0]!, new RegExp(`newest batch ${batchId}.*biased-bob.*concentrated in sender_tld=country_code`));
  const points = await db.select().from(saturationPoints).where(and(eq(saturationPoints.runId, runId), eq(saturationPoints.variant, 'without_newest')));
  assert.equal(points.length, 3, 'the ablation trains the full set without the batch once per seed');
  // Served through the API and drawn in the terminal.
  const served = await env.clients.viewer.reports.saturation.query({ runId });
  assert.equal(served.contentHash, row!.contentHash);
  const drawn = formatSaturationReport(runId, served.report as unknown as SaturationReportView);
  assert.match(drawn, /DEGRADING — curate or relabel the newest batch/);
  assert.match(drawn, new RegExp(`Newest batch ${batchId}: \\d+ training labels by biased-bob`));
  assert.equal((drawn.match(/o/g) ?? []).length > 0, true);
  assert.equal(run.status, 'rejected');
  assert.match(JSON.stringify(run.result), /more-data failed/);
});
