// Side effects of the saturation check: which batch is newest, one training per (variant, fraction,
// seed) point stored once (a resumed fan-out finds its stored points and trains nothing twice), and
// the report (fit, ablation, verdict) stored once per run.
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { and, asc, eq, sql } from 'drizzle-orm';
import { canonicalJson } from '../analysis/canonicalJson';
import { ablationRowTest } from '../analysis/ablation';
import { learningCurveVerdict, recencyEvidence, RECOMMENDATIONS, type AblationSeed, type CurveFraction } from '../analysis/learningCurve';
import { inversePowerLaw } from '../analysis/powerLaw';
import { defaultEvaluationSettings, heldOutErrors } from '../analysis/report';
import type { Db } from '../db/index';
import { resultRows, snapshotMembers } from '../db/queries';
import { boundedList, boundedReasons } from './payloads';
import { saturationPoints, saturationReports } from '../db/schema';
import { completedScoreSet, snapshotSplitCount } from '../db/trainerData';

/** One point of the check: which curve, what share of the training split, which seed. */
export type SaturationVariant = 'curve' | 'without_newest' | 'newest_half' | 'oldest_half';

export interface SaturationPointKey {
  runId: string;
  variant: SaturationVariant;
  fraction: number;
  seed: number;
}

export interface SaturationPointRef {
  variant: SaturationVariant;
  fraction: number;
  seed: number;
  trainSize: number;
  error: number;
  /** True when this attempt found the point stored and trained nothing. */
  reused: boolean;
}

export interface SaturationReportRef {
  verdict: 'improving' | 'plateau' | 'degrading';
  reasons: string[];
  recommendation: string;
  reportId: number;
  contentHash: string;
}

/** Each half (newest, oldest) needs this many dated training rows before the check compares them. */
export const MIN_RECENCY_HALF = 20;

/** A slice value needs this many held-out rows before the ablation names it. */
const MIN_SLICE_ROWS = 20;

export interface NewestBatch {
  batchId: string;
  /** Training examples of the snapshot that came from it. */
  examples: number;
  /** Who labelled it: at most MAX_PAYLOAD_ITEMS names (this travels through the workflow); annotatorCount says how many. */
  annotators: string[];
  annotatorCount?: number;
}

/** Frozen snapshots kept in memory: a check's 20-odd points read the same two splits. */
const SNAPSHOT_CACHE_SIZE = 4;

