/**
 * Calibration: does a score of 0.9 mean about 90%? Reliability curves, expected and maximum
 * calibration error (fixed and adaptive bins) and the Brier score, with seeded bootstrap intervals,
 * overall and per slice value.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no Math.random (the bootstrap draws
 * from ./random's seeded generator through ./bootstrap), so it is safe to import from workflow code.
 *
 * ## Definitions (checked against scikit-learn 1.9.1 and numpy 2.4.6; proven in
 * test/analysis/calibration.test.ts against test/fixtures/calibration_oracle.json)
 *
 * Labels are 0/1 (1 is the positive class, also in a one-class slice: sklearn's pos_label rule
 * for {0, 1} labels), scores are probabilities of class 1 in [0, 1].
 *
 * - Reliability curve = sklearn.calibration.calibration_curve(y, s, n_bins, strategy):
 *   - 'uniform' edges are np.linspace(0, 1, n_bins + 1), i.e. edge i = i * (1 / n_bins) (not
 *     i / n_bins: 3 * 0.1 is 0.30000000000000004) and the last edge exactly 1;
 *   - 'quantile' edges are np.percentile(s, linspace(0, 1, n_bins + 1) * 100): numpy divides the
 *     percentages by 100 again, so the quantile levels are (edge_i * 100) / 100, which is not
 *     always edge_i (1/3 becomes 0.33333333333333326), then numpy's linear quantile;
 *   - a score's bin is np.searchsorted(inner edges, s, side='left'): the number of inner edges
 *     strictly below it, so a score equal to an edge falls in the lower bin, 0 in bin 0 and 1 in
 *     the last bin;
 *   - per non-empty bin (empty bins are dropped, which with tied scores and quantile edges can be
 *     most of them): prob_true = positives / count, prob_pred = mean score. We also return the count.
 * - ECE = sum over non-empty bins of (count_b / N) * |prob_true_b - prob_pred_b|; MCE = the
 *   largest |prob_true_b - prob_pred_b|. Fixed bins are the 'uniform' curve, adaptive (equal-mass)
 *   bins the 'quantile' curve. sklearn has no ECE; the oracle computes it from calibration_curve.
 * - Brier score = sklearn.metrics.brier_score_loss = mean (y - s)^2. sklearn 1.9 computes it as
 *   half the two-column form 0.5 * mean(((1 - y) - (1 - s))^2 + (y - s)^2), equal in exact
 *   arithmetic; we use the one-column form, which does not lose digits in 1 - s for tiny s.
 *
 * ## Intervals
 *
 * Every statistic here depends on the rows only through the counts of distinct (score, label)
 * cells: bin membership, positives and score sums per bin are sums over cells, and the quantile
 * edges of a multiset depend only on how many times each value occurs. So, exactly as for AUC in
 * ./bootstrap, the row bootstrap's resampled cell counts are Multinomial(N, counts / N) and
 * bootstrapCellsMulti draws those instead of rows: exact in distribution. Each replicate
 * recomputes everything, the adaptive edges included (the statistic is "ECE with quantile bins
 * of this sample", not "ECE in the original sample's bins"). The five statistics (ECE and MCE for
 * both binnings, Brier) share one set of replicates.
 *
 * ECE is biased upward in small samples (|acc - conf| of a noisy bin is positive even when the
 * model is calibrated), and its bootstrap distribution inherits that bias: the percentile
 * interval can lie above the estimate. A gate that judges the upper bound therefore errs on the
 * side of failing, which is the side a gate should err on.
 *
 * The Brier score is a mean of per-row losses d_i = (y_i - s_i)^2, so it also has a closed-form
 * standard error sd(d) / sqrt(N) (sample sd, N - 1) and a normal interval, clipped to [0, 1].
 */
import { bootstrapCellsMulti, type BootstrapInterval, type BootstrapOptions } from './bootstrap';
import { intersect, type EncodedAttribute } from './confusion';
import { validateLabelsScores } from './classification';
import { quantileSorted } from './numerics/descriptive';
import { normalQuantile } from './numerics/distributions';

export const BINNINGS = ['uniform', 'quantile'] as const;
export type Binning = (typeof BINNINGS)[number];

