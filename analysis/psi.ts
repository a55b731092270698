/**
 * Population stability index (PSI): of a categorical attribute (populationStabilityIndex) and of a
 * score (scorePsi), with a chi-square significance. Used by drift.ts's comparison and the drift monitor.
 *
 * PSI has no canonical library implementation; this is the textbook formula
 *   PSI = sum_i (a_i - e_i) ln(a_i / e_i)
 * over the union of categories, with e_i, a_i the expected (pre-launch) and actual (window) shares
 * of category i. Smoothing: a share below epsilon (default 1e-4, i.e. an empty or nearly empty
 * category) is replaced by epsilon before the formula, on both sides, without renormalising. So
 * categories with shares >= epsilon on both sides contribute exactly the textbook term, and a
 * category empty on one side contributes a large but finite term ((a - 1e-4) ln(a / 1e-4), e.g.
 * 0.046 for a = 0.01, 0.69 for a = 0.1) instead of infinity. Categories with no mass on either side
 * contribute 0 and are not counted in k.
 * Reading (the industry convention, see PSI_BANDS): < 0.1 stable, 0.1 .. 0.25 moderate, > 0.25
 * significant.
 *
 * Significance without a bootstrap: with n_e and n_a items drawn from the same categorical
 * distribution, PSI is the symmetrised Kullback-Leibler divergence (Jeffreys' J), whose second
 * order expansion is sum_i (a_i - e_i)^2 / p_i, so
 *   X = n_e n_a / (n_e + n_a) * PSI  ~  chi-square with k - 1 degrees of freedom
 * asymptotically (k categories with mass on either side). The p-value is its upper tail, through
 * the regularized upper incomplete gamma function Q(df/2, X/2) (chiSquareSf). It is an asymptotic
 * approximation: fine when the expected count of every category is at least ~5 on both sides,
 * anti-conservative for sparse categories (where epsilon smoothing also inflates PSI).
 *
 * Score PSI (scorePsi): bin edges are the expected scores' quantiles at j / bins (numpy's default
 * 'linear' quantile, Hyndman & Fan type 7, reproduced to the bit), duplicate edges (ties) merged;
 * bin j is [edge_{j-1}, edge_j) with -inf and +inf at the ends (numpy.searchsorted side='right').
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { chiSquareSf } from './numerics/distributions';
import { quantileSorted } from './numerics/descriptive';
import { searchSorted } from './numerics/sort';

/** Counts (or weighted counts, or shares) per category. */
export type CategoryCounts = ReadonlyMap<string, number> | Readonly<Record<string, number>>;

export type PsiBand = 'stable' | 'moderate' | 'significant';

/** Band edges: PSI < stable is 'stable', <= moderate is 'moderate', above is 'significant'. */
export const PSI_BANDS = { stable: 0.1, moderate: 0.25 } as const;

export const DEFAULT_PSI_EPSILON = 1e-4;

export function psiBand(psi: number): PsiBand {
  if (Number.isNaN(psi)) throw new RangeError('psiBand: psi must be a number, got NaN');
  return psi < PSI_BANDS.stable ? 'stable' : psi <= PSI_BANDS.moderate ? 'moderate' : 'significant';
}

export interface PsiOptions {
  /** Share floor for (nearly) empty categories, in (0, 0.5]; default 1e-4. See the module comment. */
  epsilon?: number;
  /**
   * Sample sizes n_e, n_a for the chi-square approximation. Default: the totals of the inputs, which
   * is right when they are counts of items; pass the real sizes when the inputs are shares (or use
   * Kish effective sizes for weighted counts).
   */
  sampleSizes?: { expected: number; actual: number };
}

export interface PsiCategory {
  category: string;
  expectedCount: number;
  actualCount: number;
  /** Unsmoothed shares. */
  expected: number;
  actual: number;
  /** (a - e) ln(a / e) with the smoothed shares; the contributions sum to psi. */
  contribution: number;
}

export interface PsiResult {
  psi: number;
  band: PsiBand;
  /** The union of categories, sorted by code unit order. */
  categories: PsiCategory[];
  /** Categories with mass on either side. */
  k: number;
  /** k - 1 */
  df: number;
  nExpected: number;
  nActual: number;
  /** n_e n_a / (n_e + n_a) * psi, approximately chi-square(df) under no drift. */
  statistic: number;
  /** Upper tail of chi-square(df) at statistic; null when df = 0 (a single category: nothing to test). */
  p: number | null;
  epsilon: number;
}

