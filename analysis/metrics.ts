/**
 * Confusion counts and per-slice classification metrics with Wilson intervals.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { wilsonInterval, type Interval } from './intervals';

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

export interface SliceMetrics {
  attribute: string;
  value: string;
  metrics: MetricSet;
}

export interface EvaluationSummary {
  threshold: number;
  overall: MetricSet;
  /** sorted by attribute, then value (plain code-unit order, locale independent) */
  slices: SliceMetrics[];
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

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Thresholds the scores (predict 1 when score >= threshold) and counts the confusion matrix
 * overall and per (attribute, value) slice in a single pass over the rows.
 * Throws if any input length differs from labels.length, a label is not 0/1, or a score is NaN.
 */
export function evaluatePredictions(input: {
  labels: ArrayLike<number>;
  scores: ArrayLike<number>;
  threshold?: number;
  sliceAttributes?: Record<string, ArrayLike<string>>;
}): EvaluationSummary {
  const { labels, scores } = input;
  const threshold = input.threshold ?? 0.5;
  if (Number.isNaN(threshold)) throw new RangeError('evaluatePredictions: threshold is NaN');
  const n = labels.length;
  if (scores.length !== n) {
    throw new Error(`evaluatePredictions: length mismatch: scores has ${scores.length} rows, labels has ${n}`);
  }

  const attributes = Object.keys(input.sliceAttributes ?? {}).sort(compareStrings);
  const columns: ArrayLike<string>[] = [];
  const perAttribute: Map<string, ConfusionCounts>[] = [];
  for (const attribute of attributes) {
    const column = input.sliceAttributes![attribute]!;
    if (column.length !== n) {
      throw new Error(
        `evaluatePredictions: length mismatch: sliceAttributes["${attribute}"] has ${column.length} rows, labels has ${n}`,
      );
    }
    columns.push(column);
    perAttribute.push(new Map());
  }

  const overall: ConfusionCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (label !== 0 && label !== 1) throw new RangeError(`evaluatePredictions: labels[${i}] must be 0 or 1, got ${label}`);
    const score = scores[i]!;
    if (Number.isNaN(score)) throw new RangeError(`evaluatePredictions: scores[${i}] is NaN`);
    const predicted = score >= threshold;
    const cell: keyof ConfusionCounts = label === 1 ? (predicted ? 'tp' : 'fn') : predicted ? 'fp' : 'tn';
    overall[cell]++;
    for (let a = 0; a < columns.length; a++) {
      const value = columns[a]![i]!;
      const map = perAttribute[a]!;
      let counts = map.get(value);
      if (counts === undefined) {
        counts = { tp: 0, fp: 0, tn: 0, fn: 0 };
        map.set(value, counts);
      }
      counts[cell]++;
    }
  }

  const slices: SliceMetrics[] = [];
  attributes.forEach((attribute, a) => {
    const map = perAttribute[a]!;
    for (const value of [...map.keys()].sort(compareStrings)) {
      slices.push({ attribute, value, metrics: metricSetFromCounts(map.get(value)!) });
    }
  });

  return { threshold, overall: metricSetFromCounts(overall), slices };
}
