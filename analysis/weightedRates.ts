/**
 * Error rates of a window's labelled traffic, each row weighted by its inverse inclusion probability.
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
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { wilsonInterval, type Interval } from './numerics/intervals';
import type { EncodedAttribute } from './confusion';
import type { RateSet } from './classification';

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
