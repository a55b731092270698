/**
 * The inverse power law of a learning curve, fitted:
 * `fitInversePowerLaw`: error(n) = a + b * n^(-c) by weighted nonlinear least squares under the
 * bounds b >= 0, cMin <= c <= cMax, and (by default) a >= 0. Variable projection: for a fixed c
 * the model is linear in (a, b), so the bounded linear problem is solved in closed form and the
 * remaining profile SSR(c) is minimised over c alone (log-spaced grid, then Brent's root finder
 * on the exact profile derivative). Standard errors come from the Jacobian exactly as
 * scipy.optimize.curve_fit computes pcov (absolute_sigma=False).
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness.
 */
import { brentZero, goldenSection } from './numerics/optimize';
import { inverseGram } from './numerics/linalg';

/** One trained-and-evaluated subset: training size n, held-out error, optional weight. */
export interface LearningCurvePoint {
  n: number;
  error: number;
  /** Least-squares weight (> 0; default 1), i.e. curve_fit's sigma = 1 / sqrt(weight). */
  weight?: number;
}

export interface InversePowerLawOptions {
  /** Constrain the asymptote a >= 0 (errors and losses are non-negative). Default true. */
  nonNegativeAsymptote?: boolean;
  /** Range searched for the exponent c; defaults 0.01 and 5. */
  cMin?: number;
  cMax?: number;
  /**
   * The exponent counts as not identifiable when its standard error exceeds this multiple of c
   * itself (the one-sigma band reaches c <= 0). Default 1.
   */
  maxRelativeStandardErrorOfC?: number;
}

export interface PowerLawParameters {
  a: number;
  b: number;
  c: number;
}

export interface InversePowerLawFitOk extends PowerLawParameters {
  ok: true;
  /** sqrt(diag(pcov)), pcov as scipy's curve_fit (absolute_sigma=False) computes it. */
  standardErrors: PowerLawParameters;
  /** The 3x3 covariance of (a, b, c), rows and columns in that order. */
  covariance: number[][];
  /** Weighted residual sum of squares sum w (error - fit)^2. */
  ssr: number;
  /** sqrt(ssr / sum w): the plain RMSE when unweighted. */
  rmse: number;
  /** 1 - ssr / sst around the weighted mean; null when every error is the same. */
  r2: number | null;
  /** error - fitted, in input order. */
  residuals: number[];
  /** Points - 3. */
  degreesOfFreedom: number;
  distinctSizes: number;
  nMax: number;
  /** Fitted error at nMax. */
  errorAtMax: number;
  /** Fitted error at 2 nMax. */
  projectedErrorAtDouble: number;
  /** errorAtMax - projectedErrorAtDouble = b nMax^-c (1 - 2^-c). */
  projectedGainFromDoubling: number;
  /** Delta-method standard error of projectedGainFromDoubling. */
  projectedGainStandardError: number;
  /** errorAtMax - a: what unlimited data could still remove. */
  asymptoteGap: number;
  /** Whether the a >= 0 bound is active (a = 0). */
  asymptoteAtBound: boolean;
}

export type InversePowerLawFailureReason =
  | 'fewer than 4 distinct sizes'
  | 'error does not decrease with n'
  | 'fit did not converge'
  | 'parameters not identifiable (c unbounded)';

export interface InversePowerLawFitFailure {
  ok: false;
  reason: InversePowerLawFailureReason;
  /** The numbers behind the reason. */
  detail: string;
  distinctSizes: number;
  /** The constrained least-squares optimum when one was computed (evidence, not a usable fit). */
  optimum: (PowerLawParameters & { ssr: number; standardErrors: PowerLawParameters | null }) | null;
}

export type InversePowerLawFit = InversePowerLawFitOk | InversePowerLawFitFailure;

const GRID_POINTS = 256;

interface Profile {
  a: number;
  /** b in scaled units: b * nMax^(-c). */
  bs: number;
  ssr: number;
}

