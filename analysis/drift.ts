/**
 * Drift between a model version's pre-launch audit and a recent window of production traffic:
 * data drift (population stability index per attribute, and of the score), concept drift (error
 * rates given the label, estimated from inclusion-weighted labels), and fairness gaps, judged
 * against a re-audit policy. Used by the `biasReaudit` and `driftMonitor` workflows.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * ## Population stability index (PSI)
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
 * ## Weighted error rates (weightedErrorRates)
 *
 * Labelled window traffic comes from feedback and from annotation samples drawn with known
 * inclusion probabilities pi_i; each row carries w_i = 1 / pi_i. A rate is the Horvitz-Thompson
 * ratio (Hajek) estimate over the rows of its denominator D:
 *   FPR = sum_{D: y=0} w [pred=1] / sum_{D: y=0} w,  FNR likewise over y = 1 with [pred=0],
 *   selection rate over all rows with [pred=1].
 * Interval: Wilson 95% on the Kish effective sample size n_eff = (sum w)^2 / sum w^2 of D, i.e.
 * statsmodels proportion_confint(p_hat * n_eff, n_eff, method='wilson'). This is an approximation:
 * it treats the weighted sample as n_eff independent draws, ignores the finite-population
 * correction (conservative) and any gain from stratification (conservative), and ignores a
 * correlation between weights and outcome (either way). With every weight 1, n_eff is the row count
 * and the interval is exactly (to the bit) the unweighted Wilson interval of analysis/numerics/intervals.ts.
 *
 * ## Comparison with the pre-launch audit (compareWithPrelaunch)
 *
 * Reported separately: data drift (PSI per attribute: crossed when PSI > maxPsi AND its p-value
 * < psiAlpha, so a tiny sample's noise cannot raise an alert), concept drift (per slice, FPR and FNR
 * window minus pre-launch, with a Newcombe hybrid score interval for the difference of two
 * independent proportions; crossed when the interval's LOWER bound exceeds the allowed increase),
 * and fairness (Fairlearn's between-groups difference max - min per attribute; crossed when the
 * Newcombe interval of the difference between the two extreme groups has its lower bound above
 * maxFairnessGap). A rate whose denominator (negatives for FPR, positives for FNR, rows for the
 * selection rate; the Kish effective size for weighted rates) is below minSupport on either side,
 * a slice missing on one side, or a distribution with fewer than minSupport items, is listed in
 * `insufficient`, never passed silently; thin groups are left out of the fairness gaps.
 */
import { chiSquareSf } from './numerics/distributions';
import { quantileSorted } from './numerics/descriptive';
import { newcombeDifference, wilsonInterval, type Interval } from './numerics/intervals';
import { searchSorted } from './numerics/sort';
import type { EncodedAttribute } from './confusion';
import type { RateSet } from './classification';
import type { FairnessGap } from './fairness';

// ---------------------------------------------------------------------------------------------
// Population stability index

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

