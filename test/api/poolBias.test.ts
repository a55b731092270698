// A bias the whole pool shares, caught by gold; and pool composition held by the assignment rules.
// Router layer (test/caller.ts: the app router over a migrated database, no Temporal): the batch is
// sampled and aggregated by the real annotation activities, labels go through the annotation router
// where the rule under test is the router's (next), straight into the table where it is not.
//
// 1. Forty annotators who all misread one dialect (20 points more errors on its gold items, a fifth of
//    its traffic items misread alike; 5% slips elsewhere): the consensus carries the misreading, each annotator holds ~8 gold labels of
//    the dialect, and the per-annotator flags stay quiet; the pool's gold accuracy per slice flags
//    dialect=regional and nothing else.
// 2. A composition requirement (2 annotators who speak the regional dialect label it): its items wait
//    while a standard speaker asks, go first to regional speakers, and open to everyone once two of
//    them have labelled; the report says which requirement is met.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { createAnnotationActivities } from '../../activities/annotation';
import { Rng } from '../../analysis/random';
import { annotationTasks, examples, labels, models, modelVersions, predictions } from '../../db/schema';
import { startCallerEnv, type CallerEnv } from '../caller';
import { uid } from '../helpers';

let env: CallerEnv;
before(async () => {
  env = await startCallerEnv();
});
after(async () => {
  await env?.stop();
});

