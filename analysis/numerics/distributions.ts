/**
 * Distributions: the standard normal (upper tail, cdf, quantile), Student's t (cdf, quantile), the
 * chi-square upper tail and the binomial upper tail at p = 1/2. Each is proven against scipy.stats
 * in test/analysis/numerics.test.ts.
 *
 * Pure and deterministic (no I/O, no Node built-ins), so workflow code may import it.
 */
import { betaContinuedFraction, logBeta, logChoose, regularizedGammaQ } from './special';

// ---------------------------------------------------------------------------------------------
// Standard normal

const MILLS = [
  1.25331413731550025, 0.421369229288054473, 0.236652382913560671, 0.162377660896867462, 0.123131963257932296,
  0.0990285964717319214, 0.0827662865013691773, 0.0710695805388521071, 0.0622586659950261958,
];
const LOG_SQRT_2PI = 0.91893853320467274178;

/**
 * Upper tail of the standard normal, Q(z) = P(Z > z) = scipy's norm.sf(z), to about 1e-13 relative:
 * Marsaglia's Taylor expansion of the Mills ratio around the nearest even integer for |z| < 5,
 * Laplace's continued fraction beyond. (The expansion loses digits in double precision further out,
 * 2e-10 relative near z = 16.9, which is why the fraction takes over at 5, where it is already good
 * to 3e-15 with 60 terms.)
 */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) throw new RangeError('normalUpperTail: z is NaN');
  if (z === Infinity) return 0;
  if (z === -Infinity) return 1;
  const x = Math.abs(z);
  let mills: number;
  if (x < 5) {
    const j = Math.floor(0.5 * (x + 1));
    let a = MILLS[j]!;
    const c = 2 * j;
    let b = a * c - 1;
    const h = x - c;
    const q = h * h;
    let pwr = 1;
    let s = a + h * b;
    let t = a;
    for (let i = 2; s !== t && i < 400; i += 2) {
      a = (a + c * b) / i;
      b = (b + c * a) / (i + 1);
      pwr *= q;
      t = s;
      s = t + pwr * (a + h * b);
    }
    mills = s;
  } else {
    // R(x) = 1/(x + 1/(x + 2/(x + 3/(x + ...)))), evaluated bottom-up; 60 terms are plenty at x >= 5.
    let f = x;
    for (let k = 60; k >= 1; k--) f = x + k / f;
    mills = 1 / f;
  }
  const upper = mills * Math.exp(-0.5 * x * x - LOG_SQRT_2PI);
  return z >= 0 ? upper : 1 - upper;
}

/** Standard normal CDF P(Z <= z) (scipy.stats.norm.cdf), through the upper tail so the lower tail keeps its relative accuracy. */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) throw new RangeError('normalCdf: z is NaN');
  return normalUpperTail(-z);
}

/**
 * Inverse of the standard normal CDF (quantile function), Wichura's algorithm AS 241 (PPND16),
 * accurate to about 1e-16 relative over the open interval (0, 1).
 * Returns -Infinity for p = 0 and +Infinity for p = 1; throws for p outside [0, 1] or NaN.
 */