function entriesOf(fn: string, field: string, d: CategoryCounts): [string, number][] {
  const entries: [string, number][] = d instanceof Map ? [...(d as ReadonlyMap<string, number>).entries()] : Object.entries(d as Record<string, number>);
  for (const [k, v] of entries) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new RangeError(`${fn}: ${field}[${JSON.stringify(k)}] must be a finite number >= 0, got ${v}`);
  }
  return entries;
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function psiCore(
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

// ---------------------------------------------------------------------------------------------
// Weighted error rates of the window

/** A proportion with its interval and the (effective) trials it rests on. */
export interface RateEvidence extends Interval {
  /** Trials: the denominator count, or the Kish effective size for weighted data. */
  n: number;
  /** Events on the same scale (estimate ~ events / n). */
  events: number;
}

/** Error rates of one slice ('overall'/'all' or attribute/value). */
export interface SliceRates {
  attribute: string;
  value: string;
  /** Labelled rows in the slice. */
  support: number;
  /** P(pred = 1 | y = 0); n = negatives */
  fpr: RateEvidence;
  /** P(pred = 0 | y = 1); n = positives */
  fnr: RateEvidence;
  /** P(pred = 1); n = rows */
  selectionRate: RateEvidence;
}

export interface WeightedRate extends RateEvidence {
  /** Labelled rows in the denominator. */
  rows: number;
  /** Sum of weights over them: the estimated number of such items in the traffic. */
  weight: number;
}

export interface WeightedSliceRates extends SliceRates {
  /** Sum of weights over the slice's rows. */
  weight: number;
  fpr: WeightedRate;
  fnr: WeightedRate;
  selectionRate: WeightedRate;
}

export interface WeightedErrorRates {
  /** attribute 'overall', value 'all' */
  overall: WeightedSliceRates;
  /** Attributes in input order, values in code order; every declared value, even with no rows. */
  slices: WeightedSliceRates[];
  confidence: number;
  method: string;
}

export const WEIGHTED_RATE_METHOD =
  'Horvitz-Thompson ratio (Hajek) estimate with w = 1/pi; Wilson interval on the Kish effective sample size (sum w)^2 / sum w^2 of the denominator';

/** Per code: sums of w, w^2 and row counts in the cells tp, fp, tn, fn (analysis/confusion.ts order). */
const STRIDE = 12;

function weightedRate(events: number, sumW: number, sumW2: number, rows: number, confidence: number): WeightedRate {
  if (rows === 0) return { estimate: null, lower: null, upper: null, n: 0, events: 0, rows: 0, weight: 0 };
  // Scaling by s = sum w / sum w^2 keeps unit weights exact: s = 1, so (events, n) are the integer counts.
  const s = sumW / sumW2;
  const nEff = sumW * s;
  const eEff = events * s;
  const iv = wilsonInterval(eEff, nEff, confidence);
  return { estimate: events / sumW, lower: iv.lower, upper: iv.upper, n: nEff, events: eEff, rows, weight: sumW };
}

function sliceFromCells(attribute: string, value: string, c: Float64Array, o: number, confidence: number): WeightedSliceRates {
  // w sums at o + cell, w^2 sums at o + 4 + cell, row counts at o + 8 + cell; cells tp=0 fp=1 tn=2 fn=3.
  const w = (cell: number): number => c[o + cell]!;
  const w2 = (cell: number): number => c[o + 4 + cell]!;
  const r = (cell: number): number => c[o + 8 + cell]!;
  const rows = r(0) + r(1) + r(2) + r(3);
  const weight = w(0) + w(1) + w(2) + w(3);
  return {
    attribute,
    value,
    support: rows,
    weight,
    fpr: weightedRate(w(1), w(1) + w(2), w2(1) + w2(2), r(1) + r(2), confidence),
    fnr: weightedRate(w(3), w(0) + w(3), w2(0) + w2(3), r(0) + r(3), confidence),
    selectionRate: weightedRate(w(0) + w(1), weight, w2(0) + w2(1) + w2(2) + w2(3), rows, confidence),
  };
}

/**
 * FPR, FNR and selection rate overall and per attribute value from inclusion-weighted labelled
 * rows (see the module comment for the estimator and the interval). Throws RangeError naming the
 * field on length mismatches, labels or predictions other than 0/1, weights that are not finite
 * and > 0, out-of-range codes and duplicate attribute names.
 */
export function weightedErrorRates(input: {
  labels: ArrayLike<number>;
  predictions: ArrayLike<number>;
  /** 1 / pi per row */
  weights: ArrayLike<number>;
  slices?: EncodedAttribute[];
  confidence?: number;
}): WeightedErrorRates {
  const fn = 'weightedErrorRates';
  const { labels, predictions, weights } = input;
  const slices = input.slices ?? [];
  const confidence = input.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${fn}: confidence must be in (0, 1), got ${confidence}`);
  const n = labels.length;
  if (predictions.length !== n) throw new RangeError(`${fn}: predictions has ${predictions.length} rows, labels has ${n}`);
  if (weights.length !== n) throw new RangeError(`${fn}: weights has ${weights.length} rows, labels has ${n}`);
  const names = new Set<string>();
  for (const a of slices) {
    if (a.name === 'overall') throw new RangeError(`${fn}: slices: the attribute name 'overall' is reserved`);
    if (names.has(a.name)) throw new RangeError(`${fn}: slices: duplicate attribute name ${JSON.stringify(a.name)}`);
    names.add(a.name);
    if (a.codes.length !== n) throw new RangeError(`${fn}: slices[${JSON.stringify(a.name)}].codes has ${a.codes.length} rows, labels has ${n}`);
  }
  const cellOf = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    const p = predictions[i];
    const w = weights[i]!;
    if (y !== 0 && y !== 1) throw new RangeError(`${fn}: labels[${i}] must be 0 or 1, got ${y}`);
    if (p !== 0 && p !== 1) throw new RangeError(`${fn}: predictions[${i}] must be 0 or 1, got ${p}`);
    if (!(typeof w === 'number' && Number.isFinite(w) && w > 0)) throw new RangeError(`${fn}: weights[${i}] must be a finite number > 0 (1 / inclusion probability), got ${w}`);
    cellOf[i] = y === 1 ? (p === 1 ? 0 : 3) : p === 1 ? 1 : 2;
  }
  const accumulate = (codes: ArrayLike<number> | null, nCodes: number, name: string): Float64Array => {
    const c = new Float64Array(STRIDE * nCodes);
    for (let i = 0; i < n; i++) {
      const code = codes ? codes[i]! : 0;
      if (!(Number.isInteger(code) && code >= 0 && code < nCodes)) {
        throw new RangeError(`${fn}: slices[${JSON.stringify(name)}].codes[${i}] = ${code} is outside 0..${nCodes - 1}`);
      }
      const o = STRIDE * code + cellOf[i]!;
      const w = weights[i]!;
      c[o]! += w;
      c[o + 4]! += w * w;
      c[o + 8]! += 1;
    }
    return c;
  };
  const overallCells = accumulate(null, 1, 'overall');
  const out: WeightedSliceRates[] = [];
  for (const a of slices) {
    const c = accumulate(a.codes, a.values.length, a.name);
    a.values.forEach((v, code) => out.push(sliceFromCells(a.name, v, c, STRIDE * code, confidence)));
  }
  return { overall: sliceFromCells('overall', 'all', overallCells, 0, confidence), slices: out, confidence, method: WEIGHTED_RATE_METHOD };
}

/** The pre-launch side from an unweighted evaluation (analysis/classification.ts RateSet). */
export function sliceRatesFromRateSet(attribute: string, value: string, rates: RateSet): SliceRates {
  const { tp, fp, fn } = rates.counts;
  return {
    attribute,
    value,
    support: rates.support,
    fpr: { ...rates.fpr, n: rates.negatives, events: fp },
    fnr: { ...rates.fnr, n: rates.positives, events: fn },
    selectionRate: { ...rates.selectionRate, n: rates.support, events: tp + fp },
  };
}

// ---------------------------------------------------------------------------------------------
// Comparison with the pre-launch audit

export interface DriftPolicy {
  /** Largest tolerated FPR increase (absolute), judged on the lower bound of the difference's interval. */
  maxFprIncrease: number;
  /** Same for FNR; when absent FNR is reported but never crossed. */
  maxFnrIncrease?: number;
  /** Largest tolerated between-groups gap (max - min over an attribute's values), on the lower bound. */
  maxFairnessGap: number;
  /** Which gaps to judge, in Fairlearn's names; default ['fpr_difference']. tpr_difference is the FNR range. */
  fairnessMetrics?: FairnessDriftMetric[];
  /** Default 0.25 (the 'significant' band). */
  maxPsi?: number;
  /** PSI crosses only when its chi-square p-value is also below this; default 0.01. */
  psiAlpha?: number;
  /** A rate with fewer (effective) trials than this on either side is insufficient; default 30. */
  minSupport?: number;
  /** Default 0.95, for the Newcombe intervals. */
  confidence?: number;
  /** PSI smoothing; default 1e-4. */
  psiEpsilon?: number;
}

/** The between-groups gaps a re-audit judges, in analysis/fairness.ts's (Fairlearn's) names. */
export type FairnessDriftMetric = Extract<FairnessGap, 'fpr_difference' | 'tpr_difference' | 'demographic_parity_difference'>;
const FAIRNESS_RATE: Record<FairnessDriftMetric, RateName> = { fpr_difference: 'fpr', tpr_difference: 'fnr', demographic_parity_difference: 'selectionRate' };
export type RateName = 'fpr' | 'fnr' | 'selectionRate';

export interface AuditSide {
  /** Overall (attribute 'overall', value 'all') and per attribute value. */
  slices: SliceRates[];
  /** Counts per category of each attribute over all traffic of the period (not just labelled rows). */
  attributes?: Record<string, CategoryCounts>;
}

export interface DataDriftFinding {
  attribute: string;
  psi: number;
  band: PsiBand;
  p: number | null;
  df: number;
  statistic: number;
  categories: PsiCategory[];
  crossed: boolean;
}

export interface ConceptDriftFinding {
  /** 'overall' or 'attribute=value' */
  slice: string;
  attribute: string;
  value: string;
  metric: 'fpr' | 'fnr';
  prelaunch: RateEvidence;
  window: RateEvidence;
  /** window - prelaunch with its Newcombe interval */
  difference: Interval;
  /** The policy's allowed increase; null when the policy sets none for this metric. */
  threshold: number | null;
  crossed: boolean;
}

export interface GapEstimate extends Interval {
  /** The values with the largest and smallest rate; the interval is Newcombe's for their difference. */
  high: string;
  low: string;
  /** Values with enough support that entered max / min. */
  groups: number;
}

export interface FairnessDriftFinding {
  attribute: string;
  metric: FairnessDriftMetric;
  /** null when fewer than two values have enough support on that side */
  prelaunch: GapEstimate | null;
  window: GapEstimate | null;
  threshold: number;
  crossed: boolean;
}

export interface InsufficientFinding {
  /** 'overall', 'attribute=value', or an attribute name for a distribution */
  slice: string;
  metric: RateName | 'distribution';
  prelaunchSupport: number | null;
  windowSupport: number | null;
  detail: string;
}

export interface DriftComparison {
  dataDrift: DataDriftFinding[];
  conceptDrift: ConceptDriftFinding[];
  fairness: FairnessDriftFinding[];
  insufficient: InsufficientFinding[];
  alert: boolean;
  reasons: string[];
  policy: Required<Omit<DriftPolicy, 'maxFnrIncrease'>> & { maxFnrIncrease: number | null };
}

const sliceName = (s: { attribute: string; value: string }): string => (s.attribute === 'overall' ? 'overall' : `${s.attribute}=${s.value}`);
const fmt = (x: number | null): string => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(4));
const fmtIv = (i: Interval): string => `${fmt(i.estimate)} [${fmt(i.lower)}, ${fmt(i.upper)}]`;

function resolvePolicy(fn: string, p: DriftPolicy): DriftComparison['policy'] {
  const unit = (v: unknown, field: string, lo: number, hi: number, loOpen = false): number => {
    if (!(typeof v === 'number' && (loOpen ? v > lo : v >= lo) && v <= hi)) throw new RangeError(`${fn}: policy.${field} must be in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${v}`);
    return v;
  };
  if (p === null || typeof p !== 'object') throw new RangeError(`${fn}: policy must be an object`);
  const minSupport = p.minSupport ?? 30;
  if (!(Number.isInteger(minSupport) && minSupport >= 1)) throw new RangeError(`${fn}: policy.minSupport must be an integer >= 1, got ${minSupport}`);
  const confidence = p.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${fn}: policy.confidence must be in (0, 1), got ${confidence}`);
  const fairnessMetrics = p.fairnessMetrics ?? ['fpr_difference'];
  fairnessMetrics.forEach((m, i) => {
    if (!(m in FAIRNESS_RATE)) throw new RangeError(`${fn}: policy.fairnessMetrics[${i}] must be one of ${Object.keys(FAIRNESS_RATE).join(', ')}, got ${m}`);
  });
  const maxPsi = p.maxPsi ?? 0.25;
  if (!(typeof maxPsi === 'number' && maxPsi >= 0 && Number.isFinite(maxPsi))) throw new RangeError(`${fn}: policy.maxPsi must be a finite number >= 0, got ${maxPsi}`);
  return {
    maxFprIncrease: unit(p.maxFprIncrease, 'maxFprIncrease', 0, 1),
    maxFnrIncrease: p.maxFnrIncrease === undefined ? null : unit(p.maxFnrIncrease, 'maxFnrIncrease', 0, 1),
    maxFairnessGap: unit(p.maxFairnessGap, 'maxFairnessGap', 0, 1),
    fairnessMetrics: [...new Set(fairnessMetrics)],
    maxPsi,
    psiAlpha: unit(p.psiAlpha ?? 0.01, 'psiAlpha', 0, 1, true),
    minSupport,
    confidence,
    psiEpsilon: unit(p.psiEpsilon ?? DEFAULT_PSI_EPSILON, 'psiEpsilon', 0, 0.5, true),
  };
}