/** A model with `traffic` unlabelled served items and `gold` labelled ones, half of each in the regional dialect. */
async function plantModel(traffic: number, gold: number) {
  const db = env.db;
  const name = `pool-${uid()}`;
  const [m] = await db.insert(models).values({ name, createdBy: 'test' }).returning();
  const modelId = m!.id;
  const [v] = await db.insert(modelVersions).values({ modelId, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:test' }).returning();
  const rng = new Rng(41);
  const item = (prefix: string, i: number, label: number | null) => ({
    modelId,
    externalId: `${prefix}-${i}`,
    input: { subject: `${prefix} ${i}` },
    label,
    // format is balanced within each dialect, so only the dialect carries the misreading.
    slices: { dialect: i % 2 === 0 ? 'regional' : 'standard', format: (i >> 1) % 2 === 0 ? 'html' : 'plain' },
    split: 'train' as const,
  });
  const goldRows = Array.from({ length: gold }, (_, i) => item('gold', i, rng.next() < 0.4 ? 1 : 0));
  const trafficRows = Array.from({ length: traffic }, (_, i) => item('t', i, null));
  await db.insert(examples).values([...goldRows, ...trafficRows]);
  await db.insert(predictions).values(
    trafficRows.map((e, i) => {
      const score = rng.next();
      return { modelId, versionId: v!.id, requestId: `r-${i}`, exampleExternalId: e.externalId, score, decision: score >= 0.5 ? 1 : 0, attributes: {}, occurredAt: new Date(), loggedBy: 'test' };
    }),
  );
  return { name, modelId };
}

test('a misreading every annotator shares: per-annotator flags stay quiet, the pool-wide flag fires on exactly that slice', async () => {
  const db = env.db;
  const { name, modelId } = await plantModel(200, 200);
  const acts = createAnnotationActivities({ db });
  const batch = await acts.sampleForAnnotation({ runId: `run-${uid()}`, modelId, requestedBy: 'test', settings: { budget: 200, overlap: 3, goldShare: 0.5, deadlineSeconds: 600, seed: 3 } });
  assert.ok(batch);
  assert.equal(batch.gold, 200, 'gold = round(0.5 × 200 / 0.5)');
  const tasks = await db
    .select({ id: annotationTasks.id, isGold: annotationTasks.isGold, goldLabel: annotationTasks.goldLabel, label: examples.label, slices: examples.slices })
    .from(annotationTasks)
    .innerJoin(examples, eq(examples.id, annotationTasks.exampleId))
    .where(eq(annotationTasks.batchId, batch.batchId))
    .orderBy(annotationTasks.id);
  const pool = Array.from({ length: 40 }, (_, i) => `native-${i}`);
  for (const subject of pool) await env.clients.operator.annotation.registerAnnotator.mutate({ subject, attributes: { dialect: 'standard' } });
  const rng = new Rng(1234);
  const rows: (typeof labels.$inferInsert)[] = [];
  for (const t of tasks) {
    // The truth: gold items have it; for traffic items a coin the pool's labels are judged against.
    const truth = t.isGold === 1 ? t.goldLabel! : rng.next() < 0.4 ? 1 : 0;
    const regional = t.slices.dialect === 'regional';
    // Traffic items: a fifth of the regional ones misread by everyone alike, so the consensus carries it.
    const misread = t.isGold === 0 && regional && rng.next() < 0.2;
    const three = pool.map((who) => ({ who, k: rng.next() })).sort((a, b) => a.k - b.k).slice(0, 3);
    for (const { who } of three) {
      // Gold items: every annotator errs 20 points more often on the regional dialect (5% slips elsewhere).
      const wrong = misread !== rng.next() < (t.isGold === 1 && regional ? 0.25 : 0.05);
      rows.push({ taskId: t.id, annotator: who, label: wrong ? 1 - truth : truth, specVersion: 1 });
    }
  }
  await db.insert(labels).values(rows);
  await acts.closeAnnotationBatch({ batchId: batch.batchId, closedBy: 'complete' });
  const summary = await acts.aggregateAnnotationBatch({ batchId: batch.batchId });

  // Per annotator: no slice-bias flag, and every gold accuracy interval reaches the others' (nobody stands out).
  assert.deepEqual(summary.biasFlags, [], 'per-annotator flags are quiet');
  const annotators = await env.clients.viewer.annotation.annotators.query({ model: name });
  assert.equal(annotators.length, 40);
  assert.ok(annotators.every((a) => a.biasFlags.length === 0));

  const report = await env.clients.viewer.annotation.poolBias.query({ model: name });
  const byKey = new Map(report.slices.map((s) => [`${s.slice}=${s.value}`, s]));
  assert.deepEqual(
    report.slices.filter((s) => s.flagged).map((s) => `${s.slice}=${s.value}`),
    ['dialect=regional'],
    `flags: ${JSON.stringify(report.slices.map((s) => [s.slice, s.value, s.correct, s.goldLabels, s.pAdjusted]))}`,
  );
  const regional = byKey.get('dialect=regional')!;
  const standard = byKey.get('dialect=standard')!;
  assert.equal(regional.goldLabels + standard.goldLabels, 600, 'every gold label of the pool counted once per attribute');
  assert.equal(report.goldLabels, 600);
  // The test's unit is the gold item (its three labels are one cluster): goldLabelsOf carries the item through.
  assert.deepEqual([report.goldItems, regional.items + standard.items], [200, 200]);
  assert.ok(regional.designEffect! > 0.5 && regional.designEffect! < 2, `independent slips: a design effect near 1, got ${regional.designEffect}`);
  assert.ok(regional.belowRest && regional.pAdjusted! < 0.01);
  assert.ok(regional.accuracy.upper! < standard.accuracy.lower!, `regional ${JSON.stringify(regional.accuracy)} vs standard ${JSON.stringify(standard.accuracy)}`);
  assert.ok(regional.gap.upper! < 0, 'the gap to the rest excludes 0');
  for (const f of ['format=html', 'format=plain']) assert.equal(byKey.get(f)!.flagged, false, f);
  assert.equal(report.tested, 4);
  assert.equal(report.compositionBatchId, batch.batchId);
  assert.deepEqual(report.composition, []);
  // The same over this batch only, and with a floor: the regional dialect is below 0.85 too (html, with half its gold regional, is not).
  const floored = await env.clients.viewer.annotation.poolBias.query({ model: name, batchId: batch.batchId, minAccuracy: 0.85 });
  assert.deepEqual(floored.slices.filter((s) => s.belowFloor).map((s) => `${s.slice}=${s.value}`), ['dialect=regional']);
  assert.equal(floored.batchId, batch.batchId);
});

test('composition: regional items wait for regional speakers until two of them labelled the dialect, and the report says so', async () => {
  const db = env.db;
  const { name, modelId } = await plantModel(40, 0);
  const acts = createAnnotationActivities({ db });
  const requirement = { slice: 'dialect', value: 'regional', attribute: 'dialect', equals: 'regional', min: 2 };
  const batch = await acts.sampleForAnnotation({
    runId: `run-${uid()}`,
    modelId,
    requestedBy: 'test',
    settings: { budget: 12, overlap: 1, goldShare: 0, deadlineSeconds: 600, seed: 5, composition: [requirement] },
  });
  assert.ok(batch);
  assert.equal(batch.tasks, 12);
  const sliceOf = new Map(
    (await db.select({ externalId: examples.externalId, slices: examples.slices }).from(examples).where(eq(examples.modelId, modelId))).map((e) => [e.externalId, e.slices.dialect]),
  );
  const member = async (subject: string, dialect: string) => {
    await env.clients.operator.annotation.registerAnnotator.mutate({ subject, attributes: { dialect } });
    // Wrapped: the client is a proxy every property of which is callable, `then` too, so awaiting it bare never settles.
    return { client: (await env.as(subject, 'annotator')).client };
  };
  const { client: std } = await member(`std-${uid()}`, 'standard');
  const { client: reg1 } = await member(`reg1-${uid()}`, 'regional');
  const { client: reg2 } = await member(`reg2-${uid()}`, 'regional');
  /** Asks for the next task and labels it; the dialect of what came, or null. */
  const work = async (client: typeof std) => {
    const { task } = await client.annotation.next.mutate({});
    if (!task) return null;
    await client.annotation.submit.mutate({ taskId: task.taskId, label: 0, specVersion: task.spec.version });
    return sliceOf.get(task.example.externalId)!;
  };

  const inBatch = await db
    .select({ externalId: examples.externalId })
    .from(annotationTasks)
    .innerJoin(examples, eq(examples.id, annotationTasks.exampleId))
    .where(eq(annotationTasks.batchId, batch.batchId));
  const nRegional = inBatch.filter((t) => sliceOf.get(t.externalId) === 'regional').length;
  assert.ok(nRegional >= 3 && nRegional <= 9, `${nRegional} regional items of 12`);

  // The standard speaker gets every standard item and then nothing, though regional items wait.
  const got: string[] = [];
  for (let d = await work(std); d !== null; d = await work(std)) got.push(d);
  assert.deepEqual(got, Array(12 - nRegional).fill('standard'));
  let status = (await env.clients.viewer.annotation.poolBias.query({ model: name })).composition;
  assert.deepEqual(status, [{ ...requirement, qualified: 0, annotators: 0, openTasks: nRegional, poolQualified: status[0]!.poolQualified, met: false }]);
  assert.ok(status[0]!.poolQualified >= 2);

  // One regional speaker labels one (regional items come to them first): still held from the standard speaker.
  assert.equal(await work(reg1), 'regional');
  assert.equal(await work(std), null);
  status = (await env.clients.viewer.annotation.poolBias.query({ model: name })).composition;
  assert.deepEqual([status[0]!.qualified, status[0]!.openTasks, status[0]!.met], [1, nRegional - 1, false]);

  // A second one meets the requirement: the standard speaker may now take regional items.
  assert.equal(await work(reg2), 'regional');
  status = (await env.clients.viewer.annotation.poolBias.query({ model: name })).composition;
  assert.deepEqual([status[0]!.qualified, status[0]!.annotators, status[0]!.met], [2, 2, true]);
  assert.equal(await work(std), 'regional');
});