export function createSaturationActivities({ db }: { db: Db }) {
  // A snapshot never changes once frozen, so its members can be shared by every point of a check. The
  // promise is cached, so points starting together share one load; a failed load is forgotten.
  const snapshots = new Map<string, ReturnType<typeof snapshotMembers>>();
  function members(snapshotId: number, split: 'train' | 'heldout'): ReturnType<typeof snapshotMembers> {
    const key = `${snapshotId}:${split}`;
    let hit = snapshots.get(key);
    if (hit) {
      snapshots.delete(key);
    } else {
      hit = snapshotMembers(db, snapshotId, split);
      hit.catch(() => snapshots.delete(key));
    }
    snapshots.set(key, hit);
    while (snapshots.size > SNAPSHOT_CACHE_SIZE) snapshots.delete(snapshots.keys().next().value!);
    return hit;
  }

  /** Everyone whose current labels are in the batch, by name. */
  async function batchAnnotators(batchId: string): Promise<string[]> {
    return resultRows<{ annotator: string }>(
      await db.execute(sql`
        select distinct l.annotator from labels l join annotation_tasks t on t.id = l.task_id
        where t.batch_id = ${batchId} and l.superseded_by_spec is null order by 1`),
    ).map((r) => r.annotator);
  }

  /** The newest batch with all its annotators named (the workflow carried at most MAX_PAYLOAD_ITEMS of them). */
  async function everyAnnotator(newest: NewestBatch | null): Promise<NewestBatch | null> {
    if (!newest || newest.annotatorCount === undefined) return newest;
    const { annotatorCount: _count, ...rest } = newest;
    return { ...rest, annotators: await batchAnnotators(newest.batchId) };
  }

  /** Example ids of a batch's aggregated (non-gold) items. */
  async function batchExampleIds(batchId: string): Promise<Set<number>> {
    const rows = resultRows<{ example_id: number }>(await db.execute(sql`select example_id from aggregated_labels where batch_id = ${batchId}`));
    return new Set(rows.map((r) => Number(r.example_id)));
  }

  /**
   * Slice values the batch is concentrated in: at least half of its training examples, at 1.5x or more
   * of their share of the whole training split; by lift.
   */
  async function batchComposition(batchId: string, snapshotId: number) {
    const ids = await batchExampleIds(batchId);
    const train = await members(snapshotId, 'train');
    const inBatch = train.filter((m) => ids.has(m.exampleId));
    if (inBatch.length === 0) return [];
    const count = (rows: typeof train) => {
      const c = new Map<string, number>();
      for (const r of rows) for (const [k, v] of Object.entries(r.slices)) c.set(`${k}=${v}`, (c.get(`${k}=${v}`) ?? 0) + 1);
      return c;
    };
    const all = count(train);
    return [...count(inBatch).entries()]
      .map(([slice, k]) => ({ slice, share: k / inBatch.length, lift: k / inBatch.length / (all.get(slice)! / train.length) }))
      .filter((c) => c.share >= 0.5 && c.lift >= 1.5)
      .sort((a, b) => b.lift - a.lift || (a.slice < b.slice ? -1 : 1));
  }

  async function storedPoint(input: SaturationPointKey): Promise<SaturationPointRef | null> {
    const [row] = await db
      .select()
      .from(saturationPoints)
      .where(
        and(
          eq(saturationPoints.runId, input.runId),
          eq(saturationPoints.variant, input.variant),
          eq(saturationPoints.fraction, input.fraction),
          eq(saturationPoints.seed, input.seed),
        ),
      );
    return row ? { variant: input.variant, fraction: input.fraction, seed: input.seed, trainSize: row.trainSize, error: row.error.estimate, reused: true } : null;
  }

  return {
    /**
     * Fits the learning curve over the stored points, judges the newest batch's ablation and stores the
     * report (once per run; a retry returns what was stored).
     */
    async storeSaturationReport(input: {
      runId: string;
      modelId: number;
      snapshotId: number;
      fractions: number[];
      seeds: number;
      minGainFromDoubling?: number;
      newest: NewestBatch | null;
      trainerParams: Record<string, unknown>;
    }): Promise<SaturationReportRef> {
      const existing = async () => {
        const [row] = await db.select().from(saturationReports).where(eq(saturationReports.runId, input.runId));
        if (!row) return null;
        const v = (row.report as { verdict: { verdict: SaturationReportRef['verdict']; reasons: string[]; recommendation: string } }).verdict;
        return { verdict: v.verdict, reasons: boundedReasons(v.reasons, `saturation report ${row.id}`), recommendation: v.recommendation, reportId: row.id, contentHash: row.contentHash };
      };
      const stored = await existing();
      // The workflow hands over at most MAX_PAYLOAD_ITEMS annotators: the report names them all.
      const newest = await everyAnnotator(input.newest);
      if (stored) return stored;
      const points = await db
        .select()
        .from(saturationPoints)
        .where(eq(saturationPoints.runId, input.runId))
        .orderBy(asc(saturationPoints.variant), asc(saturationPoints.fraction), asc(saturationPoints.seed));
      const curvePoints = points.filter((p) => p.variant === 'curve');
      // One entry per training size (tiny sets can round two fractions to the same size), seeds in order.
      const bySize = new Map<number, { fraction: number; errors: number[] }>();
      for (const p of curvePoints) {
        const cell = bySize.get(p.trainSize) ?? { fraction: p.fraction, errors: [] };
        cell.errors.push(p.error.estimate);
        bySize.set(p.trainSize, cell);
      }
      const curve: CurveFraction[] = [...bySize.entries()].sort((a, b) => a[0] - b[0]).map(([n, c]) => ({ n, errors: c.errors }));
      const full = curvePoints.filter((p) => p.fraction === Math.max(...input.fractions));
      const without = points.filter((p) => p.variant === 'without_newest');
      const ablation: AblationSeed[] = without.flatMap((w) => {
        const withP = full.find((f) => f.seed === w.seed);
        if (!withP) return [];
        const slices = Object.keys(withP.sliceErrors)
          .filter((k) => withP.sliceErrors[k]!.n >= MIN_SLICE_ROWS && w.sliceErrors[k])
          .sort()
          .map((k) => ({ slice: k, withNewest: withP.sliceErrors[k]!.errors / withP.sliceErrors[k]!.n, withoutNewest: w.sliceErrors[k]!.errors / w.sliceErrors[k]!.n }));
        return [{ seed: w.seed, withNewest: withP.error.estimate, withoutNewest: w.error.estimate, slices }];
      });
      const judged = learningCurveVerdict({
        curve,
        ablation: ablation.length >= 2 ? ablation : null,
        ...(input.minGainFromDoubling !== undefined ? { thresholds: { minGainFromDoubling: input.minGainFromDoubling } } : {}),
      });
      // Row-level pairing: the same held-out rows, with and without the batch, pooled over seeds.
      const heldout = await members(input.snapshotId, 'heldout');
      const sliceOfRow: Record<string, string[]> = {};
      const attrs = [...new Set(heldout.flatMap((m) => Object.keys(m.slices)))];
      for (const a of attrs) sliceOfRow[a] = heldout.map((m) => m.slices[a] ?? 'unknown');
      const pairs = without.flatMap((w) => {
        const withP = full.find((f) => f.seed === w.seed);
        return withP ? [{ wrongWith: withP.wrongRows, wrongWithout: w.wrongRows }] : [];
      });
      const rowTest = pairs.length > 0 ? ablationRowTest(pairs, sliceOfRow) : null;
      let verdict = judged.verdict;
      let recommendation = judged.recommendation;
      const reasons = [...judged.reasons];
      if (rowTest?.overall.significant && verdict !== 'degrading') {
        verdict = 'degrading';
        recommendation = RECOMMENDATIONS.degrading;
        reasons.unshift(
          `the newest batch adds errors on the held-out rows: ${rowTest.overall.worse} row-seeds wrong only with it vs ${rowTest.overall.better} only without it (${rowTest.rule}: p = ${rowTest.overall.p.toExponential(2)})`,
        );
      }
      const composition = newest ? await batchComposition(newest.batchId, input.snapshotId) : [];
      // The slices the newest batch hurt most: by the row-level test (Holm-adjusted, most excess errors
      // first) when there is one, else by the seed-level intervals.
      const slicesMostAffected = rowTest
        ? rowTest.slices
            .filter((t) => t.excessErrors > 0)
            .slice(0, 5)
            .map((t) => ({ slice: t.slice, errorRateIncrease: t.errorRateIncrease, excessErrors: t.excessErrors, worse: t.worse, better: t.better, p: t.p, significant: t.significant }))
        : [];
      const fit = judged.evidence.fit;
      if (verdict === 'degrading' && newest && (judged.evidence.ablation?.significant || rowTest?.overall.significant)) {
        reasons.unshift(
          `newest batch ${newest.batchId} (${newest.examples} training labels by ${newest.annotators.join(', ') || 'no recorded annotators'}) ` +
            `raises held-out error${slicesMostAffected.length ? `, most on ${slicesMostAffected.slice(0, 3).map((s) => s.slice).join(', ')}` : ''}` +
            (composition.length ? `; the batch is concentrated in ${composition.slice(0, 3).map((c) => `${c.slice} (${Math.round(100 * c.share)}% of it, ${c.lift.toFixed(1)}x its training share)`).join(', ')}` : ''),
        );
      }
      // Does data go stale? The newest N dated training rows vs the oldest N, paired by seed.
      const newestHalf = points.filter((p) => p.variant === 'newest_half');
      const recencySeeds = newestHalf.flatMap((n) => {
        const o = points.find((p) => p.variant === 'oldest_half' && p.seed === n.seed);
        return o ? [{ seed: n.seed, newest: n.error.estimate, oldest: o.error.estimate }] : [];
      });
      const recency = recencyEvidence(recencySeeds, newestHalf[0]?.trainSize ?? 0);
      if (recency) reasons.push(recency.summary);
      const sizes = curve.map((c) => c.n);
      const report = {
        schemaVersion: 1,
        runId: input.runId,
        snapshotId: input.snapshotId,
        settings: { fractions: input.fractions, seeds: input.seeds, trainerParams: input.trainerParams, threshold: defaultEvaluationSettings.threshold },
        points: points.map((p) => ({ variant: p.variant, fraction: p.fraction, seed: p.seed, trainSize: p.trainSize, error: p.error, heldOut: p.heldOut, seconds: p.seconds })),
        curve: curve.map((c) => ({ n: c.n, fraction: bySize.get(c.n)!.fraction, errors: c.errors, mean: c.errors.reduce((a, b) => a + b, 0) / c.errors.length })),
        fit,
        // Ready for a chart: the measured means and the fitted curve out to twice the data.
        chart: fit.ok
          ? { n: [...sizes, 2 * Math.max(...sizes)], fitted: [...sizes, 2 * Math.max(...sizes)].map((n) => inversePowerLaw(fit, n)) }
          : null,
        ablation: newest
          ? { batch: newest, composition, perSeed: ablation, interval: judged.evidence.ablation, rowTest, slicesMostAffected }
          : null,
        evidence: { sizeComparisons: judged.evidence.sizeComparisons, fallback: judged.evidence.fallback, ablationSlices: judged.evidence.ablationSlices },
        // Only when the check compared halves (older reports have no key: their hashes stay as stored).
        ...(recency ? { recency } : {}),
        verdict: { verdict, reasons, recommendation, thresholds: judged.thresholds },
      };
      const contentHash = `sha256:${createHash('sha256').update(canonicalJson(report)).digest('hex')}`;
      await db
        .insert(saturationReports)
        .values({ runId: input.runId, modelId: input.modelId, snapshotId: input.snapshotId, verdict, report, contentHash })
        .onConflictDoNothing({ target: saturationReports.runId });
      return (await existing())!;
    },

    /** The newest sampled annotation batch whose labels are in this snapshot's training split, if any (the review queue is a stream, not a batch to ablate). */
    async newestLabelledBatch(input: { modelId: number; snapshotId: number }): Promise<NewestBatch | null> {
      const [row] = resultRows<{ batch_id: string; examples: string }>(
        await db.execute(sql`
          select a.batch_id, count(*)::text as examples
          from aggregated_labels a
          join annotation_batches b on b.id = a.batch_id
          join dataset_snapshot_members m on m.example_id = a.example_id and m.snapshot_id = ${input.snapshotId} and m.split = 'train'
          where b.model_id = ${input.modelId} and b.kind = 'sample'
          group by a.batch_id, b.created_at
          order by b.created_at desc limit 1`),
      );
      if (!row) return null;
      const annotators = await batchAnnotators(row.batch_id);
      const { kept } = boundedList(annotators);
      return { batchId: row.batch_id, examples: Number(row.examples), annotators: kept, ...(kept.length < annotators.length ? { annotatorCount: annotators.length } : {}) };
    },

    /**
     * The size of each half of the snapshot's dated training rows (floor(dated / 2)) when both reach
     * MIN_RECENCY_HALF, else 0: whether the check can ask if newer data is worth more than older.
     */
    async recencyHalfSize(input: { snapshotId: number }): Promise<number> {
      const n = await snapshotSplitCount(db, input.snapshotId, 'train', null, 'newest');
      return n >= MIN_RECENCY_HALF ? n : 0;
    },

    /** A point stored by an earlier attempt of the check (a resumed fan-out trains nothing twice), or null. */
    storedSaturationPoint: storedPoint,

    /**
     * A trained point judged on the snapshot's held-out split from the scores its trainer put back: overall
     * error with its interval and errors per slice value (the evaluation engine's counts, Wilson intervals).
     */
    async recordSaturationPoint(input: SaturationPointKey & { snapshotId: number; scoreJobKey: string; trainSize: number; seconds: number }): Promise<SaturationPointRef> {
      const scored = await completedScoreSet(db, input.scoreJobKey);
      if (!scored) throw ApplicationFailure.nonRetryable(`score set ${input.scoreJobKey} was not put back by the trainer`, 'MissingScores');
      const heldout = await members(input.snapshotId, 'heldout');
      const { error, sliceErrors, wrongRows } = heldOutErrors(heldout, scored.scores, defaultEvaluationSettings.threshold);
      const inserted = await db
        .insert(saturationPoints)
        .values({
          runId: input.runId,
          variant: input.variant,
          fraction: input.fraction,
          seed: input.seed,
          trainSize: input.trainSize,
          error,
          sliceErrors,
          wrongRows,
          heldOut: heldout.length,
          seconds: input.seconds,
        })
        .onConflictDoNothing()
        .returning({ id: saturationPoints.id });
      // Another attempt stored it first: report what is stored.
      if (inserted.length === 0) return (await storedPoint(input))!;
      return { variant: input.variant, fraction: input.fraction, seed: input.seed, trainSize: input.trainSize, error: error.estimate, reused: false };
    },
  };
}