function validateSide(fn: string, side: 'prelaunch' | 'window', s: AuditSide): Map<string, SliceRates> {
  if (s === null || typeof s !== 'object' || !Array.isArray(s.slices)) throw new RangeError(`${fn}: ${side}.slices must be an array`);
  const out = new Map<string, SliceRates>();
  s.slices.forEach((sl, i) => {
    const where = `${side}.slices[${i}]`;
    if (typeof sl.attribute !== 'string' || typeof sl.value !== 'string') throw new RangeError(`${fn}: ${where}.attribute and .value must be strings`);
    if (!(Number.isInteger(sl.support) && sl.support >= 0)) throw new RangeError(`${fn}: ${where}.support must be an integer >= 0, got ${sl.support}`);
    for (const m of ['fpr', 'fnr', 'selectionRate'] as const) {
      const r = sl[m];
      if (r === null || typeof r !== 'object') throw new RangeError(`${fn}: ${where}.${m} is missing`);
      if (!(Number.isFinite(r.n) && r.n >= 0)) throw new RangeError(`${fn}: ${where}.${m}.n must be a finite number >= 0, got ${r.n}`);
      if (!(Number.isFinite(r.events) && r.events >= 0 && r.events <= r.n * (1 + 1e-12))) {
        throw new RangeError(`${fn}: ${where}.${m}.events must be in [0, n=${r.n}], got ${r.events}`);
      }
      if (r.n > 0 && !(typeof r.estimate === 'number' && r.estimate >= 0 && r.estimate <= 1)) throw new RangeError(`${fn}: ${where}.${m}.estimate must be in [0, 1] when n > 0, got ${r.estimate}`);
    }
    const key = sliceName(sl);
    if (out.has(key)) throw new RangeError(`${fn}: ${where} duplicates slice ${key}`);
    out.set(key, sl);
  });
  return out;
}

