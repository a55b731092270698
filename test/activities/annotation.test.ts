// The annotation activities on a real database, without Temporal: a batch sampled from real traffic
// (Spam Assassin mail the model answered), labelled by a simulated pool in which one annotator calls
// ham from country-code senders spam, then aggregated. The system must flag that annotator on that
// slice and only there, Dawid-Skene must beat majority vote against the corpus truth, and the
// Horvitz-Thompson estimate of production accuracy must cover the pool's true accuracy.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { eq } from 'drizzle-orm';
import { createAnnotationActivities } from '../../activities/annotation';
import { Rng } from '../../analysis/random';
import { chronologicalParts, loadCorpus, type CorpusEmail } from '../../demo/corpus';
import { type OpenedDb } from '../../db/index';
import { openFileDatabase } from '../fileDatabase';
import { aggregatedLabels, annotationTasks, examples, labels, modelVersions, models, predictions } from '../../db/schema';

let opened: OpenedDb;
const truth = new Map<number, CorpusEmail>();
let modelId: number;
/** Pool: example id → was the model right. */
const poolCorrect = new Map<number, number>();

before(async () => {
  opened = await openFileDatabase();
  const db = opened.db;
  const [m] = await db.insert(models).values({ name: `ann-${Date.now().toString(36)}`, createdBy: 'test' }).returning();
  modelId = m!.id;
  const [v] = await db
    .insert(modelVersions)
    .values({ modelId, version: 1, trainer: 'test', params: {}, artifact: new Uint8Array([1]), artifactHash: 'sha256:test' })
    .returning();
  const [early, later] = chronologicalParts(loadCorpus(), [0.5]) as [CorpusEmail[], CorpusEmail[]];
  // Gold candidates: the team's labelled mail.
  await db.insert(examples).values(
    early.slice(0, 400).map((e) => ({ modelId, externalId: e.externalId, input: { subject: e.input.subject ?? '' }, label: e.label, slices: { ...e.slices }, split: 'train' as const })),
  );
  // Traffic: unlabelled mail with a score from a noisy stand-in model (right ~90% of the time).
  const rng = new Rng(3);
  const traffic = later.slice(0, 1500);
  const rows = await db
    .insert(examples)
    .values(traffic.map((e) => ({ modelId, externalId: e.externalId, input: { subject: e.input.subject ?? '' }, label: null, slices: { ...e.slices }, split: 'train' as const })))
    .returning({ id: examples.id, externalId: examples.externalId });
  const byExternal = new Map(traffic.map((e) => [e.externalId, e]));
  const scores = traffic.map((e) => {
    const right = rng.next() < 0.9;
    const s = 0.5 + (rng.next() * 0.5) * ((e.label === 1) === right ? 1 : -1);
    return Math.min(0.999, Math.max(0.001, s));
  });
  await db.insert(predictions).values(
    traffic.map((e, i) => ({
      modelId,
      versionId: v!.id,
      requestId: `r-${e.externalId}`,
      exampleExternalId: e.externalId,
      score: scores[i]!,
      decision: scores[i]! >= 0.5 ? 1 : 0,
      attributes: { ...e.slices },
      occurredAt: new Date(),
      loggedBy: 'test',
    })),
  );
  for (const r of rows) truth.set(r.id, byExternal.get(r.externalId)!);
  traffic.forEach((e, i) => poolCorrect.set(rows[i]!.id, (scores[i]! >= 0.5 ? 1 : 0) === e.label ? 1 : 0));
  const goldRows = await db.select({ id: examples.id, externalId: examples.externalId }).from(examples).where(eq(examples.modelId, modelId));
  const earlyBy = new Map(early.map((e) => [e.externalId, e]));
  for (const g of goldRows) if (earlyBy.has(g.externalId)) truth.set(g.id, earlyBy.get(g.externalId)!);
});
after(async () => {
  await opened?.close();
});

