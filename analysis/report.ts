/**
 * Assembles the evidence a gate is judged on and an approver reads: per-version evaluations
 * (classification with Wilson intervals, AUC with a bootstrap interval, fairness with bootstrap
 * intervals, a PR curve), paired candidate-minus-champion differences, threshold analyses the policy
 * asks for, and untested segments. Data first: everything here is plain JSON, content-hashed by the
 * caller; rendering is elsewhere.
 */
import { delongAucInterval } from './aucInterval';
import { bootstrapAuc, bootstrapCellsMulti, jointCells, projectJointA, projectJointB, JOINT_CELLS } from './bootstrap';
import { evaluateClassification, type ClassificationEvaluation, type RateSet } from './classification';
import { confusionByCode, encodeAttribute, intersect, type EncodedAttribute } from './confusion';
import { FAIRNESS_GAPS, fairnessFromCells, type FairnessReport } from './fairness';
import {
  RATE_METRICS,
  intersectionsOf,
  judgePolicy,
  thresholdConstraintsKey,
  type GatePolicy,
  type IntervalLike,
  type PolicyEvidence,
  type PolicyJudgement,
  type PolicyThresholdConstraints,
} from './policy';
import { abstainBand, chooseThreshold, prCurvesBySlice, precisionRecallCurve, type AbstainBand, type PrCurve, type ThresholdChoice } from './thresholds';
import { errorCost, minimumCostThreshold } from './errorCost';
import { untestedSegments, type TrafficCount, type UntestedSegment } from './untested';
import { calibrationEvidence, versionCalibration, type VersionCalibration } from './calibrationReport';
import { sliceEvidence, toInterval } from './sliceEvidence';
import { worstIntersectionCells, type IntersectionReport } from './intersectionReport';

// The packet's calibration and intersection sections live in their own modules; their names stay importable from here.
export * from './calibrationReport';
export * from './intersectionReport';

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
