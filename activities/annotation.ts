// Side effects of the annotation loop: sample the candidate pool into a batch, sweep expired assignments,
// close the batch with its SLA figures, and aggregate its labels into training labels. Each is keyed by
// the batch id, so a retried activity writes nothing twice.
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm';
import { floorsFromEvidence, goldCount, requiredAttributes, textSketch } from '../analysis/annotationTasks';
import { judgeLabels } from '../analysis/labelQuality';
import { Rng } from '../analysis/random';
import { drawSample, horvitzThompsonMean, type CandidatePool, type Sample, type StratumSummary } from '../analysis/sampling';
import { batchCounts, currentSpec, DEFAULT_SPEC } from '../db/annotation';
import type { Db } from '../db/index';
import { writeAudit } from '../db/auditLog';
import { resultRows } from '../db/queries';
import { boundedList, MAX_PAYLOAD_ITEMS } from './payloads';
import { aggregatedLabels, annotationBatches, annotationTasks, examples, labels } from '../db/schema';
import type { AnnotationSettings, BatchProgress } from '../workflows/messages';

export interface AnnotationBatchRef {
  batchId: string;
  tasks: number;
  sampled: number;
  gold: number;
  poolSize: number;
}

export interface AggregationSummary {
  batchId: string;
  /** Items given a training label. */
  aggregated: number;
  adjudicated: number;
  /** Items where Dawid-Skene and majority vote disagree. */
  dsMajorityDisagreements: number;
  /** Production accuracy estimated from the labelled sample (Horvitz-Thompson). */
  productionAccuracy: { estimate: number; lower: number; upper: number; n: number; populationSize: number; nonresponse: number } | null;
  /** Annotators flagged for a slice bias: who, where, how strongly. */
  biasFlags: { annotator: string; slice: string; value: string; disagreement: number; rest: number; n: number; p: number }[];
  krippendorffAlpha: number | null;
  /** Flags left out of what the workflow is handed (annotators × slice values can be many); all are stored with the batch. */
  biasFlagsOmitted?: number;
}

/** The summary as the workflow carries it: the strongest bias flags, at most MAX_PAYLOAD_ITEMS; the batch row keeps them all. */
function forWorkflow(summary: AggregationSummary): AggregationSummary {
  if (summary.biasFlags.length <= MAX_PAYLOAD_ITEMS) return summary;
  const { kept, omitted } = boundedList([...summary.biasFlags].sort((a, b) => a.p - b.p || b.disagreement - a.disagreement));
  return { ...summary, biasFlags: kept, biasFlagsOmitted: omitted };
}

interface BatchDesign {
  seed: number;
  threshold: number;
  quorum: number;
  populationSize: number;
  strata: StratumSummary[];
  assignmentSeconds: number;
  sliceNames: string[];
  sliceFloors?: { slice: string; value: string; min: number }[];
  /** Pool composition requirements, enforced by db/annotation assignNextTask. */
  composition?: { slice: string; value: string; attribute: string; equals: string; min: number }[];
}

/** Slices attributes with more distinct values than this are not used to stratify or test bias. */
const MAX_SLICE_VALUES = 50;

export const batchIdOfRun = (runId: string) => `batch-${runId}`;