/** Events clamped to n (validation allows a relative 1e-12 overshoot from rounding). */
const eventsOf = (r: RateEvidence): number => Math.min(r.events, r.n);

function gapOf(groups: SliceRates[], rate: RateName, minSupport: number, confidence: number): GapEstimate | null {
  const ok = groups.filter((g) => g[rate].n >= minSupport && g[rate].estimate !== null);
  if (ok.length < 2) return null;
  let hi = ok[0]!;
  let lo = ok[0]!;
  for (const g of ok) {
    if (g[rate].estimate! > hi[rate].estimate!) hi = g;
    if (g[rate].estimate! < lo[rate].estimate!) lo = g;
  }
  const a = hi[rate];
  const b = lo[rate];
  const iv = newcombeDifference(eventsOf(a), a.n, eventsOf(b), b.n, confidence);
  // The gap is max - min of the estimates (Fairlearn); the interval is for the pair's difference.
  return { estimate: a.estimate! - b.estimate!, lower: iv.lower, upper: iv.upper, high: hi.value, low: lo.value, groups: ok.length };
}

/**
 * Compares a window of production traffic with the version's pre-launch audit under a re-audit
 * policy (see the module comment). Throws RangeError naming the field on a malformed policy or
 * side.
 */
export function compareWithPrelaunch(input: { prelaunch: AuditSide; window: AuditSide; policy: DriftPolicy }): DriftComparison {
  const fn = 'compareWithPrelaunch';
  const policy = resolvePolicy(fn, input.policy);
  const pre = validateSide(fn, 'prelaunch', input.prelaunch);
  const win = validateSide(fn, 'window', input.window);
  const { minSupport, confidence } = policy;
  const pct = `${Math.round(confidence * 1000) / 10}%`;
  const insufficient: InsufficientFinding[] = [];
  const reasons: string[] = [];

  // Data drift.
  const dataDrift: DataDriftFinding[] = [];
  const preAttrs = input.prelaunch.attributes ?? {};
  const winAttrs = input.window.attributes ?? {};
  const attrNames = [...new Set([...Object.keys(preAttrs), ...Object.keys(winAttrs)])].sort(byCodeUnit);
  for (const attribute of attrNames) {
    const e = preAttrs[attribute];
    const a = winAttrs[attribute];
    const total = (d: CategoryCounts | undefined, side: string): number | null => {
      if (d === undefined) return null;
      let t = 0;
      for (const [, v] of entriesOf(fn, `${side}.attributes[${JSON.stringify(attribute)}]`, d)) t += v;
      return t;
    };
    const te = total(e, 'prelaunch');
    const ta = total(a, 'window');
    if (te === null || ta === null || te < minSupport || ta < minSupport) {
      const detail =
        te === null ? 'no pre-launch distribution' : ta === null ? 'no distribution in the window' : `${Math.min(te, ta) === te ? 'pre-launch' : 'window'} has ${Math.min(te, ta)} items < minimum ${minSupport}`;
      insufficient.push({ slice: attribute, metric: 'distribution', prelaunchSupport: te, windowSupport: ta, detail });
      continue;
    }
    const r = psiCore(fn, [`prelaunch.attributes[${JSON.stringify(attribute)}]`, `window.attributes[${JSON.stringify(attribute)}]`], e!, a!, { epsilon: policy.psiEpsilon }, true);
    const crossed = r.psi > policy.maxPsi && r.p !== null && r.p < policy.psiAlpha;
    dataDrift.push({ attribute, psi: r.psi, band: r.band, p: r.p, df: r.df, statistic: r.statistic, categories: r.categories, crossed });
    if (crossed) reasons.push(`data drift: PSI of ${attribute} is ${fmt(r.psi)} (${r.band}, p = ${r.p!.toExponential(2)}) > maxPsi ${policy.maxPsi}`);
  }

  // Support per (slice, rate) on both sides; each shortfall listed once.
  const needed = new Set<RateName>(['fpr', 'fnr']);
  for (const m of policy.fairnessMetrics) needed.add(FAIRNESS_RATE[m]);
  const keys = [...pre.keys(), ...[...win.keys()].filter((k) => !pre.has(k))];
  const DENOM: Record<RateName, string> = { fpr: 'negatives', fnr: 'positives', selectionRate: 'rows' };
  const sufficient = new Set<string>();
  for (const key of keys) {
    const p = pre.get(key);
    const w = win.get(key);
    for (const rate of needed) {
      const pn = p ? p[rate].n : null;
      const wn = w ? w[rate].n : null;
      let detail: string | null = null;
      if (!p) detail = 'no pre-launch baseline';
      else if (!w) detail = 'absent from the window';
      else if (pn! < minSupport || wn! < minSupport) {
        const parts: string[] = [];
        if (pn! < minSupport) parts.push(`pre-launch ${fmt(pn)} ${DENOM[rate]}`);
        if (wn! < minSupport) parts.push(`window ${fmt(wn)} ${DENOM[rate]}${Number.isInteger(wn) ? '' : ' (Kish effective)'}`);
        detail = `${parts.join(', ')} < minimum ${minSupport}`;
      }
      if (detail === null) sufficient.add(`${key}\u0000${rate}`);
      else insufficient.push({ slice: key, metric: rate, prelaunchSupport: pn, windowSupport: wn, detail });
    }
  }

  // Concept drift.
  const conceptDrift: ConceptDriftFinding[] = [];
  for (const key of keys) {
    const p = pre.get(key);
    const w = win.get(key);
    if (!p || !w) continue;
    for (const metric of ['fpr', 'fnr'] as const) {
      if (!sufficient.has(`${key}\u0000${metric}`)) continue;
      const a = w[metric];
      const b = p[metric];
      const difference = newcombeDifference(eventsOf(a), a.n, eventsOf(b), b.n, confidence);
      const threshold = metric === 'fpr' ? policy.maxFprIncrease : policy.maxFnrIncrease;
      const crossed = threshold !== null && difference.lower !== null && difference.lower > threshold;
      conceptDrift.push({ slice: key, attribute: w.attribute, value: w.value, metric, prelaunch: b, window: a, difference, threshold, crossed });
      if (crossed) {
        reasons.push(
          `concept drift: ${metric} of ${key} went from ${fmt(b.estimate)} to ${fmt(a.estimate)}; difference ${fmtIv(difference)} (${pct} Newcombe) has its lower bound above the allowed increase ${threshold}`,
        );
      }
    }
  }

  // Fairness gaps per attribute.
  const fairness: FairnessDriftFinding[] = [];
  const groupAttrs = [...new Set(keys.map((k) => (pre.get(k) ?? win.get(k))!.attribute).filter((a) => a !== 'overall'))];
  for (const attribute of groupAttrs) {
    for (const metric of policy.fairnessMetrics) {
      const rate = FAIRNESS_RATE[metric];
      // Only groups sufficient on both sides, so the two gaps are over the same values.
      const both = keys.filter((k) => sufficient.has(`${k}\u0000${rate}`) && pre.get(k)?.attribute === attribute);
      const prelaunch = gapOf(both.map((k) => pre.get(k)!), rate, minSupport, confidence);
      const window = gapOf(both.map((k) => win.get(k)!), rate, minSupport, confidence);
      const crossed = window !== null && window.lower !== null && window.lower > policy.maxFairnessGap;
      fairness.push({ attribute, metric, prelaunch, window, threshold: policy.maxFairnessGap, crossed });
      if (crossed) {
        reasons.push(
          `fairness: ${metric} over ${attribute} is ${fmt(window.estimate)} in the window (${window.high} vs ${window.low}, ${pct} Newcombe [${fmt(window.lower)}, ${fmt(window.upper)}]; pre-launch ${prelaunch ? fmt(prelaunch.estimate) : 'n/a'}), lower bound above maxFairnessGap ${policy.maxFairnessGap}`,
        );
      }
    }
  }

  return { dataDrift, conceptDrift, fairness, insufficient, alert: reasons.length > 0, reasons, policy };
}