export function normalQuantile(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`normalQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;

  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((r * 2509.0809287301226727 + 33430.575583588128105) * r + 67265.770927008700853) * r +
          45921.953931549871457) *
          r +
          13731.693765509461125) *
          r +
          1971.5909503065514427) *
          r +
          133.14166789178437745) *
          r +
          3.387132872796366608)) /
      (((((((r * 5226.495278852545925 + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) *
        r +
        5394.1960214247511077) *
        r +
        687.1870074920579083) *
        r +
        42.313330701600911252) *
        r +
        1)
    );
  }

  let r = q < 0 ? p : 1 - p;
  r = Math.sqrt(-Math.log(r));
  let val: number;
  if (r <= 5) {
    r -= 1.6;
    val =
      (((((((r * 7.7454501427834140764e-4 + 0.0227238449892691845833) * r + 0.24178072517745061177) * r +
        1.27045825245236838258) *
        r +
        3.64784832476320460504) *
        r +
        5.7694972214606914055) *
        r +
        4.6303378461565452959) *
        r +
        1.42343711074968357734) /
      (((((((r * 1.05075007164441684324e-9 + 5.475938084995344946e-4) * r + 0.0151986665636164571966) * r +
        0.14810397642748007459) *
        r +
        0.68976733498510000455) *
        r +
        1.6763848301838038494) *
        r +
        2.05319162663775882187) *
        r +
        1);
  } else {
    r -= 5;
    val =
      (((((((r * 2.01033439929228813265e-7 + 2.71155556874348757815e-5) * r + 0.0012426609473880784386) * r +
        0.026532189526576123093) *
        r +
        0.29656057182850489123) *
        r +
        1.7848265399172913358) *
        r +
        5.4637849111641143699) *
        r +
        6.6579046435011037772) /
      (((((((r * 2.04426310338993978564e-15 + 1.4215117583164458887e-7) * r + 1.8463183175100546818e-5) * r +
        7.868691311456132591e-4) *
        r +
        0.0148753612908506148525) *
        r +
        0.13692988092273580531) *
        r +
        0.59983220655588793769) *
        r +
        1);
  }
  return q < 0 ? -val : val;
}

// ---------------------------------------------------------------------------------------------
// Student t

/** Upper tail P(T > t) for t >= 0 (exact: I_x(df/2, 1/2) / 2 with x = df / (df + t^2)). */
function tUpperTail(t: number, df: number): number {
  if (t === 0) return 0.5;
  if (t === Infinity) return 0;
  const a = df / 2;
  const t2 = t * t;
  // x = df / (df + t^2), 1 - x = t^2 / (df + t^2); both logs without cancellation.
  const logX = -Math.log1p(t2 / df);
  const log1mX = 2 * Math.log(t) - Math.log(df + t2);
  const x = df / (df + t2);
  const y = t2 / (df + t2);
  const lb = logBeta(a, 0.5);
  if (x < (a + 1) / (a + 2.5)) return betaContinuedFraction(a, 0.5, x, logX, log1mX, lb) / 2;
  // Symmetry I_x(a, b) = 1 - I_{1-x}(b, a); here t is small and the tail is near 1/2, no cancellation.
  return (1 - betaContinuedFraction(0.5, a, y, log1mX, logX, lb)) / 2;
}

function checkDf(fn: string, df: number): void {
  if (!(df > 0 && Number.isFinite(df))) throw new RangeError(`${fn}: df must be a finite number > 0, got ${df}`);
}

/** CDF of Student's t with df > 0 degrees of freedom (df need not be an integer); scipy.stats.t.cdf. */
export function studentTCdf(t: number, df: number): number {
  checkDf('studentTCdf', df);
  if (Number.isNaN(t)) throw new RangeError('studentTCdf: t must not be NaN');
  return t < 0 ? tUpperTail(-t, df) : 1 - tUpperTail(t, df);
}

/** Density of Student's t. */
function tDensity(t: number, df: number): number {
  return Math.exp(-((df + 1) / 2) * Math.log1p((t * t) / df) - 0.5 * Math.log(df) - logBeta(df / 2, 0.5));
}

/**
 * Quantile (inverse CDF) of Student's t with df > 0 degrees of freedom; scipy.stats.t.ppf to about
 * 1e-14 relative for df <= 1000 (the continued fraction loses digits to cancellation once
 * df / (df + t^2) is within ~1/df of 1: 4e-14 at df = 1e4, 3e-12 at df = 1e6). Closed forms for df = 1 (Cauchy) and df = 2; otherwise Newton's method on the
 * exact upper tail, safeguarded by bisection inside a bracket, started from the Cornish-Fisher
 * expansion around the normal quantile. Works on the smaller tail probability, so p close to 1 is
 * as accurate as p close to 0. Returns -Infinity / +Infinity for p = 0 / 1.
 */
export function studentTQuantile(p: number, df: number): number {
  checkDf('studentTQuantile', df);
  if (!(p >= 0 && p <= 1)) throw new RangeError(`studentTQuantile: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  if (p === 0.5) return 0;
  const upper = p > 0.5;
  const q = upper ? 1 - p : p; // tail probability in (0, 1/2); 1 - p is exact for p >= 1/2
  let t: number;
  if (df === 1) {
    t = 1 / Math.tan(Math.PI * q);
  } else if (df === 2) {
    t = (1 - 2 * q) / Math.sqrt(2 * q * (1 - q));
  } else {
    t = tTailInverse(q, df);
  }
  return upper ? t : -t;
}

/** t > 0 with P(T > t) = q, q in (0, 1/2). */
function tTailInverse(q: number, df: number): number {
  const z = -normalQuantile(q);
  const z2 = z * z;
  // Cornish-Fisher expansion of the t quantile in powers of 1/df (Abramowitz & Stegun 26.7.5).
  let t0 =
    z +
    (z * (z2 + 1)) / (4 * df) +
    (z * ((5 * z2 + 16) * z2 + 3)) / (96 * df * df) +
    (z * (((3 * z2 + 19) * z2 + 17) * z2 - 15)) / (384 * df ** 3) +
    (z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945)) / (92160 * df ** 4);
  if (!(t0 > 0 && Number.isFinite(t0))) t0 = 1;
  // Bracket [lo, hi] with tail(lo) > q > tail(hi).
  let lo = 0;
  let hi = t0;
  while (tUpperTail(hi, df) > q) {
    lo = hi;
    hi *= 2;
    if (!Number.isFinite(hi)) return Infinity;
  }
  let t = t0;
  for (let iter = 0; iter < 200; iter++) {
    const f = tUpperTail(t, df) - q;
    if (f === 0) return t;
    if (f > 0) lo = t;
    else hi = t;
    let next = t + f / tDensity(t, df);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (Math.abs(next - t) <= 2e-16 * next || hi - lo <= 4e-16 * hi) return next;
    t = next;
  }
  return t;
}

// ---------------------------------------------------------------------------------------------
// Chi-square and binomial tails

/** Upper tail P(X >= x) of the chi-square distribution with df > 0 degrees of freedom (scipy.stats.chi2.sf). */
export function chiSquareSf(x: number, df: number): number {
  if (!(df > 0 && Number.isFinite(df))) throw new RangeError(`chiSquareSf: df must be a finite number > 0, got ${df}`);
  if (Number.isNaN(x)) throw new RangeError('chiSquareSf: x must be a number, got NaN');
  if (x <= 0) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}

/** P(X >= k) for X ~ Binomial(n, 1/2), exact (log-space sums). */
export function binomialUpperTailHalf(k: number, n: number): number {
  if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`binomialUpperTailHalf: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(k)) throw new RangeError(`binomialUpperTailHalf: k must be an integer, got ${k}`);
  if (k <= 0) return 1;
  if (k > n) return 0;
  const logHalfN = n * Math.log(0.5);
  let max = -Infinity;
  const terms: number[] = [];
  for (let j = k; j <= n; j++) {
    const t = logChoose(n, j) + logHalfN;
    terms.push(t);
    if (t > max) max = t;
  }
  const sum = terms.reduce((acc, t) => acc + Math.exp(t - max), 0);
  return Math.min(1, Math.exp(max) * sum);
}