export function createAnnotationActivities({ db }: { db: Db }) {
  /**
   * The explicit floors plus one per slice the model's last gate judged insufficient or its traffic
   * showed untested, restricted to values the pool holds; derived floors shrink so that all floors
   * together take at most half the budget (the rest keeps uncertainty and exploration alive).
   */
  async function longTailFloors(modelId: number, s: AnnotationSettings, slices: { name: string; values: string[] }[], budget: number) {
    const [last] = resultRows<{ rules: unknown; untested: unknown }>(
      await db.execute(sql`
        select g.rules, g.packet -> 'untested' as untested from gate_results g join runs r on r.id = g.run_id
        where r.model_id = ${modelId} order by g.created_at desc, g.id desc limit 1`),
    );
    const parse = <T,>(v: unknown): T | undefined => (typeof v === 'string' ? (JSON.parse(v) as T) : ((v ?? undefined) as T | undefined));
    const derivedMin = s.longTailFloor ?? 20;
    const all = floorsFromEvidence(
      {
        rules: parse<{ checks: { slice: string; outcome: string }[] }[]>(last?.rules) ?? [],
        untested: parse<{ attribute: string; value: string }[]>(last?.untested) ?? [],
      },
      derivedMin,
      s.sliceFloors ?? [],
    ).filter((f) => slices.some((sl) => sl.name === f.slice && sl.values.includes(f.value)));
    const explicitKeys = new Set((s.sliceFloors ?? []).map((f) => `${f.slice}\u0000${f.value}`));
    const explicitTotal = all.filter((f) => explicitKeys.has(`${f.slice}\u0000${f.value}`)).reduce((a, f) => a + f.min, 0);
    const derived = all.filter((f) => !explicitKeys.has(`${f.slice}\u0000${f.value}`));
    const room = Math.max(0, Math.floor(budget / 2) - explicitTotal);
    const each = derived.length ? Math.min(derivedMin, Math.floor(room / derived.length)) : 0;
    return all.map((f) => (explicitKeys.has(`${f.slice}\u0000${f.value}`) ? f : { ...f, min: each })).filter((f) => f.min > 0);
  }

  return {
    /**
     * Builds the candidate pool (unlabelled examples the model answered in production, never tasked
     * before), draws the sample under the settings' budget with known inclusion probabilities, adds
     * gold items, and stores the batch and its tasks. Returns null when the pool is empty.
     */
    async sampleForAnnotation(input: {
      runId: string;
      modelId: number;
      requestedBy: string;
      settings: AnnotationSettings;
    }): Promise<AnnotationBatchRef | null> {
      const batchId = batchIdOfRun(input.runId);
      const [existing] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, batchId));
      if (existing) {
        const design = existing.design as BatchDesign;
        const counts = await batchCounts(db, batchId);
        const gold = (await db.$count(annotationTasks, and(eq(annotationTasks.batchId, batchId), eq(annotationTasks.isGold, 1)))) as number;
        return { batchId, tasks: counts.tasks, sampled: counts.tasks - gold, gold, poolSize: design.populationSize };
      }
      const s = input.settings;
      const pool = resultRows<{ id: number; slices: Record<string, string>; input: Record<string, string>; score: number; decision: number }>(
        await db.execute(sql`
          select distinct on (e.id) e.id, e.slices, e.input, p.score, p.decision
          from predictions p
          join examples e on e.model_id = p.model_id and e.external_id = p.example_external_id
          -- A feedback label does not take a request out of the designed sample's population: users choose
          -- what to correct (mostly errors), so leaving those out would bias the Horvitz-Thompson estimate.
          where p.model_id = ${input.modelId} and (e.label is null or e.label_source = 'feedback')
            and not exists (select 1 from annotation_tasks t where t.example_id = e.id)
          order by e.id, p.occurred_at desc`),
      );
      if (pool.length === 0) return null;
      pool.sort((a, b) => a.id - b.id);

      const sliceNames = [...new Set(pool.flatMap((r) => Object.keys(r.slices)))].sort();
      const slices = sliceNames
        .map((name) => {
          const values = [...new Set(pool.map((r) => r.slices[name] ?? 'unknown'))].sort();
          const code = new Map(values.map((v, i) => [v, i]));
          return { name, values, codes: Uint32Array.from(pool, (r) => code.get(r.slices[name] ?? 'unknown')!) };
        })
        .filter((sl) => sl.values.length <= MAX_SLICE_VALUES);
      // The serving threshold is the boundary between what the model passed and blocked.
      const blocked = pool.filter((r) => r.decision === 1).map((r) => r.score);
      const threshold = blocked.length ? Math.min(...blocked) : Math.max(...pool.map((r) => r.score)) + 1e-9;
      const candidatePool: CandidatePool = {
        n: pool.length,
        scores: Float64Array.from(pool, (r) => r.score),
        slices,
        // Diversity: spread over what the mail says (PGlite hands jsonb back parsed, postgres.js too).
        features: textSketch(pool.map((r) => (typeof r.input === 'string' ? (JSON.parse(r.input) as Record<string, string>) : r.input))),
      };
      const seed = s.seed ?? 1;
      const budget = Math.min(s.budget, pool.length);
      const sliceFloors = await longTailFloors(input.modelId, s, slices, budget);
      let sample: Sample;
      try {
        sample = drawSample(candidatePool, {
          budget,
          seed,
          threshold,
          ...(s.explorationShare !== undefined ? { explorationShare: s.explorationShare } : {}),
          sliceFloors,
        });
      } catch (err) {
        // A plan the pool cannot satisfy (floors above the budget) fails the same way on every retry.
        if (err instanceof RangeError) throw ApplicationFailure.nonRetryable(err.message, 'BadSamplingPlan');
        throw err;
      }

      // Gold: labelled examples the team brought (import), in the training split, chosen by the seed.
      const goldPool = await db
        .select({ id: examples.id, label: examples.label, slices: examples.slices })
        .from(examples)
        .where(and(eq(examples.modelId, input.modelId), eq(examples.labelSource, 'import'), eq(examples.split, 'train')))
        .orderBy(asc(examples.id));
      const labelledGold = goldPool.filter((g) => g.label !== null);
      const nGold = Math.min(goldCount(sample.index.length, s.goldShare ?? 0.1), labelledGold.length);
      const rng = new Rng(seed ^ 0x9e3779b9);
      for (let i = 0; i < nGold; i++) {
        const j = i + rng.nextInt(labelledGold.length - i);
        [labelledGold[i], labelledGold[j]] = [labelledGold[j]!, labelledGold[i]!];
      }
      const gold = labelledGold.slice(0, nGold);

      const rules = s.assignmentRules ?? [];
      const spec = await currentSpec(db, input.modelId);
      const design: BatchDesign = {
        seed,
        threshold,
        quorum: s.quorum ?? 1,
        populationSize: sample.populationSize,
        strata: sample.strata,
        assignmentSeconds: s.assignmentSeconds ?? 600,
        sliceNames: slices.map((sl) => sl.name),
        sliceFloors,
        ...(s.composition?.length ? { composition: s.composition } : {}),
      };
      const taskRows = [
        ...Array.from(sample.index, (poolIndex, t) => {
          const item = pool[poolIndex]!;
          return {
            batchId,
            exampleId: item.id,
            stratum: sample.stratum[t]!,
            inclusionProbability: sample.inclusionProbability[t]!,
            score: item.score,
            requires: requiredAttributes(item.slices, rules),
          };
        }),
        ...gold.map((g) => ({
          batchId,
          exampleId: g.id,
          stratum: 'gold',
          inclusionProbability: 1,
          isGold: 1,
          goldLabel: g.label,
          requires: requiredAttributes(g.slices, rules),
        })),
      ];
      // Shuffle so gold items are not recognisable by position.
      for (let i = taskRows.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [taskRows[i], taskRows[j]] = [taskRows[j]!, taskRows[i]!];
      }
      await db.transaction(async (tx) => {
        await tx.insert(annotationBatches).values({
          id: batchId,
          runId: input.runId,
          modelId: input.modelId,
          specVersion: spec.version,
          overlap: s.overlap ?? 3,
          goldShare: s.goldShare ?? 0.1,
          design,
          deadline: new Date(Date.now() + s.deadlineSeconds * 1000),
          createdBy: input.requestedBy,
        });
        for (let i = 0; i < taskRows.length; i += 2000) await tx.insert(annotationTasks).values(taskRows.slice(i, i + 2000));
        await writeAudit(tx, {
          actor: input.requestedBy,
          action: 'annotation.batch.create',
          target: `batch:${batchId}`,
          details: { runId: input.runId, sampled: sample.index.length, gold: gold.length, poolSize: pool.length, spec: spec.version },
        });
      });
      return { batchId, tasks: taskRows.length, sampled: sample.index.length, gold: gold.length, poolSize: pool.length };
    },

    /** Takes back assignments whose time ran out (their slot goes to someone else) and recounts. */
    async sweepAnnotationBatch(input: { batchId: string }): Promise<BatchProgress> {
      await db.execute(sql`
        update annotation_assignments a set status = 'expired', lapses = a.lapses + 1
        from annotation_tasks t
        where t.id = a.task_id and t.batch_id = ${input.batchId} and a.status = 'assigned' and a.expires_at < now()`);
      return batchCounts(db, input.batchId);
    },

    /**
     * Closes the batch: tasks still open or waiting for adjudication become `unresolved` (their labels
     * still count in aggregation), live assignments lapse, and SLA figures are stored. Idempotent.
     */
    async closeAnnotationBatch(input: { batchId: string; closedBy: 'complete' | 'deadline' | 'cancelled' }): Promise<BatchProgress> {
      const [batch] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, input.batchId));
      if (!batch) throw new Error(`annotation batch ${input.batchId} does not exist`);
      if (batch.status === 'open') {
        const before = await batchCounts(db, input.batchId);
        const sla = resultRows<{ labels: string; median: number | null; p90: number | null; first: string | null; last: string | null }>(
          await db.execute(sql`
            select count(*)::text as labels,
                   percentile_cont(0.5) within group (order by l.seconds_to_label) as median,
                   percentile_cont(0.9) within group (order by l.seconds_to_label) as p90,
                   min(l.created_at)::text as first, max(l.created_at)::text as last
            from labels l join annotation_tasks t on t.id = l.task_id
            where t.batch_id = ${input.batchId} and l.superseded_by_spec is null`),
        )[0]!;
        await db.transaction(async (tx) => {
          await tx
            .update(annotationTasks)
            .set({ status: 'unresolved' })
            .where(and(eq(annotationTasks.batchId, input.batchId), inArray(annotationTasks.status, ['open', 'adjudication'])));
          await tx.execute(sql`
            update annotation_assignments a set status = 'expired'
            from annotation_tasks t where t.id = a.task_id and t.batch_id = ${input.batchId} and a.status = 'assigned'`);
          const closedAt = new Date();
          await tx
            .update(annotationBatches)
            .set({
              status: input.closedBy,
              closedAt,
              sla: {
                closedBy: input.closedBy,
                hoursOpen: (closedAt.getTime() - batch.createdAt.getTime()) / 3_600_000,
                labels: Number(sla.labels),
                medianSecondsToLabel: sla.median,
                p90SecondsToLabel: sla.p90,
                backlogAtClose: before.open + before.adjudication,
                adjudicationPending: before.adjudication,
                reassigned: before.reassigned,
              },
            })
            .where(and(eq(annotationBatches.id, input.batchId), eq(annotationBatches.status, 'open')));
        });
      }
      return batchCounts(db, input.batchId);
    },

    /**
     * Aggregates the batch: Dawid-Skene over every non-superseded label (gold items included, they teach
     * the confusion matrices), adjudicated items take the adjudicator's label; the sampled items get
     * their training label (label_source = annotation); production accuracy is estimated from the
     * sample with Horvitz-Thompson weights; agreement and annotator bias flags are stored with the batch.
     */
    async aggregateAnnotationBatch(input: { batchId: string }): Promise<AggregationSummary> {
      const [batch] = await db.select().from(annotationBatches).where(eq(annotationBatches.id, input.batchId));
      if (!batch) throw new Error(`annotation batch ${input.batchId} does not exist`);
      const stored = batch.estimate as { summary?: AggregationSummary } | null;
      if (stored?.summary) return forWorkflow(stored.summary);
      const design = batch.design as BatchDesign;
      const names = (await currentSpec(db, batch.modelId)).labels ?? DEFAULT_SPEC.labels;
      const rows = await db
        .select({
          taskId: labels.taskId,
          annotator: labels.annotator,
          label: labels.label,
          adjudication: labels.adjudication,
          exampleId: annotationTasks.exampleId,
          isGold: annotationTasks.isGold,
          goldLabel: annotationTasks.goldLabel,
          stratum: annotationTasks.stratum,
          inclusionProbability: annotationTasks.inclusionProbability,
          score: annotationTasks.score,
          slices: examples.slices,
        })
        .from(labels)
        .innerJoin(annotationTasks, eq(annotationTasks.id, labels.taskId))
        .innerJoin(examples, eq(examples.id, annotationTasks.exampleId))
        .where(and(eq(annotationTasks.batchId, input.batchId), isNull(labels.supersededBySpec)))
        .orderBy(asc(labels.taskId), asc(labels.annotator));
      const regular = rows.filter((r) => r.adjudication === 0);
      const summary: AggregationSummary = {
        batchId: input.batchId,
        aggregated: 0,
        adjudicated: 0,
        dsMajorityDisagreements: 0,
        productionAccuracy: null,
        biasFlags: [],
        krippendorffAlpha: null,
      };
      if (regular.length > 0) {
        const key = (taskId: number) => String(taskId);
        const byTask = new Map(regular.map((r) => [r.taskId, r]));
        const nameOf = (code: number) => names[code] ?? String(code);
        const { quality, table, ds, mv } = judgeLabels({
          rows: regular.map((r) => ({ item: key(r.taskId), annotator: r.annotator, label: nameOf(r.label) })),
          goldOfItem: new Map([...byTask.values()].filter((r) => r.isGold === 1 && r.goldLabel !== null).map((r) => [key(r.taskId), nameOf(r.goldLabel!)])),
          slices: design.sliceNames.map((name) => ({
            name,
            valueOfItem: new Map([...byTask.values()].map((r) => [key(r.taskId), r.slices[name] ?? 'unknown'])),
          })),
        });
        const adjudicatedLabel = new Map(rows.filter((r) => r.adjudication === 1).map((r) => [r.taskId, r.label]));
        const K = table.categories.length;
        const codeOfName = (c: string) => {
          const i = names.indexOf(c);
          return i >= 0 ? i : Number(c);
        };
        const labelsPerItem = new Uint32Array(table.items.length);
        for (const i of table.item) labelsPerItem[i]!++;
        const out: (typeof aggregatedLabels.$inferInsert)[] = [];
        table.items.forEach((item, i) => {
          const r = byTask.get(Number(item))!;
          if (r.isGold === 1) return;
          const dsLabel = codeOfName(table.categories[ds.labels[i]!]!);
          const mvLabel = codeOfName(table.categories[mv.labels[i]!]!);
          const adjudicated = adjudicatedLabel.get(r.taskId);
          if (dsLabel !== mvLabel) summary.dsMajorityDisagreements++;
          out.push({
            taskId: r.taskId,
            batchId: input.batchId,
            exampleId: r.exampleId,
            label: adjudicated ?? dsLabel,
            posterior: adjudicated !== undefined ? 1 : ds.posteriors[i * K + ds.labels[i]!]!,
            majorityLabel: mvLabel,
            dawidSkeneLabel: dsLabel,
            method: adjudicated !== undefined ? 'adjudication' : 'dawid_skene',
            labelCount: labelsPerItem[i]!,
          });
        });
        summary.aggregated = out.length;
        summary.adjudicated = out.filter((o) => o.method === 'adjudication').length;
        summary.krippendorffAlpha = quality.krippendorff_alpha;
        summary.biasFlags = Object.entries(quality.annotators).flatMap(([annotator, q]) => q.flags.map((f) => ({ annotator, ...f })));
        summary.productionAccuracy = productionAccuracy(design, out.map((o) => ({ ...o, task: byTask.get(o.taskId)! })));
        await db.transaction(async (tx) => {
          for (let i = 0; i < out.length; i += 2000) await tx.insert(aggregatedLabels).values(out.slice(i, i + 2000)).onConflictDoNothing();
          for (const o of out) {
            await tx.update(examples).set({ label: o.label, labelSource: 'annotation', labelSelection: null }).where(eq(examples.id, o.exampleId));
          }
          await tx
            .update(annotationBatches)
            .set({ estimate: { summary, quality: { ...quality, dawid_skene: undefined, majority: undefined } } })
            .where(eq(annotationBatches.id, input.batchId));
        });
      } else {
        await db.update(annotationBatches).set({ estimate: { summary } }).where(eq(annotationBatches.id, input.batchId));
      }
      return forWorkflow(summary);
    },
  };
}

