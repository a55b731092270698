/**
 * Assembles the evidence a gate is judged on and an approver reads: per-version evaluations
 * (classification with Wilson intervals, AUC with a bootstrap interval, fairness with bootstrap
 * intervals, a PR curve), paired candidate-minus-champion differences, threshold analyses the policy
 * asks for, and untested segments. Data first: everything here is plain JSON, content-hashed by the
 * caller; rendering is elsewhere.
 */
import { delongAucInterval } from './aucInterval';
import { evaluateCalibration, type BrierNormalInterval, type Binning, type ReliabilityCurve } from './calibration';
import { bootstrapAuc, bootstrapCellsMulti, jointCells, projectJointA, projectJointB, JOINT_CELLS, type BootstrapInterval } from './bootstrap';
import { evaluateClassification, type ClassificationEvaluation, type RateSet, type SliceEvaluation } from './classification';
import { confusionByCode, encodeAttribute, intersect, type EncodedAttribute } from './confusion';
import { FAIRNESS_GAPS, fairnessFromCells, type FairnessReport } from './fairness';
import {
  LOWER_IS_BETTER,
  RATE_METRICS,
  denominator,
  intersectionsOf,
  judgePolicy,
  thresholdConstraintsKey,
  type EvidenceSlice,
  type GatePolicy,
  type IntervalLike,
  type MetricName,
  type PolicyEvidence,
  type PolicyJudgement,
  type PolicyThresholdConstraints,
  type RuleOutcome,
} from './policy';
import { abstainBand, chooseThreshold, prCurvesBySlice, precisionRecallCurve, type AbstainBand, type PrCurve, type ThresholdChoice } from './thresholds';
import { errorCost, minimumCostThreshold } from './errorCost';
import { untestedSegments, type TrafficCount, type UntestedSegment } from './untested';

export interface EvaluationSettings {
  threshold: number;
  confidence: number;
  /** Bootstrap replicates for differences, ratios and AUCs. */
  B: number;
  seed: number;
}

export const defaultEvaluationSettings: EvaluationSettings = { threshold: 0.5, confidence: 0.95, B: 1000, seed: 1 };

/** Labelled rows with their slice attributes, shared by every model scored on them. */
export interface HeldOutData {
  labels: Uint8Array;
  attributes: EncodedAttribute[];
}

export function encodeHeldOut(labels: ArrayLike<number>, sliceValues: Record<string, ArrayLike<string>>): HeldOutData {
  return {
    labels: Uint8Array.from(labels),
    attributes: Object.keys(sliceValues)
      .sort()
      .map((name) => encodeAttribute(name, sliceValues[name]!)),
  };
}

export interface VersionEvaluation {
  schemaVersion: 2;
  settings: EvaluationSettings;
  classification: ClassificationEvaluation;
  /** Overall ROC-AUC: exact bootstrap (stratified by label) when affordable, DeLong's interval beyond that. */
  aucInterval: IntervalLike & { method: 'bootstrap' | 'delong' };
  /** Groups below the minimum support are left out of the gaps (a 2-row group's FPR is noise) and listed. */
  fairness: (FairnessReport & { excludedGroups: { group: string; count: number }[] })[];
  /** Overall precision-recall curve, at most ~100 points, for a chart. */
  prCurve: ChartCurve;
  /** Per-slice curves for attributes with few values (the same ones fairness covers). */
  slicePrCurves: { attribute: string; value: string; curve: ChartCurve }[];
  /**
   * Calibration (ECE/MCE with both binnings, Brier, with intervals) overall and per slice value,
   * one entry per number of bins: always 10, plus whatever the policy's calibration rules ask.
   * Absent in evaluations stored before it existed.
   */
  calibration?: VersionCalibration[];
}

export interface ChartCurve {
  thresholds: number[];
  precision: number[];
  recall: number[];
}

function downsample(curve: PrCurve, maxPoints = 100): ChartCurve {
  const n = curve.thresholds.length;
  const step = Math.max(1, Math.ceil(n / maxPoints));
  const idx: number[] = [];
  for (let i = 0; i < n; i += step) idx.push(i);
  if (n > 0 && idx.at(-1) !== n - 1) idx.push(n - 1);
  return {
    thresholds: idx.map((i) => curve.thresholds[i]!),
    precision: [...idx.map((i) => curve.precision[i]!), curve.precision[n] ?? 1],
    recall: [...idx.map((i) => curve.recall[i]!), curve.recall[n] ?? 0],
  };
}

