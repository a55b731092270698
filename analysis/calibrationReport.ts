/**
 * Calibration (analysis/calibration.ts) for the evaluation, the gate and the packet: every number of bins a
 * rule asks for on the exact scores, and an always-on summary kept within a budget. Pure.
 */
import { evaluateCalibration, type Binning, type BrierNormalInterval, type ReliabilityCurve } from './calibration';
import type { IntervalLike, PolicyEvidence } from './policy';
import type { EvaluationSettings, HeldOutData, VersionEvaluation } from './report';
import { toInterval } from './sliceEvidence';

/** One slice's calibration as stored: intervals without the replicate counts (VersionCalibration says how many). */
export interface CalibrationSliceResult {
  /** 'overall' (value 'all') or an attribute name. */
  attribute: string;
  value: string;
  support: number;
  positives: number;
  /** Expected calibration error with fixed ('uniform') and adaptive ('quantile') bins, percentile bootstrap intervals. */
  ece: Record<Binning, IntervalLike>;
  /** Maximum calibration error, likewise. */
  mce: Record<Binning, IntervalLike>;
  /** Brier score with its percentile bootstrap interval (the one the gate judges). */
  brier: IntervalLike;
  /** Brier score with its closed-form normal interval; null with no rows. */
  brierNormal: BrierNormalInterval | null;
}

export interface VersionCalibration {
  bins: number;
  /** Bootstrap replicates per interval. */
  replicates: number;
  /**
   * Decimals the scores were rounded to before the evaluation (the always-on summary of a held-out
   * set with more than MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION distinct scores), or null: exact.
   * Bins a calibration rule judges are always exact.
   */
  roundedTo: number | null;
  /** The overall slice with both reliability curves (null with no rows). */
  overall: CalibrationSliceResult & { curves: Record<Binning, ReliabilityCurve> | null };
  /** Every slice value with rows, attributes in name order. */
  slices: CalibrationSliceResult[];
}

/** The bins every evaluation reports, rule or not, so every packet has a reliability curve. */
export const DEFAULT_CALIBRATION_BINS = 10;
/**
 * The always-on summary (bins no rule asks for) is kept cheap: the bootstrap costs O(distinct
 * (score, label) cells) per replicate and slice (100k distinct scores x 1000 replicates took 58 s;
 * 5000 distinct scores over 3 attributes, 14 slices, took 6 s; rounded and at 200 replicates,
 * 100k rows over those slices take 3 s). Past
 * MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION distinct scores it rounds scores to
 * ROUNDED_CALIBRATION_DECIMALS first (at most 2002 cells per slice; each score moves by at most
 * 0.0005), and it draws fewer replicates (never fewer than MIN_SUMMARY_REPLICATES) when cells x
 * replicates would pass CALIBRATION_SUMMARY_BUDGET. Bins a calibration rule judges are computed
 * on the exact scores with every replicate the settings ask: the gate pays for what it judges.
 */
export const MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION = 1000;
export const ROUNDED_CALIBRATION_DECIMALS = 3;
export const CALIBRATION_SUMMARY_BUDGET = 5_000_000;
export const MIN_SUMMARY_REPLICATES = 200;

function countDistinct(scores: Float64Array, cap: number): number {
  const distinct = new Set<number>();
  for (let i = 0; i < scores.length && distinct.size <= cap; i++) distinct.add(scores[i]!);
  return distinct.size;
}

/**
 * Calibration for DEFAULT_CALIBRATION_BINS and every number of bins `ruleBins` asks, overall and per slice
 * value; the bins a rule judges also per cell of each `pairs` combination (listed after the slices, named
 * 'a&b' / 'a=x&b=y' as classification's cells are), so a calibration rule on an intersection finds them.
 */
export function versionCalibration(data: HeldOutData, scores: Float64Array, settings: EvaluationSettings, ruleBins: number[], pairs: [string, string][] = []): VersionCalibration[] {
  const wanted = [...new Set([DEFAULT_CALIBRATION_BINS, ...ruleBins])].sort((a, b) => a - b);
  const summary = (() => {
    let distinct = countDistinct(scores, MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION);
    let rounded: Float64Array | null = null;
    if (distinct > MAX_DISTINCT_SCORES_FOR_EXACT_CALIBRATION) {
      const f = 10 ** ROUNDED_CALIBRATION_DECIMALS;
      rounded = scores.map((s) => Math.round(s * f) / f);
      distinct = f + 1;
    }
    // Each slice has at most 2 x distinct scores cells, and a partition of the rows at most one per row.
    const cells = [1, ...data.attributes.map((a) => a.values.length)].reduce((sum, values) => sum + Math.min(scores.length, values * 2 * distinct), 0);
    const B = Math.min(settings.B, Math.max(MIN_SUMMARY_REPLICATES, Math.floor(CALIBRATION_SUMMARY_BUDGET / Math.max(1, cells))));
    return { rounded, B };
  })();
  return wanted.map((bins) => {
    const exact = ruleBins.includes(bins);
    const B = exact ? settings.B : summary.B;
    const round = exact ? null : summary.rounded;
    const e = evaluateCalibration({
      labels: data.labels,
      scores: round ?? scores,
      attributes: data.attributes,
      ...(exact && pairs.length > 0 ? { intersections: pairs } : {}),
      options: { bins, B, seed: settings.seed, confidence: settings.confidence },
    });
    const slice = (s: (typeof e.slices)[number]): CalibrationSliceResult => ({
      attribute: s.attribute,
      value: s.value,
      support: s.support,
      positives: s.positives,
      ece: { uniform: toInterval(s.ece.uniform), quantile: toInterval(s.ece.quantile) },
      mce: { uniform: toInterval(s.mce.uniform), quantile: toInterval(s.mce.quantile) },
      brier: toInterval(s.brier),
      brierNormal: s.brierNormal,
    });
    return {
      bins,
      replicates: B,
      roundedTo: round ? ROUNDED_CALIBRATION_DECIMALS : null,
      overall: { ...slice(e.overall), curves: e.overall.curves },
      slices: [...e.slices, ...e.intersections].filter((s) => s.support > 0).map(slice),
    };
  });
}

/** The policy's view of a version's calibration (PolicyEvidence.calibration): overall first, then every slice. */
export function calibrationEvidence(evaluation: VersionEvaluation): NonNullable<PolicyEvidence['calibration']> {
  return (evaluation.calibration ?? []).map((c) => ({ bins: c.bins, slices: [c.overall, ...c.slices] }));
}