test('the planted-bias annotator is flagged on its slice, Dawid-Skene beats majority vote, HT covers the truth', async () => {
  const db = opened.db;
  const acts = createAnnotationActivities({ db });
  const runId = `run-ann-${Date.now().toString(36)}`;
  const batch = await acts.sampleForAnnotation({
    runId,
    modelId,
    requestedBy: 'test',
    settings: { budget: 400, overlap: 3, goldShare: 0.1, deadlineSeconds: 600, seed: 9, sliceFloors: [{ slice: 'sender_tld', value: 'country_code', min: 100 }] },
  });
  assert.ok(batch);
  assert.equal(batch.sampled, 400);
  assert.equal(batch.gold, 44, 'gold = round(0.1 × 400 / 0.9)');
  assert.equal(batch.poolSize, 1500);
  // Retrying the step writes nothing new.
  assert.deepEqual(await acts.sampleForAnnotation({ runId, modelId, requestedBy: 'test', settings: { budget: 400, deadlineSeconds: 600 } }), batch);

  const tasks = await db.select().from(annotationTasks).where(eq(annotationTasks.batchId, batch.batchId));
  const pool = [
    { who: 'ann-a', accuracy: 0.95 },
    { who: 'ann-b', accuracy: 0.9 },
    { who: 'ann-c', accuracy: 0.85 },
    { who: 'ann-d', accuracy: 0.75 },
    { who: 'ann-e', accuracy: 0.65 },
    { who: 'ann-biased', accuracy: 0.93, bias: { slice: 'sender_tld', value: 'country_code', rate: 0.85 } },
  ];
  const rng = new Rng(17);
  const rows: (typeof labels.$inferInsert)[] = [];
  for (const t of tasks) {
    const e = truth.get(t.exampleId)!;
    // Three distinct annotators per item.
    const order = pool.map((p) => ({ p, k: rng.next() })).sort((x, y) => x.k - y.k).slice(0, 3);
    for (const { p } of order) {
      let label = e.label;
      if (p.bias && e.slices[p.bias.slice as keyof typeof e.slices] === p.bias.value && e.label === 0 && rng.next() < p.bias.rate) label = 1;
      else if (rng.next() >= p.accuracy) label = 1 - e.label;
      rows.push({ taskId: t.id, annotator: p.who, label, specVersion: 1 });
    }
  }
  await db.insert(labels).values(rows);
  await acts.closeAnnotationBatch({ batchId: batch.batchId, closedBy: 'complete' });
  const summary = await acts.aggregateAnnotationBatch({ batchId: batch.batchId });

  const flagged = summary.biasFlags.map((f) => `${f.annotator}:${f.slice}=${f.value}`);
  assert.ok(flagged.includes('ann-biased:sender_tld=country_code'), `flags: ${flagged.join(', ') || 'none'}`);
  assert.deepEqual(
    summary.biasFlags.filter((f) => f.annotator !== 'ann-biased'),
    [],
    'no honest annotator is flagged',
  );

  const agg = await db.select().from(aggregatedLabels).where(eq(aggregatedLabels.batchId, batch.batchId));
  assert.equal(agg.length, 400, 'every sampled item (not the gold) gets a training label');
  const dsErrors = agg.filter((a) => a.dawidSkeneLabel !== truth.get(a.exampleId)!.label).length;
  const mvErrors = agg.filter((a) => a.majorityLabel !== truth.get(a.exampleId)!.label).length;
  assert.ok(dsErrors < mvErrors, `Dawid-Skene errors ${dsErrors} must be fewer than majority vote's ${mvErrors}`);

  const labelled = await db.select().from(examples).where(eq(examples.labelSource, 'annotation'));
  assert.equal(labelled.filter((e) => e.modelId === modelId).length, 400);

  // Production accuracy: the activity's Horvitz-Thompson estimate is (1/N) sum y_i / pi_i over the labelled
  // sample with y = [serving decision == aggregated label]; recomputed here from the stored rows.
  const pa = summary.productionAccuracy!;
  assert.equal(pa.populationSize, 1500);
  assert.equal(pa.nonresponse, 0);
  const taskOf = new Map(tasks.map((t) => [t.id, t]));
  const decision = (taskId: number) => (taskOf.get(taskId)!.score! >= 0.5 ? 1 : 0);
  const ht = (y: (a: (typeof agg)[number]) => number) => agg.reduce((s, a) => s + y(a) / taskOf.get(a.taskId)!.inclusionProbability, 0) / 1500;
  const againstLabels = ht((a) => (decision(a.taskId) === a.label ? 1 : 0));
  assert.ok(Math.abs(againstLabels - pa.estimate) < 1e-6, `(pi is stored as float4) stored ${pa.estimate} vs recomputed ${againstLabels}`);
  // The interval by its definition (stratified SRS, normal, 95%): estimate ± z·se with
  // se² = Σ_h (N_h/N)² (1 − n_h/N_h) s_h²/n_h, N_h = n_h/π_h, s_h² the sample variance of y in stratum h.
  const byStratum = new Map<string, { y: number[]; pi: number }>();
  for (const a of agg) {
    const t = taskOf.get(a.taskId)!;
    const s = byStratum.get(t.stratum) ?? { y: [], pi: t.inclusionProbability };
    s.y.push(decision(a.taskId) === a.label ? 1 : 0);
    byStratum.set(t.stratum, s);
  }
  let variance = 0;
  for (const { y, pi } of byStratum.values()) {
    const n = y.length;
    const size = Math.round(n / pi);
    if (n === size) continue; // censused: no sampling variance
    const mean = y.reduce((x, v) => x + v, 0) / n;
    const s2 = n >= 2 ? y.reduce((x, v) => x + (v - mean) ** 2, 0) / (n - 1) : 0.25;
    variance += (size / 1500) ** 2 * (1 - n / size) * (s2 / n);
  }
  assert.ok(byStratum.size >= 2 && variance > 0, 'a stratified sample with sampling variance');
  const z = 1.959963984540054;
  const [lower, upper] = [Math.max(0, againstLabels - z * Math.sqrt(variance)), Math.min(1, againstLabels + z * Math.sqrt(variance))];
  assert.ok(Math.abs(pa.lower - lower) < 1e-6 && Math.abs(pa.upper - upper) < 1e-6, `stored [${pa.lower}, ${pa.upper}] vs by definition [${lower}, ${upper}]`);
  // The design itself is unbiased: the same weights with the TRUE labels land near the pool's true accuracy.
  // (Against the aggregated labels the estimate is lower by the label noise, which is why label quality is measured.)
  const trueAccuracy = [...poolCorrect.values()].reduce((a, b) => a + b, 0) / poolCorrect.size;
  const againstTruth = ht((a) => (decision(a.taskId) === truth.get(a.exampleId)!.label ? 1 : 0));
  const halfWidth = (pa.upper - pa.lower) / 2;
  assert.ok(Math.abs(againstTruth - trueAccuracy) <= halfWidth, `HT with true labels ${againstTruth.toFixed(4)} vs pool ${trueAccuracy.toFixed(4)} (±${halfWidth.toFixed(4)})`);
  // A second aggregation returns the stored one and writes nothing.
  assert.deepEqual(await acts.aggregateAnnotationBatch({ batchId: batch.batchId }), summary);
});