export interface BinningOptions {
  /** Number of bins (sklearn's n_bins), an integer >= 1. */
  bins: number;
  /** 'uniform' (fixed width on [0, 1]) or 'quantile' (equal mass); sklearn's strategy. */
  strategy: Binning;
}

export interface ReliabilityCurve {
  strategy: Binning;
  /** Bins asked for. */
  nBins: number;
  /** The nBins + 1 bin edges sklearn computes (uniform: linspace; quantile: np.percentile). */
  edges: number[];
  /** Non-empty bins only, in bin order: the bin's index in 0 .. nBins - 1. */
  bin: number[];
  /** sklearn's prob_true: fraction of positives per non-empty bin. */
  probTrue: number[];
  /** sklearn's prob_pred: mean score per non-empty bin. */
  probPred: number[];
  /** Rows per non-empty bin. */
  counts: number[];
}

/**
 * Rows collapsed to distinct (score, label) cells in ascending score order (label 0 before 1 on a
 * tie), with a count each. Every statistic of this module is a function of these counts.
 */
export interface ScoreCells {
  score: Float64Array;
  label: Uint8Array;
  count: Float64Array;
}

// ---------------------------------------------------------------------------------------------
// Validation

function checkBins(fn: string, bins: number): void {
  if (!(Number.isInteger(bins) && bins >= 1)) throw new RangeError(`${fn}: bins must be an integer >= 1, got ${bins}`);
}

function checkStrategy(fn: string, strategy: string): void {
  if (strategy !== 'uniform' && strategy !== 'quantile') {
    throw new RangeError(`${fn}: strategy must be 'uniform' or 'quantile', got ${JSON.stringify(strategy)}`);
  }
}

/** Scores are probabilities here: a calibration curve bins them on [0, 1]. */
function validateRows(fn: string, labels: ArrayLike<number>, scores: ArrayLike<number>): void {
  validateLabelsScores(fn, labels, scores, { probabilities: true });
}

// ---------------------------------------------------------------------------------------------
// Cells

/**
 * Distinct (score, label) cells per code, each code's cells in ascending score order. One sort of
 * the distinct scores and one of the packed keys (code, score index, label); codes null puts every
 * row in code 0. Rows must be validated.
 */
function cellsByCode(labels: ArrayLike<number>, scores: ArrayLike<number>, codes: ArrayLike<number> | null, nCodes: number): ScoreCells[] {
  const n = labels.length;
  const sorted = Float64Array.from(scores);
  sorted.sort();
  let D = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[D++] = sorted[i]!;
  const distinct = sorted.subarray(0, D);
  // Scores are sorted, so a score's index among the distinct ones is found by binary search.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    let lo = 0;
    let hi = D - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (distinct[mid]! < s) lo = mid + 1;
      else hi = mid;
    }
    const c = codes ? codes[i]! : 0;
    keys[i] = (c * D + lo) * 2 + labels[i]!;
  }
  keys.sort();
  const sizes = new Int32Array(nCodes);
  for (let i = 0; i < n; i++) if (i === 0 || keys[i] !== keys[i - 1]) sizes[Math.floor(keys[i]! / (2 * D))]!++;
  const out: ScoreCells[] = Array.from(sizes, (m) => ({ score: new Float64Array(m), label: new Uint8Array(m), count: new Float64Array(m) }));
  const fill = new Int32Array(nCodes);
  let m = -1;
  let code = -1;
  for (let i = 0; i < n; i++) {
    const k = keys[i]!;
    if (i === 0 || k !== keys[i - 1]) {
      const label = k % 2;
      const sd = (k - label) / 2;
      code = Math.floor(sd / D);
      m = fill[code]!++;
      const cells = out[code]!;
      cells.score[m] = distinct[sd - code * D]!;
      cells.label[m] = label;
    }
    out[code]!.count[m]!++;
  }
  return out;
}

/** The (score, label) cells of the rows (validated), for calibrationFromCells and the bootstrap. */
export function scoreCells(labels: ArrayLike<number>, scores: ArrayLike<number>): ScoreCells {
  validateRows('scoreCells', labels, scores);
  return cellsByCode(labels, scores, null, 1)[0]!;
}

// ---------------------------------------------------------------------------------------------
// Edges and binning over cells

