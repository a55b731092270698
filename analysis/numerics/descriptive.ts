/**
 * Descriptive statistics: quantiles of a sorted sample, mean and variance, a weighted
 * least-squares slope. Proven against numpy in test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */

/**
 * Quantile q of sorted[0 .. length) by linear interpolation between order statistics at virtual
 * index (length - 1) * q: numpy's default (method='linear', Hyndman-Fan type 7), which is what
 * Fairlearn's bootstrap uses, including numpy's two-sided lerp so results agree to the last ulp.
 */
export function quantileSorted(sorted: ArrayLike<number>, length: number, q: number): number {
  if (length < 1) throw new RangeError('quantileSorted: empty sample');
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantileSorted: q must be in [0, 1], got ${q}`);
  const h = (length - 1) * q;
  const lo = Math.floor(h);
  const t = h - lo;
  const a = sorted[lo]!;
  if (lo + 1 >= length) return a;
  const b = sorted[lo + 1]!;
  const diff = b - a;
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

/** Mean and unbiased (n - 1) variance; the variance is NaN with fewer than two values. */
export function meanAndVariance(x: readonly number[]): { mean: number; variance: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let ss = 0;
  for (const v of x) ss += (v - mean) ** 2;
  return { mean, variance: x.length > 1 ? ss / (x.length - 1) : NaN };
}

/** Weighted least squares slope of y on x with weights w (entries with w = 0 ignored); null with < 2 distinct x. */
export function weightedSlope(x: readonly number[], y: readonly (number | null)[], w: readonly number[]): number | null {
  let sw = 0;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < x.length; i++) {
    if (!(Number.isFinite(w[i]) && w[i]! >= 0)) throw new RangeError(`weightedSlope: w[${i}] must be a finite number >= 0, got ${w[i]}`);
    if (!(w[i]! > 0) || y[i] === null) continue;
    if (!(Number.isFinite(x[i]) && Number.isFinite(y[i]))) throw new RangeError(`weightedSlope: x[${i}] and y[${i}] must be finite, got ${x[i]}, ${y[i]}`);
    sw += w[i]!;
    sx += w[i]! * x[i]!;
    sy += w[i]! * y[i]!;
  }
  if (sw === 0) return null;
  const mx = sx / sw;
  const my = sy / sw;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < x.length; i++) {
    if (!(w[i]! > 0) || y[i] === null) continue;
    sxy += w[i]! * (x[i]! - mx) * (y[i]! - my);
    sxx += w[i]! * (x[i]! - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : null;
}