export function entriesOf(fn: string, field: string, d: CategoryCounts): [string, number][] {
  const entries: [string, number][] = d instanceof Map ? [...(d as ReadonlyMap<string, number>).entries()] : Object.entries(d as Record<string, number>);
  for (const [k, v] of entries) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${fn}: ${field}[${JSON.stringify(k)}] must be a finite number >= 0, got ${v}`);
  }
  return entries;
}

export const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function psiCore(
  fn: string,
  names: [string, string],
  expected: CategoryCounts,
  actual: CategoryCounts,
  opts: PsiOptions | undefined,
  sorted: boolean,
): PsiResult {
  const epsilon = opts?.epsilon ?? DEFAULT_PSI_EPSILON;
  if (!(typeof epsilon === 'number' && epsilon > 0 && epsilon <= 0.5)) throw new RangeError(`${fn}: opts.epsilon must be in (0, 0.5], got ${epsilon}`);
  const e = new Map(entriesOf(fn, names[0], expected));
  const a = new Map(entriesOf(fn, names[1], actual));
  let totalE = 0;
  let totalA = 0;
  for (const v of e.values()) totalE += v;
  for (const v of a.values()) totalA += v;
  if (!(totalE > 0)) throw new RangeError(`${fn}: ${names[0]} has no mass (total ${totalE})`);
  if (!(totalA > 0)) throw new RangeError(`${fn}: ${names[1]} has no mass (total ${totalA})`);
  let nE = totalE;
  let nA = totalA;
  if (opts?.sampleSizes) {
    nE = opts.sampleSizes.expected;
    nA = opts.sampleSizes.actual;
    if (!(Number.isFinite(nE) && nE > 0)) throw new RangeError(`${fn}: opts.sampleSizes.expected must be a finite number > 0, got ${nE}`);
    if (!(Number.isFinite(nA) && nA > 0)) throw new RangeError(`${fn}: opts.sampleSizes.actual must be a finite number > 0, got ${nA}`);
  }
  const keys = [...new Set([...e.keys(), ...a.keys()])];
  if (sorted) keys.sort(byCodeUnit);
  let psi = 0;
  let k = 0;
  const categories = keys.map((category) => {
    const ec = e.get(category) ?? 0;
    const ac = a.get(category) ?? 0;
    const es = ec / totalE;
    const as = ac / totalA;
    if (ec > 0 || ac > 0) k++;
    const se = Math.max(es, epsilon);
    const sa = Math.max(as, epsilon);
    const contribution = (sa - se) * Math.log(sa / se);
    psi += contribution;
    return { category, expectedCount: ec, actualCount: ac, expected: es, actual: as, contribution };
  });
  const df = Math.max(k - 1, 0);
  const statistic = ((nE * nA) / (nE + nA)) * psi;
  return { psi, band: psiBand(psi), categories, k, df, nExpected: nE, nActual: nA, statistic, p: df > 0 ? chiSquareSf(statistic, df) : null, epsilon };
}

/**
 * PSI of a categorical attribute between the expected (pre-launch) and actual (window) counts per
 * category, with per-category contributions, the conventional band and the chi-square p-value.
 * Throws RangeError, naming the field, on negative or non-finite counts, an empty side or a bad
 * epsilon.
 */
export function populationStabilityIndex(expected: CategoryCounts, actual: CategoryCounts, opts?: PsiOptions): PsiResult {
  return psiCore('populationStabilityIndex', ['expected', 'actual'], expected, actual, opts, true);
}

export interface ScorePsiResult extends PsiResult {
  /** Interior bin edges (deduplicated quantiles of the expected scores); categories are the bins in order. */
  edges: number[];
}

function finiteScores(fn: string, field: string, xs: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(xs as ArrayLike<number>);
  if (out.length === 0) throw new RangeError(`${fn}: ${field} is empty`);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i]!)) throw new RangeError(`${fn}: ${field}[${i}] must be finite, got ${xs[i]}`);
  }
  return out;
}

/**
 * PSI of a numeric score: bins from the expected scores' quantiles at j / bins (j = 1 .. bins-1;
 * deciles by default), ties merged, then the categorical PSI over the bins (same epsilon, band and
 * p-value). Bin labels are '[lo, hi)'.
 */
export function scorePsi(expectedScores: ArrayLike<number>, actualScores: ArrayLike<number>, bins = 10, opts?: Omit<PsiOptions, 'sampleSizes'>): ScorePsiResult {
  const fn = 'scorePsi';
  if (!(Number.isInteger(bins) && bins >= 2)) throw new RangeError(`${fn}: bins must be an integer >= 2, got ${bins}`);
  const e = finiteScores(fn, 'expectedScores', expectedScores);
  const a = finiteScores(fn, 'actualScores', actualScores);
  const sorted = e.slice().sort();
  const edges: number[] = [];
  for (let j = 1; j < bins; j++) {
    const q = quantileSorted(sorted, sorted.length, j / bins);
    if (edges.length === 0 || q !== edges[edges.length - 1]) edges.push(q);
  }
  const nb = edges.length + 1;
  const ce = new Float64Array(nb);
  const ca = new Float64Array(nb);
  for (let i = 0; i < e.length; i++) ce[searchSorted(edges, e[i]!, 'right')]!++;
  for (let i = 0; i < a.length; i++) ca[searchSorted(edges, a[i]!, 'right')]!++;
  const label = (j: number): string => `[${j === 0 ? '-Infinity' : edges[j - 1]}, ${j === nb - 1 ? 'Infinity' : edges[j]})`;
  const me = new Map<string, number>();
  const ma = new Map<string, number>();
  for (let j = 0; j < nb; j++) {
    me.set(label(j), ce[j]!);
    ma.set(label(j), ca[j]!);
  }
  // Bins stay in score order (not sorted by label).
  return { ...psiCore(fn, ['expectedScores', 'actualScores'], me, ma, opts, false), edges };
}