/** Above this many distinct scores the exact AUC bootstrap (O(distinct cells) per replicate) gives way to DeLong. */
export const MAX_DISTINCT_SCORES_FOR_AUC_BOOTSTRAP = 5000;

function aucIntervalFor(labels: Uint8Array, scores: Float64Array, settings: EvaluationSettings): VersionEvaluation['aucInterval'] {
  const distinct = new Set<number>();
  for (let i = 0; i < scores.length && distinct.size <= MAX_DISTINCT_SCORES_FOR_AUC_BOOTSTRAP; i++) distinct.add(scores[i]!);
  if (distinct.size > MAX_DISTINCT_SCORES_FOR_AUC_BOOTSTRAP) {
    const d = delongAucInterval(labels, scores, settings.confidence);
    return { estimate: d.estimate, lower: d.lower, upper: d.upper, method: 'delong' };
  }
  // The class counts stay fixed (strata = label), as a held-out set's design does.
  const b = bootstrapAuc(labels, scores, labels, 2, { B: settings.B, seed: settings.seed, confidence: settings.confidence });
  return { estimate: b.estimate, lower: b.lower, upper: b.upper, method: 'bootstrap' };
}

/** Evaluates one model version's scores on the held-out rows. */
export function evaluateVersion(
  data: HeldOutData,
  scores: Float64Array,
  opts: {
    settings?: Partial<EvaluationSettings>;
    sensitive?: string[];
    intersections?: [string, string][];
    minGroupSupport?: number;
    /** 'exclude' (default): a group without positives has no TPR to compare; 'zero' is Fairlearn's convention. */
    undefinedRates?: 'exclude' | 'zero';
    /** Numbers of bins the policy's calibration rules judge (calibrationBinsOf); 10 is always computed. */
    calibrationBins?: number[];
  } = {},
): VersionEvaluation {
  const settings = { ...defaultEvaluationSettings, ...opts.settings };
  const classification = evaluateClassification({
    labels: data.labels,
    scores,
    threshold: settings.threshold,
    attributes: data.attributes,
    ...(opts.intersections ? { intersections: opts.intersections } : {}),
  });
  const aucInterval = aucIntervalFor(data.labels, scores, settings);
  const fairness = (opts.sensitive ?? []).flatMap((name) => {
    const attribute = data.attributes.find((a) => a.name === name);
    if (!attribute) throw new RangeError(`sensitive attribute '${name}' is not among the slice attributes`);
    const all = confusionByCode(data.labels, scores, settings.threshold, attribute.codes, attribute.values.length);
    const minSupport = opts.minGroupSupport ?? 1;
    const kept: number[] = [];
    const excludedGroups: { group: string; count: number }[] = [];
    attribute.values.forEach((group, g) => {
      const count = all[4 * g]! + all[4 * g + 1]! + all[4 * g + 2]! + all[4 * g + 3]!;
      if (count >= minSupport) kept.push(g);
      else if (count > 0) excludedGroups.push({ group, count });
    });
    const cells = new Float64Array(4 * kept.length);
    kept.forEach((g, k) => cells.set(all.subarray(4 * g, 4 * g + 4), 4 * k));
    const values = kept.map((g) => attribute.values[g]!);
    // No group large enough: no fairness evidence for this attribute (a rule that needs it fails closed).
    if (values.length === 0) return [];
    // By default groups lacking a class (no positives, say) are left out of the TPR gap rather than counted as 0.
    const report = fairnessFromCells(name, values, cells, {
      B: settings.B,
      seed: settings.seed,
      confidence: settings.confidence,
      undefinedRates: opts.undefinedRates ?? 'exclude',
    });
    return [{ ...report, excludedGroups }];
  });
  const slicePrCurves = data.attributes
    .filter((a) => (opts.sensitive ?? []).includes(a.name))
    .flatMap((a) => prCurvesBySlice(data.labels, scores, a).map(({ value, curve }) => ({ attribute: a.name, value, curve: downsample(curve, 50) })));
  return {
    schemaVersion: 2,
    settings,
    classification,
    aucInterval,
    fairness,
    prCurve: downsample(precisionRecallCurve(data.labels, scores)),
    slicePrCurves,
    calibration: versionCalibration(data, scores, settings, opts.calibrationBins ?? [], opts.intersections ?? []),
  };
}

