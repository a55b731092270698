/**
 * Hypothesis tests: Fisher's exact test, Holm's step-down adjustment, the pooled two-proportion z
 * test. Proven against scipy and statsmodels in test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */
import { normalUpperTail } from './distributions';
import { logChoose } from './special';

/**
 * Two-sided Fisher exact test p-value for the 2 × 2 table [[a, b], [c, d]], as
 * scipy.stats.fisher_exact(alternative='two-sided'): the sum of the hypergeometric probabilities
 * (margins fixed) of all tables no more likely than the observed one, with scipy's relative
 * tolerance of 1e-7 so tables tied with the observed one in exact arithmetic are counted despite
 * rounding. The loop runs over the support of a, i.e. at most min(row, column total) + 1 terms.
 */
export function fisherExactTwoSided(a: number, b: number, c: number, d: number): number {
  for (const [name, v] of [['a', a], ['b', b], ['c', c], ['d', d]] as const) {
    if (!(Number.isInteger(v) && v >= 0)) throw new RangeError(`fisherExactTwoSided: ${name} must be an integer count >= 0, got ${v}`);
  }
  const r1 = a + b;
  const r2 = c + d;
  const c1 = a + c;
  const N = r1 + r2;
  if (r1 === 0 || r2 === 0 || c1 === 0 || c1 === N) return 1;
  const logDenom = logChoose(N, c1);
  const logPmf = (x: number): number => logChoose(r1, x) + logChoose(r2, c1 - x) - logDenom;
  const lo = Math.max(0, c1 - r2);
  const hi = Math.min(r1, c1);
  const threshold = logPmf(a) + Math.log1p(1e-7);
  let p = 0;
  for (let x = lo; x <= hi; x++) {
    const lp = logPmf(x);
    if (lp <= threshold) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/** Holm step-down adjusted p-values (same order as the input), as statsmodels multipletests(method='holm'). */
export function holmAdjust(p: readonly number[]): number[] {
  p.forEach((v, i) => {
    if (!(v >= 0 && v <= 1)) throw new RangeError(`holmAdjust: p[${i}] must be in [0, 1], got ${v}`);
  });
  const m = p.length;
  const idx = p.map((_, i) => i).sort((x, y) => p[x]! - p[y]! || x - y);
  const out = new Array<number>(m).fill(1);
  let running = 0;
  idx.forEach((i, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p[i]!));
    out[i] = running;
  });
  return out;
}

export interface TwoProportionZ {
  z: number | null;
  /** One-sided p-value for H1: p1 > p0. */
  p: number | null;
}

/**
 * Two-proportion z-test with the pooled variance, one-sided (H1: x1/n1 > x0/n0); the same statistic
 * and p-value as statsmodels `proportions_ztest([x1, x0], [n1, n0], alternative='larger')`.
 * z and p are null when either group is empty or the pooled rate is 0 or 1 (no variance).
 */
export function twoProportionZTest(x1: number, n1: number, x0: number, n0: number): TwoProportionZ {
  for (const [name, v] of [['x1', x1], ['n1', n1], ['x0', x0], ['n0', n0]] as const) {
    if (!Number.isFinite(v)) throw new RangeError(`twoProportionZTest: ${name} must be finite, got ${v}`);
  }
  if (n1 <= 0 || n0 <= 0) return { z: null, p: null };
  const pooled = (x1 + x0) / (n1 + n0);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0));
  if (!(se > 0)) return { z: null, p: null };
  const z = (x1 / n1 - x0 / n0) / se;
  return { z, p: normalUpperTail(z) };
}