/** np.linspace(0, 1, nBins + 1): arange(nBins + 1) * step + 0 with step = 1 / nBins, the last edge set to 1. */
export function uniformEdges(nBins: number): Float64Array {
  checkBins('uniformEdges', nBins);
  const step = 1 / nBins;
  const edges = new Float64Array(nBins + 1);
  for (let i = 0; i < nBins; i++) edges[i] = i * step;
  edges[nBins] = 1;
  return edges;
}

/**
 * np.percentile(values, linspace(0, 1, nBins + 1) * 100) over the multiset the cells describe,
 * with `count` as the multiplicities (zeros allowed): order statistics by binary search on the
 * cumulative counts, then numpy's linear interpolation (quantileSorted on the two neighbours,
 * which reproduces numpy's two-sided lerp exactly: virtual index 1 * t has the same fraction t).
 */
function quantileEdges(cells: ScoreCells, count: ArrayLike<number>, nBins: number, cum: Float64Array, out: Float64Array): void {
  const M = cells.score.length;
  cum[0] = 0;
  for (let j = 0; j < M; j++) cum[j + 1] = cum[j]! + count[j]!;
  const N = cum[M]!;
  // The k-th smallest value (k from 0): the cell j with cum[j] <= k < cum[j + 1].
  const orderStat = (k: number): number => {
    let lo = 0;
    let hi = M - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid + 1]! > k) hi = mid;
      else lo = mid + 1;
    }
    return cells.score[lo]!;
  };
  const pair = new Float64Array(2);
  const step = 1 / nBins;
  for (let i = 0; i <= nBins; i++) {
    const level = i === nBins ? 1 : i * step;
    const q = (level * 100) / 100;
    const h = (N - 1) * q;
    const lo = Math.floor(h);
    pair[0] = orderStat(lo);
    if (lo + 1 >= N) {
      out[i] = pair[0];
      continue;
    }
    pair[1] = orderStat(lo + 1);
    out[i] = quantileSorted(pair, 2, h - lo);
  }
}

/**
 * Per-bin totals: rows, positives and score sums, by np.searchsorted(edges[1 .. nBins - 1], s,
 * 'left'). Cells are in ascending score order, so the bin index only moves forward.
 */
function binCells(cells: ScoreCells, count: ArrayLike<number>, edges: ArrayLike<number>, nBins: number, total: Float64Array, positives: Float64Array, scoreSum: Float64Array): void {
  total.fill(0);
  positives.fill(0);
  scoreSum.fill(0);
  const M = cells.score.length;
  let b = 0;
  for (let j = 0; j < M; j++) {
    const c = count[j]!;
    if (c === 0) continue;
    const s = cells.score[j]!;
    // Inner edges are edges[1 .. nBins - 1]; bin b means edges[1 .. b] are < s.
    while (b < nBins - 1 && edges[b + 1]! < s) b++;
    total[b]! += c;
    positives[b]! += c * cells.label[j]!;
    scoreSum[b]! += c * s;
  }
}

function errorsFromBins(total: Float64Array, positives: Float64Array, scoreSum: Float64Array, N: number): { ece: number; mce: number } {
  let ece = 0;
  let mce = 0;
  for (let b = 0; b < total.length; b++) {
    const n = total[b]!;
    if (n === 0) continue;
    const gap = Math.abs(positives[b]! / n - scoreSum[b]! / n);
    ece += (n / N) * gap;
    if (gap > mce) mce = gap;
  }
  return { ece, mce };
}

function brierFromCells(cells: ScoreCells, count: ArrayLike<number>): { brier: number; N: number } {
  let sum = 0;
  let N = 0;
  for (let j = 0; j < cells.score.length; j++) {
    const c = count[j]!;
    if (c === 0) continue;
    const d = cells.label[j]! - cells.score[j]!;
    sum += c * d * d;
    N += c;
  }
  return { brier: sum / N, N };
}

/** Reusable scratch space for one binning, so a bootstrap replicate allocates nothing. */
class Binner {
  readonly edges: Float64Array;
  readonly total: Float64Array;
  readonly positives: Float64Array;
  readonly scoreSum: Float64Array;
  private readonly cum: Float64Array;

  constructor(
    readonly cells: ScoreCells,
    readonly nBins: number,
    readonly strategy: Binning,
  ) {
    this.edges = strategy === 'uniform' ? uniformEdges(nBins) : new Float64Array(nBins + 1);
    this.total = new Float64Array(nBins);
    this.positives = new Float64Array(nBins);
    this.scoreSum = new Float64Array(nBins);
    this.cum = new Float64Array(cells.score.length + 1);
  }