// ---------------------------------------------------------------------------------------------
// Calibration (analysis/calibration.ts) for the evaluation, the gate and the packet

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

type RateMetric = (typeof RATE_METRICS)[number];

/** A rate from one stratum's (tp, fp, tn, fn); NaN when undefined, as the bootstrap expects. */
function rateFromCells(c: ArrayLike<number>, o: number, metric: RateMetric): number {
  const tp = c[o]!, fp = c[o + 1]!, tn = c[o + 2]!, fn = c[o + 3]!;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : Number.NaN);
  switch (metric) {
    case 'accuracy':
      return ratio(tp + tn, tp + fp + tn + fn);
    case 'precision':
      return ratio(tp, tp + fp);
    case 'recall':
      return ratio(tp, tp + fn);
    case 'fpr':
      return ratio(fp, fp + tn);
    case 'fnr':
      return ratio(fn, tp + fn);
    case 'selectionRate':
      return ratio(tp + fp, tp + fp + tn + fn);
  }
}

export type PairedDelta = NonNullable<PolicyEvidence['deltas']>[number];

/**
 * Candidate minus champion for every rate metric, overall and per slice value, from a paired
 * bootstrap: both models' outcomes on the same row move together (16 joint cells per stratum), so
 * the interval reflects the models' disagreement, not two independent samples' noise.
 */
export function pairedDeltas(
  data: HeldOutData,
  candidate: Float64Array,
  champion: Float64Array,
  settings: EvaluationSettings,
  /** Attribute pairs whose cells also get paired differences (no_regression on an intersection). */
  intersections: [string, string][] = [],
): PairedDelta[] {
  const metrics = RATE_METRICS;
  const out: PairedDelta[] = [];
  const opts = { B: settings.B, seed: settings.seed, confidence: settings.confidence };
  const run = (attribute: string, values: string[], codes: ArrayLike<number> | null) => {
    const S = values.length;
    const joint = jointCells(data.labels, candidate, champion, settings.threshold, codes, S);
    const a = new Float64Array(4 * S);
    const b = new Float64Array(4 * S);
    const statistic = (cells: Float64Array, res: Float64Array) => {
      projectJointA(cells, S, a);
      projectJointB(cells, S, b);
      for (let s = 0; s < S; s++) {
        for (let m = 0; m < metrics.length; m++) res[s * metrics.length + m] = rateFromCells(a, 4 * s, metrics[m]!) - rateFromCells(b, 4 * s, metrics[m]!);
      }
    };
    const intervals = bootstrapCellsMulti(joint, S, S * metrics.length, statistic, opts);
    values.forEach((value, s) => {
      const support = joint.subarray(JOINT_CELLS * s, JOINT_CELLS * (s + 1)).reduce((x, y) => x + y, 0);
      if (support === 0) return;
      metrics.forEach((metric, m) => out.push({ attribute, value, metric, interval: toInterval(intervals[s * metrics.length + m]!) }));
    });
  };
  run('overall', ['all'], null);
  for (const attr of data.attributes) run(attr.name, attr.values, attr.codes);
  for (const [x, y] of intersections) {
    const a = data.attributes.find((t) => t.name === x);
    const b = data.attributes.find((t) => t.name === y);
    if (!a || !b) continue; // a rule naming it reports missing evidence
    const cross = intersect(a, b);
    run(cross.name, cross.values, cross.codes);
  }
  return out;
}

const toInterval = (b: BootstrapInterval): IntervalLike => ({ estimate: b.estimate, lower: b.lower, upper: b.upper });

export interface ThresholdAnalysis {
  constraintsKey: string;
  constraints: PolicyThresholdConstraints;
  choice: ThresholdChoice;
}

export function thresholdAnalyses(data: HeldOutData, scores: Float64Array, policy: GatePolicy | null): ThresholdAnalysis[] {
  const wanted = (policy?.rules ?? []).flatMap((r) => (r.kind === 'threshold' ? [r.constraints] : []));
  return wanted.map((constraints) => ({
    constraintsKey: thresholdConstraintsKey(constraints),
    constraints,
    choice: chooseThreshold({ labels: data.labels, scores, attributes: data.attributes, constraints }),
  }));
}

