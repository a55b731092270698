/**
 * Confusion counts and the four core rates with Wilson intervals; analysis/classification builds on it.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { wilsonInterval, type Interval } from './numerics/intervals';

export interface ConfusionCounts {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface MetricSet {
  /** tp + fp + tn + fn */
  support: number;
  /** actual positives: tp + fn */
  positives: number;
  /** actual negatives: fp + tn */
  negatives: number;
  counts: ConfusionCounts;
  /** (tp + tn) / support */
  accuracy: Interval;
  /** tp / (tp + fp); null interval when nothing was predicted positive */
  precision: Interval;
  /** tp / (tp + fn); null interval when there are no actual positives */
  recall: Interval;
  /** fp / (fp + tn); null interval when there are no actual negatives */
  fpr: Interval;
}

/** Builds the metric set (point estimates with Wilson intervals) from confusion counts. */
export function metricSetFromCounts(c: ConfusionCounts, confidence = 0.95): MetricSet {
  for (const key of ['tp', 'fp', 'tn', 'fn'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`metricSetFromCounts: ${key} must be a non-negative integer, got ${v}`);
  }
  const { tp, fp, tn, fn } = c;
  const positives = tp + fn;
  const negatives = fp + tn;
  const support = positives + negatives;
  return {
    support,
    positives,
    negatives,
    counts: { tp, fp, tn, fn },
    accuracy: wilsonInterval(tp + tn, support, confidence),
    precision: wilsonInterval(tp, tp + fp, confidence),
    recall: wilsonInterval(tp, positives, confidence),
    fpr: wilsonInterval(fp, negatives, confidence),
  };
}