/**
 * Fits error = a + b n^(-c) to all points (replicate seeds at the same n are separate points, so
 * the residual degrees of freedom and the standard errors count every seed; the parameters are
 * the same as fitting per-n means weighted by replicate count). Matches scipy.optimize.curve_fit
 * (bounds [0, 0, cMin] .. [inf, inf, cMax], method 'trf', sigma = 1 / sqrt(weight)) on the
 * well-conditioned fixtures to ~1e-9 relative.
 *
 * Throws RangeError naming the field on empty input, non-finite values, n <= 0, weight <= 0.
 * Returns { ok: false } with a reason when the data cannot support the model: fewer than 4
 * distinct sizes; error not decreasing (weighted least-squares slope of error on ln n >= 0, or
 * b = 0 at the optimum); c at the edge of its range or with standard error above
 * maxRelativeStandardErrorOfC * c; a numerical failure.
 */
export function fitInversePowerLaw(points: readonly LearningCurvePoint[], opts: InversePowerLawOptions = {}): InversePowerLawFit {
  const fn = 'fitInversePowerLaw';
  if (!Array.isArray(points) || points.length === 0) throw new RangeError(`${fn}: points must be a non-empty array`);
  const nonNeg = opts.nonNegativeAsymptote ?? true;
  const cMin = opts.cMin ?? 0.01;
  const cMax = opts.cMax ?? 5;
  const maxRelSe = opts.maxRelativeStandardErrorOfC ?? 1;
  if (!(cMin > 0 && Number.isFinite(cMin))) throw new RangeError(`${fn}: opts.cMin must be a finite number > 0, got ${cMin}`);
  if (!(cMax > cMin && Number.isFinite(cMax))) throw new RangeError(`${fn}: opts.cMax must be finite and > cMin = ${cMin}, got ${cMax}`);
  if (!(maxRelSe > 0)) throw new RangeError(`${fn}: opts.maxRelativeStandardErrorOfC must be > 0, got ${maxRelSe}`);

  const m = points.length;
  const n = new Float64Array(m);
  const y = new Float64Array(m);
  const w = new Float64Array(m);
  points.forEach((p, i) => {
    if (!(Number.isFinite(p.n) && p.n > 0)) throw new RangeError(`${fn}: points[${i}].n must be a finite number > 0, got ${p.n}`);
    if (!Number.isFinite(p.error)) throw new RangeError(`${fn}: points[${i}].error must be a finite number, got ${p.error}`);
    const wi = p.weight ?? 1;
    if (!(Number.isFinite(wi) && wi > 0)) throw new RangeError(`${fn}: points[${i}].weight must be a finite number > 0, got ${p.weight}`);
    n[i] = p.n;
    y[i] = p.error;
    w[i] = wi;
  });
  const distinctSizes = new Set(n).size;
  const fail = (reason: InversePowerLawFailureReason, detail: string, optimum: InversePowerLawFitFailure['optimum'] = null): InversePowerLawFitFailure => ({
    ok: false,
    reason,
    detail,
    distinctSizes,
    optimum,
  });
  if (distinctSizes < 4) return fail('fewer than 4 distinct sizes', `${distinctSizes} distinct training sizes; the 3-parameter curve needs at least 4`);

  let nMax = 0;
  for (const v of n) if (v > nMax) nMax = v;
  let sw = 0;
  let swy = 0;
  for (let i = 0; i < m; i++) {
    sw += w[i]!;
    swy += w[i]! * y[i]!;
  }
  const ybar = swy / sw;
  // Work with u = n / nMax in (0, 1]: x = u^-c >= 1 keeps the linear sub-problem well scaled.
  const lnu = n.map((v) => Math.log(v / nMax));

  // Trend check: sign of the weighted least-squares slope of error on ln n, through the weighted
  // correlation so that rounding (errors equal up to the last bit) does not count as a decrease.
  {
    let sl = 0;
    for (let i = 0; i < m; i++) sl += w[i]! * lnu[i]!;
    const lbar = sl / sw;
    let sly = 0;
    let sll = 0;
    let syy = 0;
    for (let i = 0; i < m; i++) {
      const dl = lnu[i]! - lbar;
      const dy = y[i]! - ybar;
      sly += w[i]! * dl * dy;
      sll += w[i]! * dl * dl;
      syy += w[i]! * dy * dy;
    }
    const corr = syy > 0 ? sly / Math.sqrt(sll * syy) : 0;
    if (!(corr < -1e-9)) {
      return fail(
        'error does not decrease with n',
        syy > 0 ? `error does not fall as n grows: least-squares slope of error on ln(n) is ${fmtNum(sly / sll)}` : 'every error is the same',
      );
    }
  }

  const x = new Float64Array(m);
  const fillX = (c: number): void => {
    for (let i = 0; i < m; i++) x[i] = Math.exp(-c * lnu[i]!);
  };
  const ssrOf = (a: number, bs: number): number => {
    let s = 0;
    for (let i = 0; i < m; i++) {
      const r = y[i]! - a - bs * x[i]!;
      s += w[i]! * r * r;
    }
    return s;
  };
  /** Bounded weighted linear least squares for (a, bs) at this c (x must hold u^-c). */
  const solveLinear = (): Profile => {
    let swx = 0;
    for (let i = 0; i < m; i++) swx += w[i]! * x[i]!;
    const xbar = swx / sw;
    let sxx = 0;
    let sxy = 0;
    for (let i = 0; i < m; i++) {
      const dx = x[i]! - xbar;
      sxx += w[i]! * dx * dx;
      sxy += w[i]! * dx * (y[i]! - ybar);
    }
    if (sxx > 0) {
      const bs = sxy / sxx;
      const a = ybar - bs * xbar;
      if (bs >= 0 && (!nonNeg || a >= 0)) return { a, bs, ssr: ssrOf(a, bs) };
    }
    // The unconstrained optimum is infeasible, so the convex problem's optimum lies on a face:
    // b = 0 (a = weighted mean, clamped) or, with a >= 0, a = 0 (b through the origin, clamped).
    const aFlat = nonNeg ? Math.max(ybar, 0) : ybar;
    let best: Profile = { a: aFlat, bs: 0, ssr: ssrOf(aFlat, 0) };
    if (nonNeg) {
      let sxxo = 0;
      let sxyo = 0;
      for (let i = 0; i < m; i++) {
        sxxo += w[i]! * x[i]! * x[i]!;
        sxyo += w[i]! * x[i]! * y[i]!;
      }
      const bs = Math.max(sxyo / sxxo, 0);
      const s = ssrOf(0, bs);
      if (s < best.ssr) best = { a: 0, bs, ssr: s };
    }
    return best;
  };
  const profile = (c: number): Profile => {
    fillX(c);
    return solveLinear();
  };
  /** d SSR*(c) / dc (envelope theorem: the linear parameters' own derivatives drop out). */
  const slope = (c: number): number => {
    const p = profile(c);
    let s = 0;
    for (let i = 0; i < m; i++) s += w[i]! * (y[i]! - p.a - p.bs * x[i]!) * lnu[i]! * x[i]!;
    return 2 * p.bs * s;
  };

  // 1. Grid over c (log-spaced), keep the best.
  const grid = new Float64Array(GRID_POINTS);
  const ratio = Math.log(cMax / cMin);
  let bestK = 0;
  let bestSsr = Infinity;
  for (let k = 0; k < GRID_POINTS; k++) {
    const c = k === GRID_POINTS - 1 ? cMax : cMin * Math.exp((ratio * k) / (GRID_POINTS - 1));
    grid[k] = c;
    const s = profile(c).ssr;
    if (s < bestSsr) {
      bestSsr = s;
      bestK = k;
    }
  }
  if (!Number.isFinite(bestSsr)) return fail('fit did not converge', 'the residual sum of squares is not finite anywhere on the c grid');

  // 2. Refine: the profile derivative changes sign next to the best grid point (or the optimum
  //    sits on a bound of c).
  let c: number | null = null;
  const gBest = slope(grid[bestK]!);
  if (gBest === 0) c = grid[bestK]!;
  else if (gBest > 0) {
    if (bestK === 0) c = cMin;
    else {
      const lo = grid[bestK - 1]!;
      if (slope(lo) < 0) c = brentZero(slope, lo, grid[bestK]!);
    }
  } else {
    if (bestK === GRID_POINTS - 1) c = cMax;
    else {
      const hi = grid[bestK + 1]!;
      if (slope(hi) > 0) c = brentZero(slope, grid[bestK]!, hi);
    }
  }
  if (c === null) {
    // No sign change next to the grid minimum (a kink or a flat stretch): golden section on SSR.
    c = goldenSection((v) => profile(v).ssr, grid[Math.max(bestK - 1, 0)]!, grid[Math.min(bestK + 1, GRID_POINTS - 1)]!);
  }
  const sol = profile(c);
  if (!(Number.isFinite(c) && Number.isFinite(sol.a) && Number.isFinite(sol.bs) && Number.isFinite(sol.ssr))) {
    return fail('fit did not converge', `non-finite optimum at c = ${c}`);
  }
  const a = sol.a;
  const b = sol.bs * Math.exp(c * Math.log(nMax));
  const ssr = sol.ssr;
  if (!(sol.bs > 0)) {
    return fail('error does not decrease with n', 'the best constrained fit is flat (b = 0)', { a, b, c, ssr, standardErrors: null });
  }

  // 3. Covariance from the Jacobian of the weighted residuals, as curve_fit: (J'J)^-1 ssr/(m-3).
  const dof = m - 3;
  const cov = covarianceOf(n, w, b, c, ssr / dof);
  const se = cov ? { a: Math.sqrt(cov[0]![0]!), b: Math.sqrt(cov[1]![1]!), c: Math.sqrt(cov[2]![2]!) } : null;
  const optimum = { a, b, c, ssr, standardErrors: se };
  const cTol = 1e-9;
  if (c <= cMin * (1 + cTol) || c >= cMax * (1 - cTol)) {
    return fail('parameters not identifiable (c unbounded)', `the exponent runs to the edge of its range: c = ${fmtNum(c)} (range ${cMin}..${cMax})`, optimum);
  }
  if (!cov || !se) return fail('parameters not identifiable (c unbounded)', 'the Jacobian is rank-deficient at the optimum', optimum);
  if (!(se.c <= maxRelSe * c)) {
    return fail(
      'parameters not identifiable (c unbounded)',
      `standard error of c (${fmtNum(se.c)}) exceeds ${maxRelSe === 1 ? '' : `${maxRelSe} x `}c = ${fmtNum(c)}`,
      optimum,
    );
  }

  const residuals: number[] = new Array<number>(m);
  for (let i = 0; i < m; i++) residuals[i] = y[i]! - a - sol.bs * x[i]!;
  let sst = 0;
  for (let i = 0; i < m; i++) sst += w[i]! * (y[i]! - ybar) ** 2;
  const scaledMax = sol.bs; // b nMax^-c
  const half = Math.pow(2, -c);
  const gain = scaledMax * (1 - half);
  // Delta method for the gain G = b nMax^-c (1 - 2^-c).
  const dGdb = Math.exp(-c * Math.log(nMax)) * (1 - half);
  const dGdc = scaledMax * (-Math.log(nMax) * (1 - half) + Math.LN2 * half);
  const gainVar = dGdb * dGdb * cov[1]![1]! + 2 * dGdb * dGdc * cov[1]![2]! + dGdc * dGdc * cov[2]![2]!;
  return {
    ok: true,
    a,
    b,
    c,
    standardErrors: se,
    covariance: cov,
    ssr,
    rmse: Math.sqrt(ssr / sw),
    r2: sst > 0 ? 1 - ssr / sst : null,
    residuals,
    degreesOfFreedom: dof,
    distinctSizes,
    nMax,
    errorAtMax: a + scaledMax,
    projectedErrorAtDouble: a + scaledMax * half,
    projectedGainFromDoubling: gain,
    projectedGainStandardError: Math.sqrt(Math.max(gainVar, 0)),
    asymptoteGap: scaledMax,
    asymptoteAtBound: nonNeg && a === 0,
  };
}

/** Evaluates a + b n^(-c). */
export function inversePowerLaw(p: PowerLawParameters, n: number): number {
  return p.a + p.b * Math.pow(n, -p.c);
}

/**
 * (J'WJ)^-1 * s2 for the columns [1, n^-c, -b ln(n) n^-c] (curve_fit's pcov), through the inverse
 * Gram matrix of the weighted Jacobian (numerics/linalg.ts). Null when the Jacobian is numerically
 * rank-deficient.
 */
function covarianceOf(n: Float64Array, w: Float64Array, b: number, c: number, s2: number): number[][] | null {
  const m = n.length;
  const J = [new Float64Array(m), new Float64Array(m), new Float64Array(m)];
  for (let i = 0; i < m; i++) {
    const sq = Math.sqrt(w[i]!);
    const ln = Math.log(n[i]!);
    const xr = Math.exp(-c * ln);
    J[0]![i] = sq;
    J[1]![i] = sq * xr;
    J[2]![i] = -sq * b * ln * xr;
  }
  return inverseGram(J)?.map((row) => row.map((v) => v * s2)) ?? null;
}

export const fmtNum = (v: number): string => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));