function describeChoice(choice: ThresholdChoice): string {
  const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  if (choice.status === 'met' && choice.chosen) {
    const c = choice.chosen;
    return `threshold ${fmt(c.threshold)} meets the constraints: recall ${fmt(c.recall)}, FPR ${fmt(c.fpr)}${c.worstSliceFpr ? `, worst slice ${c.worstSliceFpr.attribute}=${c.worstSliceFpr.value} FPR ${fmt(c.worstSliceFpr.fpr)}` : ''}`;
  }
  const c = choice.closest;
  return c ? `no threshold satisfies the constraints; closest ${fmt(c.threshold)}: ${c.violations.join('; ')}` : 'no threshold satisfies the constraints';
}

const sliceEvidence = (s: SliceEvaluation, auc?: IntervalLike): EvidenceSlice => ({
  attribute: s.attribute,
  value: s.value,
  support: s.rates.support,
  positives: s.rates.positives,
  negatives: s.rates.negatives,
  metrics: {
    accuracy: s.rates.accuracy,
    precision: s.rates.precision,
    recall: s.rates.recall,
    fpr: s.rates.fpr,
    fnr: s.rates.fnr,
    selectionRate: s.rates.selectionRate,
    ...(auc ? { auc } : {}),
  },
});

/** The policy's view of the evidence. */
export function policyEvidence(candidate: VersionEvaluation, deltas: PairedDelta[] | null, thresholds: ThresholdAnalysis[]): PolicyEvidence {
  const c = candidate.classification;
  return {
    slices: [
      sliceEvidence(c.overall, { estimate: candidate.aucInterval.estimate, lower: candidate.aucInterval.lower, upper: candidate.aucInterval.upper }),
      ...c.slices.filter((s) => s.rates.support > 0).map((s) => sliceEvidence(s)),
      // Intersection cells (attribute 'a&b', value 'a=x&b=y'), those the evaluation computed; never empty ones.
      ...c.intersections.map((s) => sliceEvidence(s)),
    ],
    deltas,
    fairness: candidate.fairness.map((f) => ({
      attribute: f.attribute,
      metrics: Object.fromEntries(FAIRNESS_GAPS.map((k) => [k, toInterval(f[k])])),
    })),
    thresholds: thresholds.map((t) => ({ constraintsKey: t.constraintsKey, status: t.choice.status, detail: describeChoice(t.choice) })),
    calibration: calibrationEvidence(candidate),
  };
}

export interface ApprovalPacket {
  schemaVersion: 1;
  runId: string;
  model: string;
  policyVersion: number | null;
  candidate: { versionId: number; version: number; reportHash: string };
  champion: { versionId: number; version: number; reportHash: string } | null;
  /** `design`: how the held-out set was chosen; `labelMix`: who chose the training labels, by source and selector (each the snapshot's record; absent when it has none). */
  heldOut: { rows: number; positives: number; negatives: number; design?: NonNullable<PolicyEvidence['heldOutDesign']> };
  labelMix?: NonNullable<PolicyEvidence['labelMix']>;
  candidateEvaluation: VersionEvaluation;
  championEvaluation: VersionEvaluation | null;
  deltas: PairedDelta[] | null;
  thresholds: ThresholdAnalysis[];
  /** Severity-weighted error cost at the operating threshold and the cheapest threshold, when the policy prices errors. */
  costs: { atThreshold: ReturnType<typeof errorCost>; cheapest: { threshold: number; cost: number } } | { error: string } | null;
  /** Deferring scores near the threshold to a human, when the policy asks. */
  abstain: AbstainBand | null;
  untested: UntestedSegment[];
  /** The saturation check's verdict and the report it came from (present when the run had one). */
  saturation?: NonNullable<PolicyEvidence['saturation']> & { reportHash: string };
  /** The worst intersection cells per combination the policy judges or the caller asked for (worstIntersectionCells). */
  intersections?: IntersectionReport[];
  judgement: PolicyJudgement;
}

// ---- intersections: the worst cells of each attribute combination ----

