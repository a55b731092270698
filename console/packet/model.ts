// What the packet's sections draw, derived once from the packet and the policy it was judged under:
// rows of points with intervals, the bound that judges each, and which slices are too thin to judge.
import type { Outputs } from '../trpc';
import type { BoundedRow, CurvePoint, ReliabilityBin } from './specs';

export type PacketAnswer = Outputs['reports']['get'];
export type Packet = NonNullable<PacketAnswer['packet']>;
export type Evaluation = Packet['candidateEvaluation'];
export type SliceEvaluation = Evaluation['classification']['overall'];
export type Policy = Outputs['gates']['policyHistory'][number]['policy'];
export type Rule = Policy['rules'][number];
export type RateMetric = 'accuracy' | 'precision' | 'recall' | 'fpr' | 'fnr' | 'selectionRate';
export type FairnessReport = Evaluation['fairness'][number];
export type GapMetric = 'demographic_parity_difference' | 'demographic_parity_ratio' | 'equal_opportunity_difference' | 'equalized_odds_difference' | 'tpr_difference' | 'fpr_difference';

export const RATE_METRICS: readonly RateMetric[] = ['accuracy', 'precision', 'recall', 'fpr', 'fnr', 'selectionRate'];
export const GAP_METRICS: readonly GapMetric[] = [
  'demographic_parity_difference',
  'demographic_parity_ratio',
  'equal_opportunity_difference',
  'equalized_odds_difference',
  'tpr_difference',
  'fpr_difference',
];

export const METRIC_NAMES: Record<RateMetric, string> = {
  accuracy: 'Accuracy',
  precision: 'Precision',
  recall: 'Recall',
  fpr: 'False-positive rate',
  fnr: 'False-negative rate',
  selectionRate: 'Selection rate',
};

export const GAP_NAMES: Record<GapMetric, string> = {
  demographic_parity_difference: 'Demographic parity difference',
  demographic_parity_ratio: 'Demographic parity ratio',
  equal_opportunity_difference: 'Equal opportunity difference',
  equalized_odds_difference: 'Equalized odds difference',
  tpr_difference: 'TPR difference',
  fpr_difference: 'FPR difference',
};

/** The policy's default when the packet was judged without one (analysis/policy minSliceSupport). */
export const DEFAULT_MIN_SLICE_SUPPORT = 30;

export const isRateMetric = (m: string): m is RateMetric => (RATE_METRICS as readonly string[]).includes(m);
export const isGapMetric = (m: string): m is GapMetric => (GAP_METRICS as readonly string[]).includes(m);

/** The rows a rate is a proportion of (as analysis/policy counts a slice's support for a metric). */
export function denominator(s: SliceEvaluation, metric: RateMetric): number {
  if (metric === 'fpr') return s.rates.negatives;
  if (metric === 'recall' || metric === 'fnr') return s.rates.positives;
  if (metric === 'precision') return s.rates.counts.tp + s.rates.counts.fp;
  return s.rates.support;
}

const sliceKey = (attribute: string, value: string) => (attribute === 'overall' ? 'overall' : `${attribute}=${value}`);

/** Slices a rule check of the judgement called insufficient ("a0=v4"). */
export function insufficientSlices(packet: Packet): Set<string> {
  return new Set(packet.judgement.rules.flatMap((r) => r.checks.filter((c) => c.outcome === 'insufficient').map((c) => c.slice)));
}

/** The bound rules of the policy that judge `metric` on this slice. */
function boundsFor(policy: Policy | null, metric: RateMetric, attribute: string, value: string): { min?: number; max?: number } {
  const out: { min?: number; max?: number } = {};
  for (const r of policy?.rules ?? []) {
    if (r.kind !== 'bound' || r.metric !== metric) continue;
    // Intersection selectors judge cells, drawn in their own section (Intersections.tsx), not here.
    const applies =
      r.slices === 'overall' ? attribute === 'overall' : 'attribute' in r.slices && r.slices.attribute === attribute && (r.slices.value === '*' || r.slices.value === value);
    if (!applies) continue;
    if (r.min !== undefined) out.min = Math.max(out.min ?? -Infinity, r.min);
    if (r.max !== undefined) out.max = Math.min(out.max ?? Infinity, r.max);
  }
  return out;
}