// ---------------------------------------------------------------------------------------------
// What the scheduled jobs decide (the activities only load counts and store results)

/**
 * A comparison restricted to the attributes a policy judges (a month attribute always "drifts";
 * 'overall' is always judged), with its alert and one reason per crossed finding.
 */
export function judgedFindings(comparison: DriftComparison, attributes?: readonly string[]) {
  const keep = (attribute: string) => !attributes || attribute === 'overall' || attributes.includes(attribute);
  const dataDrift = comparison.dataDrift.filter((d) => keep(d.attribute));
  const conceptDrift = comparison.conceptDrift.filter((c) => keep(c.attribute));
  const fairness = comparison.fairness.filter((f) => keep(f.attribute));
  const reasons = [
    ...dataDrift.filter((d) => d.crossed).map((d) => `data drift: PSI of ${d.attribute} is ${fmt(d.psi)} (${d.band}, p = ${d.p === null ? 'n/a' : d.p.toExponential(2)})`),
    ...conceptDrift.filter((c) => c.crossed).map((c) => `concept drift: ${c.metric} on ${c.slice} rose by ${fmtIv(c.difference)}`),
    ...fairness.filter((f) => f.crossed).map((f) => `fairness: ${f.metric} over ${f.attribute} is ${fmt(f.window?.estimate ?? null)} in the window (pre-launch ${fmt(f.prelaunch?.estimate ?? null)})`),
  ];
  return { ...comparison, dataDrift, conceptDrift, fairness, alert: reasons.length > 0, reasons };
}