/** One intersection cell in the packet's worst-cells list. */
export interface WorstCell {
  /** 'format=html&sender_tld=generic' */
  cell: string;
  support: number;
  positives: number;
  negatives: number;
  /** The metric's Wilson interval in this cell. */
  interval: IntervalLike;
  /** The worst outcome the policy's rules on this combination gave the cell; null when no rule judged it. */
  outcome: RuleOutcome | null;
}

export interface IntersectionReport {
  /** The two attributes, in the evaluation's order. */
  attributes: string[];
  metric: MetricName;
  /** 'upper': the highest upper bound is worst (error-like, or a rule's max); 'lower': the lowest lower bound. */
  worstBy: 'upper' | 'lower';
  /** Ids of the rules that judge this combination on this metric (none: asked for, not judged). */
  rules: string[];
  /** Cells with rows, and how many of them have fewer than minSliceSupport rows under the metric (insufficient, not ranked). */
  cells: number;
  belowMinSupport: number;
  /** The worst cells with enough support, worst first. */
  worst: WorstCell[];
}

/** Cells listed per combination in the packet. */
export const WORST_CELLS = 5;

const OUTCOME_RANK: Record<RuleOutcome, number> = { passed: 0, insufficient: 1, needs_approval: 2, failed: 3 };

/**
 * The attribute pairs an evaluation computes cells for: the policy's intersection selectors
 * (intersectionsOf) whose attributes the held-out rows carry, and `extra` (already checked by the
 * caller), each in code-unit order, distinct. A policy pair naming an unknown attribute is left
 * out, so its rule reports missing evidence instead of the evaluation throwing.
 */
export function intersectionPairs(policy: GatePolicy | null, attributeNames: readonly string[], extra: readonly (readonly [string, string])[] = []): [string, string][] {
  const known = new Set(attributeNames);
  const pairs = new Map<string, [string, string]>();
  const add = ([x, y]: readonly [string, string]) => {
    const [a, b] = x < y ? [x, y] : [y, x];
    pairs.set(`${a}&${b}`, [a, b]);
  };
  intersectionsOf(policy).filter(([a, b]) => known.has(a) && known.has(b)).forEach(add);
  extra.forEach(add);
  return [...pairs.keys()].sort().map((k) => pairs.get(k)!);
}

/**
 * For each combination the evaluation computed: the k worst cells on each metric a rule judges it by
 * (bound and no_regression rules with an intersection selector), or on accuracy when no rule does.
 * Cells whose metric denominator is below minSliceSupport are counted, not ranked (their rules call
 * them insufficient); cells where the metric is undefined are left out.
 */
export function worstIntersectionCells(
  evaluation: VersionEvaluation,
  policy: GatePolicy | null,
  judgement: PolicyJudgement,
  k = WORST_CELLS,
): IntersectionReport[] {
  const byCombination = new Map<string, SliceEvaluation[]>();
  for (const s of evaluation.classification.intersections) byCombination.set(s.attribute, [...(byCombination.get(s.attribute) ?? []), s]);
  const minSupport = policy?.minSliceSupport ?? 30;
  const out: IntersectionReport[] = [];
  for (const [combination, cells] of byCombination) {
    const attributes = combination.split('&');
    const sorted = [...attributes].sort();
    const views = new Map<string, { metric: MetricName; worstBy: 'upper' | 'lower'; rules: string[] }>();
    (policy?.rules ?? []).forEach((r, i) => {
      if ((r.kind !== 'bound' && r.kind !== 'no_regression') || r.slices === 'overall' || 'attribute' in r.slices) return;
      const names = (Array.isArray(r.slices.attributes) ? r.slices.attributes : Object.keys(r.slices.attributes)).slice().sort();
      if (names.join('&') !== sorted.join('&')) return;
      const worstBy = r.kind === 'bound' ? (r.min === undefined ? 'upper' : r.max === undefined ? 'lower' : LOWER_IS_BETTER.has(r.metric) ? 'upper' : 'lower') : LOWER_IS_BETTER.has(r.metric) ? 'upper' : 'lower';
      const key = `${r.metric}|${worstBy}`;
      const view = views.get(key) ?? { metric: r.metric, worstBy, rules: [] };
      view.rules.push(r.id ?? `${r.kind}#${i + 1}`);
      views.set(key, view);
    });
    if (views.size === 0) views.set('accuracy|lower', { metric: 'accuracy', worstBy: 'lower', rules: [] });
    for (const { metric, worstBy, rules } of views.values()) {
      const judged = judgement.rules.filter((r) => rules.includes(r.id));
      const ranked: WorstCell[] = [];
      let belowMinSupport = 0;
      for (const s of cells) {
        const e = sliceEvidence(s);
        const n = denominator(e, metric);
        if (n === 0) continue;
        if (n < minSupport) {
          belowMinSupport++;
          continue;
        }
        const interval = e.metrics[metric];
        if (!interval || interval.lower === null || interval.upper === null) continue;
        const outcomes = judged.flatMap((r) => r.checks.filter((c) => c.slice === s.value).map((c) => c.outcome));
        const outcome = outcomes.length === 0 ? null : outcomes.reduce((w, o) => (OUTCOME_RANK[o] > OUTCOME_RANK[w] ? o : w));
        ranked.push({ cell: s.value, support: e.support, positives: e.positives, negatives: e.negatives, interval, outcome });
      }
      ranked.sort((a, b) => (worstBy === 'upper' ? b.interval.upper! - a.interval.upper! : a.interval.lower! - b.interval.lower!) || (a.cell < b.cell ? -1 : 1));
      out.push({ attributes, metric, worstBy, rules, cells: cells.length, belowMinSupport, worst: ranked.slice(0, k) });
    }
  }
  return out;
}