/** The metric a bound rule of the policy names first (slice rules before overall ones), else accuracy. */
export function defaultSliceMetric(policy: Policy | null): RateMetric {
  const bounds = (policy?.rules ?? []).filter((r) => r.kind === 'bound');
  const sliceRule = bounds.find((r) => r.kind === 'bound' && r.slices !== 'overall') ?? bounds[0];
  return sliceRule?.kind === 'bound' && isRateMetric(sliceRule.metric) ? sliceRule.metric : 'accuracy';
}

export interface SliceGroup {
  attribute: string;
  rows: (BoundedRow & { attribute: string; value: string })[];
}

/** Per-slice rows for one metric, grouped by attribute (overall first), each with its bound and whether it is too thin. */
export function sliceGroups(evaluation: Evaluation, metric: RateMetric, policy: Policy | null, flagged: Set<string>): SliceGroup[] {
  const minSupport = policy?.minSliceSupport ?? DEFAULT_MIN_SLICE_SUPPORT;
  const row = (s: SliceEvaluation) => {
    const i = s.rates[metric];
    const n = denominator(s, metric);
    return {
      attribute: s.attribute,
      value: s.value,
      label: s.attribute === 'overall' ? 'overall' : s.value,
      point: i.estimate,
      lower: i.lower,
      upper: i.upper,
      support: n,
      insufficient: n < minSupport || flagged.has(sliceKey(s.attribute, s.value)),
      ...boundsFor(policy, metric, s.attribute, s.value),
    };
  };
  const groups = new Map<string, SliceGroup>();
  for (const s of evaluation.classification.slices) {
    if (s.rates.support === 0) continue;
    const g = groups.get(s.attribute) ?? { attribute: s.attribute, rows: [] };
    g.rows.push(row(s));
    groups.set(s.attribute, g);
  }
  return [{ attribute: 'overall', rows: [row(evaluation.classification.overall)] }, ...groups.values()];
}

/** The gap metric a fairness rule of the policy names first, else the equalized-odds difference. */
export function defaultGapMetric(policy: Policy | null): GapMetric {
  const rule = (policy?.rules ?? []).find((r) => r.kind === 'fairness');
  return rule?.kind === 'fairness' && isGapMetric(rule.metric) ? rule.metric : 'equalized_odds_difference';
}

/** One row per sensitive attribute: the gap's bootstrap interval, the smallest group's size, and the fairness rule's bound. */
export function fairnessRows(evaluation: Evaluation, metric: GapMetric, policy: Policy | null): BoundedRow[] {
  const minSupport = policy?.minSliceSupport ?? DEFAULT_MIN_SLICE_SUPPORT;
  return evaluation.fairness.map((f) => {
    const i = f[metric];
    const rules = (policy?.rules ?? []).filter((r) => r.kind === 'fairness' && r.attribute === f.attribute && r.metric === metric);
    const min = rules.flatMap((r) => (r.kind === 'fairness' && r.min !== undefined ? [r.min] : []));
    const max = rules.flatMap((r) => (r.kind === 'fairness' && r.max !== undefined ? [r.max] : []));
    const smallest = Math.min(...f.groups.map((g) => g.count));
    return {
      label: f.attribute,
      point: i.estimate,
      lower: i.lower,
      upper: i.upper,
      support: f.groups.reduce((n, g) => n + g.count, 0),
      insufficient: f.groups.length < 2 || smallest < minSupport || i.estimate === null,
      ...(min.length ? { min: Math.max(...min) } : {}),
      ...(max.length ? { max: Math.min(...max) } : {}),
    };
  });
}

/** Candidate minus champion for one metric: overall and every slice value. */
export function deltaRows(packet: Packet, metric: RateMetric, policy: Policy | null, flagged: Set<string>): BoundedRow[] {
  const support = new Map<string, number>();
  const minSupport = policy?.minSliceSupport ?? DEFAULT_MIN_SLICE_SUPPORT;
  const ev = packet.candidateEvaluation.classification;
  for (const s of [ev.overall, ...ev.slices]) support.set(sliceKey(s.attribute, s.value), denominator(s, metric));
  return (packet.deltas ?? [])
    .filter((d) => d.metric === metric)
    .map((d) => {
      const key = sliceKey(d.attribute, d.value);
      const n = support.get(key) ?? 0;
      return { label: key, point: d.interval.estimate, lower: d.interval.lower, upper: d.interval.upper, support: n, insufficient: flagged.has(key) || n < minSupport };
    });
}