/**
 * Production accuracy of the serving decisions, from the labelled sampled items weighted by their
 * inclusion probabilities. Items the batch closed without a label are non-response: each stratum's
 * respondents stand for it (pi recomputed as responded/N_h), the usual missing-at-random-within-stratum
 * adjustment; their count is reported.
 */
function productionAccuracy(
  design: BatchDesign,
  labelled: { label: number; task: { stratum: string; score: number | null } }[],
): AggregationSummary['productionAccuracy'] {
  if (labelled.length === 0) return null;
  const responded = new Map<string, number>();
  for (const l of labelled) responded.set(l.task.stratum, (responded.get(l.task.stratum) ?? 0) + 1);
  const strata = design.strata.map((st) => ({ ...st, sampled: responded.get(st.name) ?? 0 }));
  const sizeOf = new Map(strata.map((st) => [st.name, st.size]));
  const nonresponse = design.strata.reduce((a, st) => a + st.sampled, 0) - labelled.length;
  const sample: Sample = {
    index: Uint32Array.from(labelled, (_, i) => i),
    stratum: labelled.map((l) => l.task.stratum),
    inclusionProbability: Float64Array.from(labelled, (l) => responded.get(l.task.stratum)! / sizeOf.get(l.task.stratum)!),
    strata,
    populationSize: design.populationSize,
  };
  const y = labelled.map((l) => (((l.task.score ?? 0) >= design.threshold ? 1 : 0) === l.label ? 1 : 0));
  const ht = horvitzThompsonMean(y, sample);
  return { estimate: ht.estimate, lower: ht.lower, upper: ht.upper, n: ht.n, populationSize: ht.populationSize, nonresponse };
}