/** Traffic counts per slice value from production examples' attributes. */
export function trafficCounts(sliceValues: Record<string, ArrayLike<string>>): TrafficCount[] {
  const out: TrafficCount[] = [];
  for (const [attribute, values] of Object.entries(sliceValues)) {
    const counts = new Map<string, number>();
    for (let i = 0; i < values.length; i++) counts.set(values[i]!, (counts.get(values[i]!) ?? 0) + 1);
    for (const [value, count] of counts) out.push({ attribute, value, count });
  }
  return out;
}

/** A policy pricing a slice the data does not have is reported, not thrown: the packet still gets built. */
function priceErrors(data: HeldOutData, scores: Float64Array, threshold: number, cost: NonNullable<GatePolicy['costs']>): ApprovalPacket['costs'] {
  try {
    return {
      atThreshold: errorCost({ labels: data.labels, scores, threshold, attributes: data.attributes, cost }),
      cheapest: minimumCostThreshold({ labels: data.labels, scores, attributes: data.attributes, cost }),
    };
  } catch (err) {
    return { error: `the policy's error costs could not be applied: ${(err as Error).message}` };
  }
}

/** Everything an approver reads, and the judgement the gate makes on it. */
export function buildApprovalPacket(input: {
  runId: string;
  model: string;
  data: HeldOutData;
  policy: GatePolicy | null;
  policyVersion: number | null;
  candidate: { versionId: number; version: number; reportHash: string; scores: Float64Array; evaluation: VersionEvaluation };
  champion: { versionId: number; version: number; reportHash: string; scores: Float64Array; evaluation: VersionEvaluation } | null;
  traffic: TrafficCount[];
  settings: EvaluationSettings;
  saturation?: ApprovalPacket['saturation'];
  /** Cells listed per intersection combination (default WORST_CELLS). */
  worstCells?: number;
  /** As recorded on the snapshot: how its held-out set was chosen (a held_out rule judges it) and its label mix (self_selected_share). */
  heldOutDesign?: PolicyEvidence['heldOutDesign'];
  labelMix?: PolicyEvidence['labelMix'];
}): ApprovalPacket {
  const { data, policy, candidate, champion } = input;
  // Paired differences for the intersection cells the policy judges (and the evaluation computed).
  const computedPairs = [...new Set(candidate.evaluation.classification.intersections.map((s) => s.attribute))].map((n) => n.split('&') as [string, string]);
  const policyPairs = new Set(intersectionsOf(policy).map((p) => p.join('&')));
  const deltaPairs = computedPairs.filter((p) => policyPairs.has([...p].sort().join('&')));
  const deltas = champion ? pairedDeltas(data, candidate.scores, champion.scores, input.settings, deltaPairs) : null;
  const thresholds = thresholdAnalyses(data, candidate.scores, policy);
  const evidence = { ...policyEvidence(candidate.evaluation, deltas, thresholds), saturation: input.saturation ?? null, heldOutDesign: input.heldOutDesign ?? null, labelMix: input.labelMix ?? null };
  const heldOutSupport = candidate.evaluation.classification.slices.map((s) => ({
    attribute: s.attribute,
    value: s.value,
    support: s.rates.support,
    negatives: s.rates.negatives,
    positives: s.rates.positives,
  }));
  const positives = candidate.evaluation.classification.overall.rates.positives;
  const judgement = judgePolicy(policy, evidence);
  const intersections = worstIntersectionCells(candidate.evaluation, policy, judgement, input.worstCells);
  return {
    schemaVersion: 1,
    runId: input.runId,
    model: input.model,
    policyVersion: input.policyVersion,
    candidate: { versionId: candidate.versionId, version: candidate.version, reportHash: candidate.reportHash },
    champion: champion ? { versionId: champion.versionId, version: champion.version, reportHash: champion.reportHash } : null,
    heldOut: { rows: data.labels.length, positives, negatives: data.labels.length - positives, ...(input.heldOutDesign ? { design: input.heldOutDesign } : {}) },
    ...(input.labelMix ? { labelMix: input.labelMix } : {}),
    candidateEvaluation: candidate.evaluation,
    championEvaluation: champion?.evaluation ?? null,
    deltas,
    thresholds,
    costs: policy?.costs ? priceErrors(data, candidate.scores, input.settings.threshold, policy.costs) : null,
    abstain: policy?.abstainHalfWidth
      ? abstainBand({ labels: data.labels, scores: candidate.scores, threshold: input.settings.threshold, halfWidth: policy.abstainHalfWidth })
      : null,
    untested: untestedSegments(input.traffic, heldOutSupport, policy?.minSliceSupport ?? 30),
    ...(input.saturation ? { saturation: input.saturation } : {}),
    ...(intersections.length > 0 ? { intersections } : {}),
    judgement,
  };
}

