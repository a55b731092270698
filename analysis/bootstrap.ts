/**
 * Seeded percentile bootstrap over confusion counts (and over (score, label) counts for AUC).
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no Math.random (randomness comes
 * from the seeded generator in ./random), so it is safe to import from Temporal workflow code and
 * the same inputs + seed give the same interval everywhere.
 *
 * ## Why resampling counts is exact (not an approximation of the row bootstrap)
 *
 * Take one stratum s with n_s rows. Every row falls in exactly one cell j of a fixed list of K
 * cells (tp, fp, tn, fn; or 16 joint cells for a paired two-model comparison; or (distinct score,
 * label) for AUC), c_{s,j} rows in cell j. The stratified nonparametric bootstrap draws n_s row
 * indices I_1 .. I_{n_s} independently and uniformly from the stratum's rows, i.e. n_s iid draws
 * from the stratum's empirical distribution. For one draw, P(row I_i is in cell j) = c_{s,j} / n_s,
 * and the draws are independent. The resampled count C*_{s,j} = #{i : row I_i is in cell j} is
 * therefore a sum of n_s iid categorical variables, which is by definition
 *
 *     (C*_{s,1}, ..., C*_{s,K}) ~ Multinomial(n_s; c_{s,1}/n_s, ..., c_{s,K}/n_s),
 *
 * independently across strata (each stratum is resampled on its own). Now let T be any statistic
 * that depends on the resampled rows only through the cell counts, T = g(C*). Its bootstrap
 * distribution is the law of g(C*), which is determined by the law of C* alone, and we just showed
 * that law is the product of those multinomials. So drawing the counts directly from the
 * multinomials gives T exactly the same bootstrap distribution as drawing rows: the same replicate
 * distribution, the same percentile interval in distribution, the same Monte Carlo error for a
 * given B. (Not the same numbers for the same seed: only equal in distribution.) Every statistic of
 * a confusion matrix qualifies (accuracy, TPR, FPR, precision, selection rate, and differences,
 * ratios, max/min of them across groups: the fairness disparities), because it never looks at
 * which rows landed in a cell, only at how many. AUC qualifies once the cells are the distinct
 * (score, label) pairs, since the Mann-Whitney form of AUC only counts pairs by score order.
 *
 * The payoff is cost: a replicate costs K - 1 binomial draws per stratum (each O(1) expected with
 * BTRD, see ./random) instead of n_s uniform draws and a recount, so B = 1000 over a million rows
 * in 20 strata is ~60k binomial draws instead of 1e9 row draws.
 *
 * Counts must be integers: with inclusion weights the resampled weighted cell sums are not
 * multinomial (they depend on which weights were drawn), so weighted data is rejected.
 *
 * ## Paired comparisons (candidate vs champion on the same rows)
 *
 * Bootstrapping the two models' 4-cell counts independently would treat their errors as
 * independent, but they are measured on the same rows and strongly correlated; the interval of a
 * difference would come out too wide (or, with negative correlation, too narrow). The fix is to
 * resample rows once and read both models off each resampled row. With counts that means the
 * cells must record the joint outcome per row: cell 4 * cellA + cellB, 16 cells per stratum
 * (jointCells builds them). A statistic over that layout projects each resample onto model A's and
 * model B's ordinary 4-cell counts (projectJointA / projectJointB) and returns, e.g., accuracy(A)
 * minus accuracy(B). Since both models share the label, only 8 of the 16 cells can be non-zero
 * (tp/fn x tp/fn for positives, fp/tn x fp/tn for negatives); empty cells cost nothing.
 */
import { CELL } from './confusion';
import { quantileSorted } from './numerics/descriptive';
import { searchSorted } from './numerics/sort';
import { Rng, multinomialRange } from './random';

export interface BootstrapInterval {
  /** The statistic on the original (not resampled) counts; null when undefined there. */
  estimate: number | null;
  /** Percentile bounds over the replicates with a defined statistic; null when there are none. */
  lower: number | null;
  upper: number | null;
  /**
   * Replicates actually used (B minus undefinedReplicates). A replicate whose statistic is
   * undefined (null or NaN: e.g. no positives were drawn, so a TPR is 0/0) is dropped rather than
   * imputed; undefinedReplicates says how many, so callers can flag intervals resting on fewer
   * replicates than asked for. (Fairlearn's MetricFrame instead lets one NaN replicate turn the
   * whole difference/ratio interval into NaN, since it calls np.quantile, not np.nanquantile.)
   */
  replicates: number;
  undefinedReplicates: number;
}