/** A curve from the packet's columns as points (precision and recall carry one more point than thresholds: the end). */
export function curvePoints(curve: Evaluation['prCurve']): CurvePoint[] {
  return curve.thresholds.map((threshold, i) => ({ threshold, precision: curve.precision[i] ?? 1, recall: curve.recall[i] ?? 0 }));
}

/** The curve's point nearest a threshold. */
export function pointAt(points: CurvePoint[], threshold: number): CurvePoint | null {
  let best: CurvePoint | null = null;
  for (const p of points) if (!best || Math.abs(p.threshold - threshold) < Math.abs(best.threshold - threshold)) best = p;
  return best;
}

// ---- calibration ----

export type VersionCalibration = NonNullable<Evaluation['calibration']>[number];
export type CalibrationSlice = VersionCalibration['slices'][number];
export type Binning = 'uniform' | 'quantile';
export type CalibrationMetric = 'ece' | 'mce' | 'brier';

export const CALIBRATION_NAMES: Record<CalibrationMetric, string> = {
  ece: 'Expected calibration error',
  mce: 'Maximum calibration error',
  brier: 'Brier score',
};

/** The calibration entry to show first: the one the policy's first calibration rule judges, else 10 bins. */
export function defaultCalibration(evaluation: Evaluation, policy: Policy | null): { bins: number; binning: Binning } {
  const rule = (policy?.rules ?? []).find((r) => r.kind === 'calibration' && r.metric !== 'brier');
  const entries = evaluation.calibration ?? [];
  if (rule?.kind === 'calibration' && entries.some((c) => c.bins === rule.bins)) return { bins: rule.bins, binning: rule.binning };
  return { bins: entries.some((c) => c.bins === 10) ? 10 : (entries[0]?.bins ?? 10), binning: 'quantile' };
}

/** The overall reliability curve's bins, ready for reliabilitySpec. */
export function reliabilityBins(entry: VersionCalibration, binning: Binning): ReliabilityBin[] {
  const curve = entry.overall.curves?.[binning];
  if (!curve) return [];
  return curve.probPred.map((confidence, i) => ({ confidence, accuracy: curve.probTrue[i]!, count: curve.counts[i]! }));
}

/** One interval of a slice's calibration. */
export function calibrationInterval(s: CalibrationSlice, metric: CalibrationMetric, binning: Binning) {
  return metric === 'brier' ? s.brier : s[metric][binning];
}

/**
 * Overall and every slice value as interval rows for one metric, each with the max of the calibration
 * rules that judge it; too thin (as a calibration rule judges it) below the policy's minimum support.
 */
export function calibrationRows(entry: VersionCalibration, metric: CalibrationMetric, binning: Binning, policy: Policy | null): BoundedRow[] {
  const minSupport = policy?.minSliceSupport ?? DEFAULT_MIN_SLICE_SUPPORT;
  return [entry.overall, ...entry.slices].map((s) => {
    const i = calibrationInterval(s, metric, binning);
    const key = sliceKey(s.attribute, s.value);
    const max = (policy?.rules ?? []).flatMap((r) => {
      if (r.kind !== 'calibration' || r.metric !== metric) return [];
      if (metric !== 'brier' && (r.bins !== entry.bins || r.binning !== binning)) return [];
      // Intersection selectors judge cells, not the single slices listed here.
      const applies = r.slices === 'overall' ? s.attribute === 'overall' : 'attribute' in r.slices && r.slices.attribute === s.attribute && (r.slices.value === '*' || r.slices.value === s.value);
      return applies ? [r.max] : [];
    });
    return {
      label: key,
      point: i.estimate,
      lower: i.lower,
      upper: i.upper,
      support: s.support,
      insufficient: s.support < minSupport,
      ...(max.length ? { max: Math.min(...max) } : {}),
    };
  });
}