export interface HeldOutErrors {
  /** Error rate (1 - accuracy at the threshold) with the engine's Wilson interval. */
  error: { estimate: number; lower: number; upper: number };
  /** Per slice value ("attribute=value"): errors, rows and the interval of the error rate. */
  sliceErrors: Record<string, { errors: number; n: number; lower: number; upper: number }>;
  /** Row indices the model got wrong (the row-level pairing of an ablation). */
  wrongRows: number[];
}

/**
 * A trained model's errors on held-out rows, overall and per slice value, by the evaluation engine
 * (counts and Wilson intervals); every slice attribute the rows carry is judged.
 */
export function heldOutErrors(rows: readonly { label: number; slices: Record<string, string> }[], scores: Float64Array, threshold: number): HeldOutErrors {
  const attributeNames = [...new Set(rows.flatMap((m) => Object.keys(m.slices)))].sort();
  const data = encodeHeldOut(
    rows.map((m) => m.label),
    Object.fromEntries(attributeNames.map((a) => [a, rows.map((m) => m.slices[a] ?? 'unknown')])),
  );
  const judged = evaluateClassification({ labels: data.labels, scores, threshold, attributes: data.attributes, withScoreMetrics: false });
  const errorOf = (r: RateSet) => ({
    estimate: 1 - (r.accuracy.estimate ?? 1),
    lower: 1 - (r.accuracy.upper ?? 1),
    upper: 1 - (r.accuracy.lower ?? 0),
  });
  const sliceErrors: HeldOutErrors['sliceErrors'] = {};
  for (const sl of judged.slices) {
    if (sl.rates.support === 0) continue;
    const e = errorOf(sl.rates);
    sliceErrors[`${sl.attribute}=${sl.value}`] = { errors: Math.round(e.estimate * sl.rates.support), n: sl.rates.support, lower: e.lower, upper: e.upper };
  }
  const wrongRows: number[] = [];
  rows.forEach((m, i) => {
    if ((scores[i]! >= threshold ? 1 : 0) !== m.label) wrongRows.push(i);
  });
  return { error: errorOf(judged.overall.rates), sliceErrors, wrongRows };
}