export interface BootstrapOptions {
  /** Number of bootstrap replicates; default 1000. */
  B?: number;
  /** Seed for ./random's Rng; default 1. */
  seed?: number;
  /** Two-sided level of the percentile interval; default 0.95 (quantiles 0.025 and 0.975). */
  confidence?: number;
}

interface ResolvedOptions {
  B: number;
  seed: number;
  confidence: number;
}

function resolveOptions(opts: BootstrapOptions | undefined, where: string): ResolvedOptions {
  const B = opts?.B ?? 1000;
  const seed = opts?.seed ?? 1;
  const confidence = opts?.confidence ?? 0.95;
  if (!(Number.isInteger(B) && B >= 1)) throw new RangeError(`${where}: B must be a positive integer, got ${B}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${where}: seed must be a safe integer, got ${seed}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`${where}: confidence must be in (0, 1), got ${confidence}`);
  return { B, seed, confidence };
}

/**
 * Sorts samples[0 .. count) in place and returns the percentile interval bounds at
 * (1 - confidence) / 2 and 1 - (1 - confidence) / 2.
 */
function percentileBounds(samples: Float64Array, count: number, confidence: number): { lower: number | null; upper: number | null } {
  if (count === 0) return { lower: null, upper: null };
  const used = samples.subarray(0, count);
  used.sort();
  const alpha = (1 - confidence) / 2;
  return { lower: quantileSorted(used, count, alpha), upper: quantileSorted(used, count, 1 - alpha) };
}

const isDefined = (x: number | null): x is number => x !== null && !Number.isNaN(x);

function checkCounts(cells: ArrayLike<number>, where: string): void {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    if (!(Number.isInteger(c) && c >= 0)) {
      throw new RangeError(
        `${where}: cells must be non-negative integer counts (got ${c} at ${i}); weighted counts cannot be resampled multinomially`,
      );
    }
  }
}

/**
 * Runs several statistics over the same bootstrap replicates (one resampling pass, so the
 * intervals are mutually consistent and the draws are paid for once).
 *
 * @param cells counts laid out as nStrata consecutive blocks of K = cells.length / nStrata cells
 *   (K = 4 for confusionByCode output, 16 for jointCells output, anything else for custom layouts).
 * @param statistics fills out[0 .. nStatistics) from a cell array of the same layout; out is
 *   pre-filled with NaN, and NaN (left or written) marks a statistic undefined for that
 *   replicate. The array passed in is reused between replicates: read it, don't keep it.
 */
export function bootstrapCellsMulti(
  cells: Float64Array,
  nStrata: number,
  nStatistics: number,
  statistics: (resampled: Float64Array, out: Float64Array) => void,
  opts?: BootstrapOptions,
): BootstrapInterval[] {
  const { B, seed, confidence } = resolveOptions(opts, 'bootstrapCells');
  if (!(Number.isInteger(nStrata) && nStrata >= 1)) throw new RangeError(`bootstrapCells: nStrata must be a positive integer, got ${nStrata}`);
  if (cells.length === 0 || cells.length % nStrata !== 0) {
    throw new RangeError(`bootstrapCells: cells.length ${cells.length} is not a positive multiple of nStrata ${nStrata}`);
  }
  if (!(Number.isInteger(nStatistics) && nStatistics >= 1)) throw new RangeError(`bootstrapCells: nStatistics must be >= 1, got ${nStatistics}`);
  checkCounts(cells, 'bootstrapCells');
  const K = cells.length / nStrata;

  const out = new Float64Array(nStatistics);
  // Point estimates on the original counts (a copy, so a careless statistic cannot alter the input).
  out.fill(Number.NaN);
  statistics(Float64Array.from(cells), out);
  const estimates = Array.from(out, (x) => (Number.isNaN(x) ? null : x));

  const totals = new Float64Array(nStrata);
  for (let s = 0; s < nStrata; s++) {
    let t = 0;
    for (let j = 0; j < K; j++) t += cells[s * K + j]!;
    totals[s] = t;
  }

  const rng = new Rng(seed);
  const resampled = new Float64Array(cells.length);
  // One column of B replicate values per statistic; undefined ones are skipped, not stored.
  const samples = Array.from({ length: nStatistics }, () => new Float64Array(B));
  const defined = new Int32Array(nStatistics);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < nStrata; s++) {
      if (totals[s] === 0) {
        resampled.fill(0, s * K, s * K + K);
        continue;
      }
      multinomialRange(rng, totals[s]!, cells, s * K, K, resampled, s * K);
    }
    out.fill(Number.NaN);
    statistics(resampled, out);
    for (let k = 0; k < nStatistics; k++) {
      const v = out[k]!;
      if (!Number.isNaN(v)) samples[k]![defined[k]!++] = v;
    }
  }

  return samples.map((col, k) => {
    const count = defined[k]!;
    const { lower, upper } = percentileBounds(col, count, confidence);
    return { estimate: estimates[k]!, lower, upper, replicates: count, undefinedReplicates: B - count };
  });
}

/**
 * Stratified percentile bootstrap of one statistic of confusion counts.
 *
 * cells: confusionByCode output (tp, fp, tn, fn per stratum, integer counts), or any layout of
 * nStrata equal blocks (see bootstrapCellsMulti). A resample draws n_s rows with replacement inside
 * each stratum s; the resampled cell counts are exactly Multinomial(n_s, cells_s / n_s), so we draw
 * those instead of rows: O(strata) per replicate instead of O(rows). See the file comment for why
 * that is exact. With nStrata = 1 over a G-group layout (cells.length = 4G) it is the
 * unstratified row bootstrap (group sizes vary between replicates).
 *
 * statistic returns null (or NaN) when undefined on a resample; such replicates are dropped and
 * counted in undefinedReplicates. The array passed to it is reused between replicates.
 */
export function bootstrapCells(
  cells: Float64Array,
  nStrata: number,
  statistic: (resampled: Float64Array) => number | null,
  opts?: BootstrapOptions,
): BootstrapInterval {
  return bootstrapCellsMulti(
    cells,
    nStrata,
    1,
    (resampled, out) => {
      const v = statistic(resampled);
      out[0] = isDefined(v) ? v : Number.NaN;
    },
    opts,
  )[0]!;
}

/**
 * Mann-Whitney AUC from per-distinct-score counts in ascending score order:
 * P(score of a random positive > score of a random negative) + 1/2 P(tie). This is exactly
 * sklearn's roc_auc_score (the trapezoidal ROC area, which gives tied pairs 1/2). Null when there
 * are no positives or no negatives. The sums are of integers and halves, exact in doubles up to
 * ~2^52 pairs.
 */
export function aucFromCounts(pos: ArrayLike<number>, neg: ArrayLike<number>, length = pos.length): number | null {
  let negBelow = 0;
  let wins = 0;
  let P = 0;
  for (let d = 0; d < length; d++) {
    const p = pos[d]!;
    const q = neg[d]!;
    if (p !== 0) {
      wins += p * (negBelow + 0.5 * q);
      P += p;
    }
    negBelow += q;
  }
  return P === 0 || negBelow === 0 ? null : wins / (P * negBelow);
}

/**
 * Stratified percentile bootstrap of ROC AUC (pooled over strata: strata only constrain the
 * resampling, e.g. strata = group keeps group sizes fixed; strata = labels keeps the numbers of
 * positives and negatives fixed). AUC depends on the rows only through the counts of (distinct
 * score, label) cells, so each stratum's cells are resampled multinomially as in bootstrapCells;
 * exact in distribution. Cost per replicate is O(distinct (stratum, score, label) cells + distinct
 * scores): far below O(rows) for rounded or calibrated-bucket scores, about the same as a row
 * bootstrap when every score is distinct.
 *
 * labels must be 0/1, scores not NaN, strata codes in [0, nStrata) (null: one stratum).
 */
export function bootstrapAuc(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  strata: ArrayLike<number> | null,
  nStrata: number,
  opts?: BootstrapOptions,
): BootstrapInterval {
  const { B, seed, confidence } = resolveOptions(opts, 'bootstrapAuc');
  const n = labels.length;
  if (scores.length !== n) throw new RangeError(`bootstrapAuc: scores has ${scores.length} rows, labels has ${n}`);
  if (strata && strata.length !== n) throw new RangeError(`bootstrapAuc: strata has ${strata.length} rows, labels has ${n}`);
  const S = strata ? nStrata : 1;
  if (!(Number.isInteger(S) && S >= 1)) throw new RangeError(`bootstrapAuc: nStrata must be a positive integer, got ${nStrata}`);

  // Distinct scores, ascending.
  const sorted = Float64Array.from(scores);
  sorted.sort();
  if (n > 0 && Number.isNaN(sorted[n - 1]!)) throw new RangeError('bootstrapAuc: scores contain NaN');
  let D = 0;
  for (let i = 0; i < n; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[D++] = sorted[i]!;
  const distinct = sorted.subarray(0, D);

  // Per row: key = (stratum * D + scoreIndex) * 2 + label. Count keys densely when the key space
  // is small compared with the rows (the usual case: rounded scores, few strata), else by sorting.
  const keySpace = S * D * 2;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`bootstrapAuc: labels[${i}] must be 0 or 1, got ${y}`);
    const s = strata ? strata[i]! : 0;
    if (!(Number.isInteger(s) && s >= 0 && s < S)) throw new RangeError(`bootstrapAuc: strata[${i}] = ${s} is outside [0, ${S})`);
    keys[i] = (s * D + searchSorted(distinct, scores[i]!)) * 2 + y;
  }
  let cellKey: Float64Array;
  let cellCount: Float64Array;
  if (keySpace <= Math.max(4 * n, 1 << 16)) {
    const dense = new Float64Array(keySpace);
    for (let i = 0; i < n; i++) dense[keys[i]!]!++;
    let m = 0;
    for (let k = 0; k < keySpace; k++) if (dense[k] !== 0) m++;
    cellKey = new Float64Array(m);
    cellCount = new Float64Array(m);
    m = 0;
    for (let k = 0; k < keySpace; k++) {
      if (dense[k] !== 0) {
        cellKey[m] = k;
        cellCount[m++] = dense[k]!;
      }
    }
  } else {
    keys.sort();
    let m = 0;
    for (let i = 0; i < n; i++) if (i === 0 || keys[i] !== keys[i - 1]) m++;
    cellKey = new Float64Array(m);
    cellCount = new Float64Array(m);
    m = -1;
    for (let i = 0; i < n; i++) {
      if (i === 0 || keys[i] !== keys[i - 1]) cellKey[++m] = keys[i]!;
      cellCount[m]!++;
    }
  }
  // Cells are in key order, hence grouped by stratum; decode each cell's score index and label.
  const M = cellKey.length;
  const cellScore = new Int32Array(M);
  const cellLabel = new Uint8Array(M);
  const stratumStart = new Int32Array(S + 1);
  for (let j = 0; j < M; j++) {
    const k = cellKey[j]!;
    const label = k % 2;
    const sd = (k - label) / 2;
    const s = Math.floor(sd / D);
    cellScore[j] = sd - s * D;
    cellLabel[j] = label;
    stratumStart[s + 1]!++;
  }
  for (let s = 0; s < S; s++) stratumStart[s + 1]! += stratumStart[s]!;

  const pos = new Float64Array(D);
  const neg = new Float64Array(D);
  const scatter = (counts: Float64Array): void => {
    pos.fill(0);
    neg.fill(0);
    for (let j = 0; j < M; j++) {
      const c = counts[j]!;
      if (c === 0) continue;
      if (cellLabel[j] === 1) pos[cellScore[j]!]! += c;
      else neg[cellScore[j]!]! += c;
    }
  };

  scatter(cellCount);
  const estimate = aucFromCounts(pos, neg, D);

  const rng = new Rng(seed);
  const resampled = new Float64Array(M);
  const samples = new Float64Array(B);
  let count = 0;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const from = stratumStart[s]!;
      const len = stratumStart[s + 1]! - from;
      if (len === 0) continue;
      let total = 0;
      for (let j = from; j < from + len; j++) total += cellCount[j]!;
      multinomialRange(rng, total, cellCount, from, len, resampled, from);
    }
    scatter(resampled);
    const v = aucFromCounts(pos, neg, D);
    if (v !== null) samples[count++] = v;
  }
  const { lower, upper } = percentileBounds(samples, count, confidence);
  return { estimate, lower, upper, replicates: count, undefinedReplicates: B - count };
}

/** Cells per stratum in the joint (paired two-model) layout. */
export const JOINT_CELLS = 16;

/**
 * Joint confusion cells of two models scored on the same rows, for paired bootstrap comparisons:
 * 16 cells per code, cell index 16 * code + 4 * cellA + cellB, where cellA / cellB are the
 * CELL.tp/fp/tn/fn index of each model's outcome on that row (predict 1 when score >= threshold;
 * model B uses thresholdB, default the same threshold). Codes may be null (everything in code 0).
 * Feed the result to bootstrapCells(joint, nCodes, statistic) and project each resample with
 * projectJointA / projectJointB inside the statistic.
 */
export function jointCells(
  labels: ArrayLike<number>,
  scoresA: ArrayLike<number>,
  scoresB: ArrayLike<number>,
  threshold: number,
  codes: ArrayLike<number> | null,
  nCodes: number,
  thresholdB = threshold,
): Float64Array {
  const n = labels.length;
  if (scoresA.length !== n) throw new RangeError(`jointCells: scoresA has ${scoresA.length} rows, labels has ${n}`);
  if (scoresB.length !== n) throw new RangeError(`jointCells: scoresB has ${scoresB.length} rows, labels has ${n}`);
  if (codes && codes.length !== n) throw new RangeError(`jointCells: codes has ${codes.length} rows, labels has ${n}`);
  if (!(Number.isInteger(nCodes) && nCodes >= 1)) throw new RangeError(`jointCells: nCodes must be a positive integer, got ${nCodes}`);
  const out = new Float64Array(JOINT_CELLS * nCodes);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`jointCells: labels[${i}] must be 0 or 1, got ${y}`);
    const pa = scoresA[i]! >= threshold;
    const pb = scoresB[i]! >= thresholdB;
    const ca = y === 1 ? (pa ? CELL.tp : CELL.fn) : pa ? CELL.fp : CELL.tn;
    const cb = y === 1 ? (pb ? CELL.tp : CELL.fn) : pb ? CELL.fp : CELL.tn;
    const c = codes ? codes[i]! : 0;
    if (!(c >= 0 && c < nCodes)) throw new RangeError(`jointCells: codes[${i}] = ${c} is outside [0, ${nCodes})`);
    out[JOINT_CELLS * c + 4 * ca + cb]!++;
  }
  return out;
}

/** Model A's 4-cell counts per stratum from a 16-cell joint layout: out[4s + a] = sum_b joint[16s + 4a + b]. */
export function projectJointA(joint: ArrayLike<number>, nStrata: number, out = new Float64Array(4 * nStrata)): Float64Array {
  if (joint.length !== JOINT_CELLS * nStrata) throw new RangeError(`projectJointA: joint has ${joint.length} cells, expected ${JOINT_CELLS * nStrata}`);
  for (let s = 0; s < nStrata; s++) {
    for (let a = 0; a < 4; a++) {
      const base = JOINT_CELLS * s + 4 * a;
      out[4 * s + a] = joint[base]! + joint[base + 1]! + joint[base + 2]! + joint[base + 3]!;
    }
  }
  return out;
}

/** Model B's 4-cell counts per stratum from a 16-cell joint layout: out[4s + b] = sum_a joint[16s + 4a + b]. */
export function projectJointB(joint: ArrayLike<number>, nStrata: number, out = new Float64Array(4 * nStrata)): Float64Array {
  if (joint.length !== JOINT_CELLS * nStrata) throw new RangeError(`projectJointB: joint has ${joint.length} cells, expected ${JOINT_CELLS * nStrata}`);
  for (let s = 0; s < nStrata; s++) {
    for (let b = 0; b < 4; b++) {
      const base = JOINT_CELLS * s + b;
      out[4 * s + b] = joint[base]! + joint[base + 4]! + joint[base + 8]! + joint[base + 12]!;
    }
  }
  return out;
}
