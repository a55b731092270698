/**
 * Confidence intervals: Wilson for a proportion, Newcombe for a difference of two independent
 * proportions, paired and Welch t for a mean difference. Proven against statsmodels and scipy in
 * test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */
import { meanAndVariance } from './descriptive';
import { normalQuantile, studentTQuantile } from './distributions';

/** A point estimate with its interval; every field is null when there are no trials (n = 0). */
export interface Interval {
  estimate: number | null;
  lower: number | null;
  upper: number | null;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);

/**
 * Wilson score interval for a binomial proportion, without continuity correction.
 * Matches statsmodels `proportion_confint(successes, n, alpha=1-confidence, method='wilson')`,
 * including its clipping of the bounds to [0, 1]. `estimate` is the plain proportion successes/n.
 * Returns all-null when n = 0.
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): Interval {
  if (!Number.isFinite(n) || n < 0) throw new RangeError(`wilsonInterval: n must be a finite number >= 0, got ${n}`);
  if (!Number.isFinite(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval: successes must be in [0, n=${n}], got ${successes}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(`wilsonInterval: confidence must be in (0, 1), got ${confidence}`);
  }
  if (n === 0) return { estimate: null, lower: null, upper: null };

  // Same operation order as statsmodels so results agree to the last few ulps.
  const alpha = (1 - confidence) / 2;
  const crit = -normalQuantile(alpha); // = norm.isf(alpha)
  const q = successes / n;
  const crit2 = crit * crit;
  const denom = 1 + crit2 / n;
  const center = (q + crit2 / (2 * n)) / denom;
  const dist = (crit * Math.sqrt((q * (1 - q)) / n + crit2 / (4 * n ** 2))) / denom;
  return { estimate: q, lower: clamp01(center - dist), upper: clamp01(center + dist) };
}

/**
 * Newcombe's hybrid score interval (method 10 of Newcombe 1998, no continuity correction) for
 * p1 - p2 of two independent proportions, p_j = x_j / n_j, built from the two Wilson intervals:
 *   [d - sqrt((p1 - l1)^2 + (u2 - p2)^2), d + sqrt((p2 - l2)^2 + (u1 - p1)^2)].
 * Matches statsmodels confint_proportions_2indep(x1, n1, x2, n2, method='newcomb', compare='diff',
 * alpha=1-confidence). Counts and sizes may be fractional (effective counts of weighted data).
 * All-null when either n is 0.
 */
export function newcombeDifference(x1: number, n1: number, x2: number, n2: number, confidence = 0.95): Interval {
  const w1 = wilsonInterval(x1, n1, confidence);
  const w2 = wilsonInterval(x2, n2, confidence);
  if (w1.estimate === null || w2.estimate === null) return { estimate: null, lower: null, upper: null };
  const p1 = x1 / n1;
  const p2 = x2 / n2;
  const d = p1 - p2;
  const dLow = Math.sqrt((p1 - w1.lower!) ** 2 + (w2.upper! - p2) ** 2);
  const dUpp = Math.sqrt((p2 - w2.lower!) ** 2 + (w1.upper! - p1) ** 2);
  return { estimate: d, lower: d - dLow, upper: d + dUpp };
}

/** A t interval for a mean difference. */
export interface MeanDifferenceInterval {
  /** 'paired': mean of per-seed differences, df = k - 1; 'welch': two independent samples. */
  method: 'paired' | 'welch';
  /** Number of pairs (paired) or the two sample sizes (welch). */
  n: number | [number, number];
  mean: number;
  /** Standard error of the mean difference. */
  standardError: number;
  df: number;
  /** Two-sided confidence level of the interval. */
  confidence: number;
  tCritical: number;
  lower: number;
  upper: number;
}

function checkConfidence(fn: string, confidence: number): void {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${fn}: confidence must be in (0, 1), got ${confidence}`);
}

/**
 * Paired t interval for the mean of differences d_i (mean +- t_{(1+confidence)/2, k-1} * sd / sqrt(k)).
 * Null with fewer than two differences. With identical differences the interval is the point.
 */
export function pairedTInterval(differences: readonly number[], confidence = 0.95): MeanDifferenceInterval | null {
  checkConfidence('pairedTInterval', confidence);
  differences.forEach((d, i) => {
    if (!Number.isFinite(d)) throw new RangeError(`pairedTInterval: differences[${i}] must be finite, got ${d}`);
  });
  const k = differences.length;
  if (k < 2) return null;
  const { mean, variance } = meanAndVariance(differences);
  const se = Math.sqrt(variance / k);
  const df = k - 1;
  const tCritical = studentTQuantile(1 - (1 - confidence) / 2, df);
  return { method: 'paired', n: k, mean, standardError: se, df, confidence, tCritical, lower: mean - tCritical * se, upper: mean + tCritical * se };
}

/**
 * Welch t interval for mean(x) - mean(y) from two independent samples (Welch-Satterthwaite df,
 * non-integer in general). Null when either sample has fewer than two values.
 */
export function welchTInterval(x: readonly number[], y: readonly number[], confidence = 0.95): MeanDifferenceInterval | null {
  checkConfidence('welchTInterval', confidence);
  for (const [name, s] of [['x', x], ['y', y]] as const) {
    s.forEach((v, i) => {
      if (!Number.isFinite(v)) throw new RangeError(`welchTInterval: ${name}[${i}] must be finite, got ${v}`);
    });
  }
  if (x.length < 2 || y.length < 2) return null;
  const a = meanAndVariance(x);
  const b = meanAndVariance(y);
  const va = a.variance / x.length;
  const vb = b.variance / y.length;
  const se = Math.sqrt(va + vb);
  const df = se === 0 ? x.length + y.length - 2 : (va + vb) ** 2 / (va ** 2 / (x.length - 1) + vb ** 2 / (y.length - 1));
  const mean = a.mean - b.mean;
  const tCritical = studentTQuantile(1 - (1 - confidence) / 2, df);
  return {
    method: 'welch',
    n: [x.length, y.length],
    mean,
    standardError: se,
    df,
    confidence,
    tCritical,
    lower: mean - tCritical * se,
    upper: mean + tCritical * se,
  };
}