  /** Bins the cells under these counts; returns the number of rows. */
  run(count: ArrayLike<number>): number {
    if (this.strategy === 'quantile') quantileEdges(this.cells, count, this.nBins, this.cum, this.edges);
    binCells(this.cells, count, this.edges, this.nBins, this.total, this.positives, this.scoreSum);
    let N = 0;
    for (let b = 0; b < this.nBins; b++) N += this.total[b]!;
    return N;
  }

  curve(): ReliabilityCurve {
    const out: ReliabilityCurve = { strategy: this.strategy, nBins: this.nBins, edges: Array.from(this.edges), bin: [], probTrue: [], probPred: [], counts: [] };
    for (let b = 0; b < this.nBins; b++) {
      const n = this.total[b]!;
      if (n === 0) continue;
      out.bin.push(b);
      out.probTrue.push(this.positives[b]! / n);
      out.probPred.push(this.scoreSum[b]! / n);
      out.counts.push(n);
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Row-level functions

/**
 * sklearn.calibration.calibration_curve(labels, scores, n_bins=bins, strategy), plus each
 * non-empty bin's index and row count and the edges. Throws on no rows (as sklearn does), length
 * mismatch, labels other than 0/1, scores outside [0, 1] or NaN, bins < 1.
 */
export function reliabilityCurve(labels: ArrayLike<number>, scores: ArrayLike<number>, opts: BinningOptions): ReliabilityCurve {
  const fn = 'reliabilityCurve';
  checkBins(fn, opts.bins);
  checkStrategy(fn, opts.strategy);
  validateRows(fn, labels, scores);
  if (labels.length === 0) throw new RangeError(`${fn}: no rows`);
  const cells = cellsByCode(labels, scores, null, 1)[0]!;
  const binner = new Binner(cells, opts.bins, opts.strategy);
  binner.run(cells.count);
  return binner.curve();
}

export interface CalibrationError {
  /** Expected calibration error: sum_b (n_b / N) |prob_true_b - prob_pred_b|. */
  ece: number;
  /** Maximum calibration error: max_b |prob_true_b - prob_pred_b| over non-empty bins. */
  mce: number;
}

/**
 * ECE and MCE of cells under the given counts (zeros allowed: a bootstrap resample). Null when the
 * counts are all zero. The row functions below are this on the rows' own counts.
 */
export function calibrationFromCells(cells: ScoreCells, count: ArrayLike<number>, opts: BinningOptions): CalibrationError | null {
  const fn = 'calibrationFromCells';
  checkBins(fn, opts.bins);
  checkStrategy(fn, opts.strategy);
  if (count.length !== cells.score.length) throw new RangeError(`${fn}: ${count.length} counts for ${cells.score.length} cells`);
  const binner = new Binner(cells, opts.bins, opts.strategy);
  const N = binner.run(count);
  return N === 0 ? null : errorsFromBins(binner.total, binner.positives, binner.scoreSum, N);
}

/** ECE and MCE over the rows with fixed ('uniform') or adaptive ('quantile') bins; null with no rows. */
export function calibrationError(labels: ArrayLike<number>, scores: ArrayLike<number>, opts: BinningOptions): CalibrationError | null {
  const fn = 'calibrationError';
  checkBins(fn, opts.bins);
  checkStrategy(fn, opts.strategy);
  validateRows(fn, labels, scores);
  if (labels.length === 0) return null;
  const cells = cellsByCode(labels, scores, null, 1)[0]!;
  return calibrationFromCells(cells, cells.count, opts);
}

/** Expected calibration error; null with no rows. */
export function expectedCalibrationError(labels: ArrayLike<number>, scores: ArrayLike<number>, opts: BinningOptions): number | null {
  return calibrationError(labels, scores, opts)?.ece ?? null;
}

/** Maximum calibration error; null with no rows. */
export function maxCalibrationError(labels: ArrayLike<number>, scores: ArrayLike<number>, opts: BinningOptions): number | null {
  return calibrationError(labels, scores, opts)?.mce ?? null;
}

/** sklearn.metrics.brier_score_loss(labels, scores) with 1 the positive class; null with no rows. */
export function brierScore(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  validateRows('brierScore', labels, scores);
  const n = labels.length;
  if (n === 0) return null;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = labels[i]! - scores[i]!;
    sum += d * d;
  }
  return sum / n;
}

export interface BrierNormalInterval {
  estimate: number;
  /** sd(d) / sqrt(N) with d = (y - s)^2 and the N - 1 sample sd; null with fewer than 2 rows. */
  standardError: number | null;
  /** estimate -/+ z * standardError, clipped to [0, 1]; null with fewer than 2 rows. */
  lower: number | null;
  upper: number | null;
}

function brierNormalFromCells(cells: ScoreCells, confidence: number): BrierNormalInterval | null {
  const { brier, N } = brierFromCells(cells, cells.count);
  if (!(N > 0)) return null;
  if (N < 2) return { estimate: brier, standardError: null, lower: null, upper: null };
  let ss = 0;
  for (let j = 0; j < cells.score.length; j++) {
    const d = cells.label[j]! - cells.score[j]!;
    const e = d * d - brier;
    ss += cells.count[j]! * e * e;
  }
  const se = Math.sqrt(ss / (N - 1) / N);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  return { estimate: brier, standardError: se, lower: Math.max(0, brier - z * se), upper: Math.min(1, brier + z * se) };
}

/** The Brier score with its closed-form standard error and normal interval; null with no rows. */
export function brierInterval(labels: ArrayLike<number>, scores: ArrayLike<number>, confidence = 0.95): BrierNormalInterval | null {
  validateRows('brierInterval', labels, scores);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`brierInterval: confidence must be in (0, 1), got ${confidence}`);
  if (labels.length === 0) return null;
  return brierNormalFromCells(cellsByCode(labels, scores, null, 1)[0]!, confidence);
}

// ---------------------------------------------------------------------------------------------
// Everything for one group of rows, and per slice

/** Statistic order in one bootstrap pass. */
const ECE_UNIFORM = 0;
const ECE_QUANTILE = 1;
const MCE_UNIFORM = 2;
const MCE_QUANTILE = 3;
const BRIER = 4;
const N_STATS = 5;

export interface CalibrationSummary {
  support: number;
  positives: number;
  /** Percentile bootstrap intervals (seeded; one set of replicates for all five statistics). */
  ece: Record<Binning, BootstrapInterval>;
  mce: Record<Binning, BootstrapInterval>;
  brier: BootstrapInterval;
  /** The Brier score's closed-form interval; null with no rows. */
  brierNormal: BrierNormalInterval | null;
  /** Both reliability curves; null with no rows. */
  curves: Record<Binning, ReliabilityCurve> | null;
}

export interface CalibrationSliceSummary extends CalibrationSummary {
  attribute: string;
  value: string;
}

export interface CalibrationEvaluation {
  bins: number;
  /** attribute 'overall', value 'all' */
  overall: CalibrationSliceSummary;
  /** Attributes in input order, values in code order; every declared value, even with no rows. */
  slices: CalibrationSliceSummary[];
  /** Pairs in input order, cells in code order (first attribute major, named as intersect() names them); cells with no rows omitted. */
  intersections: CalibrationSliceSummary[];
}

export interface CalibrationOptions extends BootstrapOptions {
  /** Bins for both binnings; default 10. */
  bins?: number;
}

const NO_INTERVAL: BootstrapInterval = { estimate: null, lower: null, upper: null, replicates: 0, undefinedReplicates: 0 };

/** Everything for one group's cells: curves, point values, bootstrap and normal intervals. */
export function summarizeCells(cells: ScoreCells, bins: number, opts?: BootstrapOptions): CalibrationSummary {
  checkBins('summarizeCells', bins);
  let support = 0;
  let positives = 0;
  for (let j = 0; j < cells.count.length; j++) {
    support += cells.count[j]!;
    positives += cells.count[j]! * cells.label[j]!;
  }
  if (support === 0) {
    const none = { ...NO_INTERVAL };
    return { support, positives, ece: { uniform: none, quantile: none }, mce: { uniform: none, quantile: none }, brier: none, brierNormal: null, curves: null };
  }
  const uniform = new Binner(cells, bins, 'uniform');
  const quantile = new Binner(cells, bins, 'quantile');
  const intervals = bootstrapCellsMulti(
    cells.count,
    1,
    N_STATS,
    (count, out) => {
      const N = uniform.run(count);
      const u = errorsFromBins(uniform.total, uniform.positives, uniform.scoreSum, N);
      quantile.run(count);
      const q = errorsFromBins(quantile.total, quantile.positives, quantile.scoreSum, N);
      out[ECE_UNIFORM] = u.ece;
      out[ECE_QUANTILE] = q.ece;
      out[MCE_UNIFORM] = u.mce;
      out[MCE_QUANTILE] = q.mce;
      out[BRIER] = brierFromCells(cells, count).brier;
    },
    opts,
  );
  uniform.run(cells.count);
  quantile.run(cells.count);
  return {
    support,
    positives,
    ece: { uniform: intervals[ECE_UNIFORM]!, quantile: intervals[ECE_QUANTILE]! },
    mce: { uniform: intervals[MCE_UNIFORM]!, quantile: intervals[MCE_QUANTILE]! },
    brier: intervals[BRIER]!,
    brierNormal: brierNormalFromCells(cells, opts?.confidence ?? 0.95),
    curves: { uniform: uniform.curve(), quantile: quantile.curve() },
  };
}

/**
 * Calibration overall, per attribute value and per intersection cell (the EncodedAttribute codes
 * and intersect() naming evaluateClassification uses). Every slice is bootstrapped on its own rows
 * with the same seed. Throws, naming the problem, on length
 * mismatches, labels other than 0/1, scores outside [0, 1] or NaN, bins < 1, out-of-range codes
 * and duplicate attribute names.
 */
export function evaluateCalibration(input: {
  labels: ArrayLike<number>;
  scores: ArrayLike<number>;
  attributes: EncodedAttribute[];
  /** Pairs of attribute names whose every combination is a slice of its own. */
  intersections?: [string, string][];
  options?: CalibrationOptions;
}): CalibrationEvaluation {
  const fn = 'evaluateCalibration';
  const { labels, scores, attributes } = input;
  const bins = input.options?.bins ?? 10;
  checkBins(fn, bins);
  validateRows(fn, labels, scores);
  const n = labels.length;
  const byName = new Map<string, EncodedAttribute>();
  for (const a of attributes) {
    if (byName.has(a.name)) throw new Error(`${fn}: duplicate attribute name ${JSON.stringify(a.name)}`);
    byName.set(a.name, a);
    if (a.codes.length !== n) throw new RangeError(`${fn}: length mismatch: attribute ${JSON.stringify(a.name)} has ${a.codes.length} rows, labels has ${n}`);
    const nCodes = a.values.length;
    for (let i = 0; i < n; i++) {
      const c = a.codes[i]!;
      if (!(Number.isInteger(c) && c >= 0 && c < nCodes)) {
        throw new RangeError(`${fn}: attribute ${JSON.stringify(a.name)} has code ${c} at row ${i}, outside 0..${nCodes - 1}`);
      }
    }
  }
  const pairs = input.intersections ?? [];
  for (const [x, y] of pairs) {
    if (!byName.has(x) || !byName.has(y)) throw new Error(`${fn}: intersection [${JSON.stringify(x)}, ${JSON.stringify(y)}] names an unknown attribute`);
    if (x === y) throw new Error(`${fn}: intersection of ${JSON.stringify(x)} with itself`);
  }
  const boot: BootstrapOptions = { B: input.options?.B, seed: input.options?.seed, confidence: input.options?.confidence };
  const overall = { attribute: 'overall', value: 'all', ...summarizeCells(cellsByCode(labels, scores, null, 1)[0]!, bins, boot) };
  const bySlice = (a: EncodedAttribute, keepEmpty: boolean): CalibrationSliceSummary[] =>
    cellsByCode(labels, scores, a.codes, a.values.length).flatMap((cells, c) =>
      keepEmpty || cells.count.length > 0 ? [{ attribute: a.name, value: a.values[c]!, ...summarizeCells(cells, bins, boot) }] : [],
    );
  const slices = attributes.flatMap((a) => bySlice(a, true));
  const intersections = pairs.flatMap(([x, y]) => bySlice(intersect(byName.get(x)!, byName.get(y)!), false));
  return { bins, overall, slices, intersections };
}
