// A held-out set from the future on the real stack, on real mail (the spam corpus' Date headers): a
// policy that requires a time split gives the run one (its held_out rule's window), the snapshot, the
// packet and the version's lineage say how the held-out set was chosen, the rule passes, and the
// saturation check compares the newest half of the dated training mail with the oldest (same size,
// same seeds). A run of the same model on the recorded random split fails the rule: closed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import type { ApprovalPacket } from '../../analysis/report';
import { datasetSnapshots, saturationPoints, saturationReports } from '../../db/schema';
import { corpusSubset, startTestEnv, toExampleInputs, uid, waitForStatus, type TestEnv } from '../helpers';

let env: TestEnv;
before(async () => {
  env = await startTestEnv();
});
after(async () => {
  await env?.stop();
});

const accuracyOf = (p: ApprovalPacket) => p.candidateEvaluation.classification.overall.rates.accuracy;

test('time split required by the policy: recorded on snapshot, packet and lineage; recency compared; a random-split run fails closed', { timeout: 400_000 }, async () => {
  const db = env.services.opened.db;
  const model = `spam-time-${uid()}`;
  await env.clients.operator.models.register.mutate({
    name: model,
    gatePolicy: {
      minSliceSupport: 10,
      rules: [
        { kind: 'held_out', id: 'future', design: 'time', newest: 0.3 },
        { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.2 },
      ],
    },
  });
  const rows = toExampleInputs(corpusSubset());
  for (let i = 0; i < rows.length; i += 500) await env.clients.operator.models.importExamples.mutate({ name: model, examples: rows.slice(i, i + 500) });

  const { runId } = await env.clients.operator.runs.start.mutate({ model, trigger: 'bootstrap', saturation: { seeds: 2 } });
  const run = await waitForStatus(env, runId, ['promoted', 'rejected', 'failed'], 300_000);
  assert.equal(run.status, 'promoted', JSON.stringify(run.result));

  const [snap] = await db.select().from(datasetSnapshots).where(eq(datasetSnapshots.runId, runId));
  const design = snap!.heldOutDesign;
  assert.equal(design?.kind, 'time');
  if (design?.kind !== 'time') return;
  assert.equal(design.newest, 0.3);
  assert.equal(design.trainCount + design.heldoutCount + design.undated, rows.length);
  assert.ok(design.trainTo < design.heldOutFrom && design.heldOutFrom === design.cutAt);

  const packet = (await env.clients.viewer.reports.get.query({ runId })).packet as unknown as ApprovalPacket;
  assert.deepEqual(packet.heldOut.design, design);
  assert.equal(packet.heldOut.rows, design.heldoutCount);
  const rule = packet.judgement.rules.find((r) => r.id === 'future')!;
  assert.equal(rule.outcome, 'passed', rule.detail);
  const lineage = (await env.clients.viewer.models.lineage.query({ name: model, version: 1 })) as { snapshot: { heldOutDesign: unknown } };
  assert.deepEqual(lineage.snapshot.heldOutDesign, design);

  // Newest vs oldest half of the dated training mail, 2 seeds each, the same size.
  const points = await db.select().from(saturationPoints).where(eq(saturationPoints.runId, runId));
  const newest = points.filter((p) => p.variant === 'newest_half');
  const oldest = points.filter((p) => p.variant === 'oldest_half');
  assert.equal(newest.length, 2);
  assert.equal(oldest.length, 2);
  assert.deepEqual(newest.map((p) => p.trainSize), oldest.map((p) => p.trainSize));
  const [report] = await db.select().from(saturationReports).where(eq(saturationReports.runId, runId));
  const recency = (report!.report as { recency?: { finding: string; summary: string; trainSize: number } }).recency;
  assert.ok(recency, 'the report answers whether newer data is worth more');
  assert.equal(recency.trainSize, newest[0]!.trainSize);
  assert.ok((report!.report as { verdict: { reasons: string[] } }).verdict.reasons.includes(recency.summary));
  const viewed = await env.clients.viewer.reports.saturation.query({ runId });
  assert.equal(viewed.report.recency?.finding, recency.finding);

  // The same data on the recorded (random) split: the held_out rule fails, closed.
  const random = await env.clients.operator.runs.start.mutate({ model, heldOut: { kind: 'split' } });
  const rejected = await waitForStatus(env, random.runId, ['promoted', 'rejected', 'failed'], 200_000);
  assert.equal(rejected.status, 'rejected', JSON.stringify(rejected.result));
  const randomPacket = (await env.clients.viewer.reports.get.query({ runId: random.runId })).packet as unknown as ApprovalPacket;
  assert.equal(randomPacket.heldOut.design?.kind, 'split');
  const failed = randomPacket.judgement.rules.find((r) => r.id === 'future')!;
  assert.equal(failed.outcome, 'failed');
  assert.match(failed.detail, /not a time split/);
  process.stderr.write(
    `time split (newest 30%, cut ${design.cutAt}): accuracy ${JSON.stringify(accuracyOf(packet))} on ${design.heldoutCount}; ` +
      `random split: ${JSON.stringify(accuracyOf(randomPacket))} on ${randomPacket.heldOut.rows}\n${recency.summary}\n`,
  );
});