export const DRIFT_PSI_ALPHA = 0.01;
export const DRIFT_MIN_WINDOW_REQUESTS = 100;

/**
 * The drift monitor's judgement. Population drift: each watched attribute's traffic against the
 * pre-launch population, crossed when PSI > maxPsi (default 0.25) and its chi-square p < 0.01.
 * Feedback drift: the correction rate (requests overridden, edited or undone) against the previous
 * window of the same length, crossed when
 * the Newcombe interval's lower bound exceeds maxOverrideRise (default 0.02), with >= 100 requests
 * on each side.
 */
export function judgeDriftSignals(input: {
  prelaunch: Record<string, CategoryCounts>;
  traffic: Record<string, CategoryCounts>;
  attributes: readonly string[];
  overrides: { current: { requests: number; overridden: number }; previous: { requests: number; overridden: number } };
  maxPsi?: number;
  maxOverrideRise?: number;
}) {
  const maxPsi = input.maxPsi ?? 0.25;
  const maxRise = input.maxOverrideRise ?? 0.02;
  const reasons: string[] = [];
  const population = input.attributes
    .filter((a) => input.prelaunch[a])
    .map((a) => {
      const counts = input.traffic[a];
      if (!counts || Object.keys(counts).length === 0) return { attribute: a, psi: null, band: null, p: null, crossed: false };
      const r = populationStabilityIndex(input.prelaunch[a]!, counts);
      const crossed = r.psi > maxPsi && r.p !== null && r.p < DRIFT_PSI_ALPHA;
      if (crossed) reasons.push(`population drift: PSI of ${a} is ${fmt(r.psi)} (${r.band}, p = ${r.p!.toExponential(2)}) > ${maxPsi}`);
      return { attribute: a, psi: r.psi, band: r.band, p: r.p, crossed };
    });
  const { current, previous } = input.overrides;
  const difference = newcombeDifference(current.overridden, current.requests, previous.overridden, previous.requests);
  const enough = current.requests >= DRIFT_MIN_WINDOW_REQUESTS && previous.requests >= DRIFT_MIN_WINDOW_REQUESTS;
  const overrideCrossed = enough && difference.lower !== null && difference.lower > maxRise;
  if (overrideCrossed) {
    reasons.push(`feedback drift: override/edit rate ${fmt(current.overridden / current.requests)} vs ${fmt(previous.overridden / previous.requests)} in the previous window, rise ${fmtIv(difference)} > ${maxRise}`);
  }
  return { drift: reasons.length > 0, reasons, population, overrides: { current, previous, difference, crossed: overrideCrossed, enough } };
}

export type LabelSource = 'annotation' | 'review';
export type LabelDesign = 'annotation_sample' | 'review' | 'none';

/**
 * Which labels a re-audit window is measured on, given how many of its requests each source labels.
 * Two samples of different design are not pooled: the annotation sample (drawn with known inclusion
 * probabilities, weighted 1/pi) when it labels at least `minSupport` requests in the window, else the
 * reviewers' corrections (a spot-check taken as a uniform sample, weight 1), else whichever exists.
 */
export function chooseLabelDesign(counts: Record<LabelSource, number>, minSupport: number): { design: LabelDesign; use: LabelSource | null; counts: Record<LabelSource, number> } {
  if (!(Number.isInteger(minSupport) && minSupport >= 1)) throw new RangeError(`chooseLabelDesign: minSupport must be an integer >= 1, got ${minSupport}`);
  for (const k of ['annotation', 'review'] as const) {
    if (!(Number.isInteger(counts[k]) && counts[k] >= 0)) throw new RangeError(`chooseLabelDesign: counts.${k} must be an integer >= 0, got ${counts[k]}`);
  }
  if (counts.annotation >= minSupport) return { design: 'annotation_sample', use: 'annotation', counts };
  if (counts.review > 0) return { design: 'review', use: 'review', counts };
  if (counts.annotation > 0) return { design: 'annotation_sample', use: 'annotation', counts };
  return { design: 'none', use: null, counts };
}
