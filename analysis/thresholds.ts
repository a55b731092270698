/**
 * Operating-threshold analysis for a binary filter (spam, safety): precision-recall curves, the
 * constrained threshold choice (recall floor, overall and per-slice FPR ceilings, precision floor),
 * and the abstain band that defers borderline scores to a human. Error cost under a cost policy is
 * analysis/errorCost.ts, over the same plumbing (exported below).
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * Conventions shared with the rest of analysis/: labels are 0/1 (1 = the class the filter flags);
 * a row is predicted positive when score >= threshold. Candidate thresholds are the distinct score
 * values, exactly the thresholds of sklearn's precision_recall_curve, so every candidate flags at
 * least one row; "flag nothing" is not a candidate (it is not a filter).
 *
 * Every sweep is one descending argsort followed by one walk over the sorted rows that closes a
 * candidate at the end of each run of equal scores; the cumulative counts at that moment are the
 * confusion counts at that threshold. Nothing is re-evaluated per candidate.
 */
import { argsortDescending } from './numerics/sort';
import type { EncodedAttribute } from './confusion';

// ---------------------------------------------------------------------------------------------
// Shared plumbing: validation and the argsort
// ---------------------------------------------------------------------------------------------

export function checkRows(fn: string, labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  const n = labels.length;
  if (scores.length !== n) throw new RangeError(`${fn}: length mismatch: scores has ${scores.length} rows, labels has ${n}`);
  if (n === 0) throw new RangeError(`${fn}: no rows`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`${fn}: labels[${i}] must be 0 or 1, got ${y}`);
    // sklearn rejects non-finite scores too (assert_all_finite); an infinite threshold would also
    // not survive JSON on its way to a report.
    if (!Number.isFinite(scores[i]!)) throw new RangeError(`${fn}: scores[${i}] must be finite, got ${scores[i]}`);
  }
  return n;
}

export function checkAttributes(fn: string, attributes: EncodedAttribute[], n: number): void {
  const names = new Set<string>();
  for (const a of attributes) {
    if (names.has(a.name)) throw new RangeError(`${fn}: attribute "${a.name}" given twice`);
    names.add(a.name);
    if (a.codes.length !== n) throw new RangeError(`${fn}: attribute "${a.name}" has ${a.codes.length} rows, labels has ${n}`);
    const k = a.values.length;
    for (let i = 0; i < n; i++) {
      const c = a.codes[i]!;
      // Int32Array codes can be negative; every code indexes a per-code counter below.
      if (!(c >= 0 && c < k)) throw new RangeError(`${fn}: attribute "${a.name}" row ${i} has code ${c}, outside 0..${k - 1}`);
    }
  }
}

/** Flat per-code layout over several attributes: attribute a's code c lives at offsets[a] + c. */
export function flatOffsets(attributes: EncodedAttribute[]): { offsets: Int32Array; size: number } {
  const offsets = new Int32Array(attributes.length);
  let size = 0;
  attributes.forEach((a, j) => {
    offsets[j] = size;
    size += a.values.length;
  });
  return { offsets, size };
}

// One sort for every ranking computation: the radix argsort over the IEEE-754 bits (numerics/sort.ts). Ties
// come out in no particular order, which is fine here: every pass below closes a candidate only at
// the end of a run of equal scores, so the order inside a run never shows.
const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(4));

// ---------------------------------------------------------------------------------------------
// Precision-recall curves
// ---------------------------------------------------------------------------------------------

/**
 * sklearn.metrics.precision_recall_curve(y_true, y_score) with its defaults (scikit-learn 1.9:
 * drop_intermediate=False, no sample weights):
 * - `thresholds` are ALL distinct score values, increasing (length m);
 * - `precision[i]`, `recall[i]` are for "score >= thresholds[i]" (i < m), so recall is
 *   non-increasing; the extra last point is precision 1, recall 0 with no threshold, so
 *   precision and recall have length m + 1;
 * - with no positive label recall is 1 at every threshold (sklearn warns and does the same);
 * - precision is tp / (tp + fp), which is never 0/0 here because each threshold flags >= 1 row.
 */
export interface PrCurve {
  thresholds: Float64Array;
  precision: Float64Array;
  recall: Float64Array;
}

/** The curve of the rows listed in `order` (already in descending score order). */
function curveFromSorted(labels: ArrayLike<number>, scores: ArrayLike<number>, order: Uint32Array): PrCurve {
  const len = order.length;
  let positives = 0;
  for (let k = 0; k < len; k++) positives += labels[order[k]!]!;
  // Walk from the highest score down; one point closes at the end of each run of equal scores.
  const tps = new Float64Array(len);
  const fps = new Float64Array(len);
  const thr = new Float64Array(len);
  let tp = 0;
  let fp = 0;
  let m = 0;
  for (let k = 0; k < len; k++) {
    const i = order[k]!;
    if (labels[i] === 1) tp++;
    else fp++;
    const s = scores[i]!;
    if (k === len - 1 || scores[order[k + 1]!] !== s) {
      tps[m] = tp;
      fps[m] = fp;
      thr[m] = s + 0;
      m++;
    }
  }
  // Reverse into sklearn's increasing-threshold order and append the (precision 1, recall 0) end.
  const thresholds = new Float64Array(m);
  const precision = new Float64Array(m + 1);
  const recall = new Float64Array(m + 1);
  for (let j = 0; j < m; j++) {
    const src = m - 1 - j;
    const t = tps[src]!;
    thresholds[j] = thr[src]!;
    precision[j] = t / (t + fps[src]!);
    recall[j] = positives === 0 ? 1 : t / positives;
  }
  precision[m] = 1;
  recall[m] = 0;
  return { thresholds, precision, recall };
}

/** Exactly sklearn.metrics.precision_recall_curve (see PrCurve). Labels 0/1, finite scores. */
export function precisionRecallCurve(labels: ArrayLike<number>, scores: ArrayLike<number>): PrCurve {
  checkRows('precisionRecallCurve', labels, scores);
  return curveFromSorted(labels, scores, argsortDescending(scores));
}

/**
 * Keeps at most `maxPoints` thresholded points, evenly spaced by index, always including the
 * lowest and the highest threshold; the closing (1, 0) point is kept as well, so the result still
 * has precision.length === thresholds.length + 1.
 */
function downsampleCurve(curve: PrCurve, maxPoints: number): PrCurve {
  const m = curve.thresholds.length;
  if (m <= maxPoints) return curve;
  const thresholds = new Float64Array(maxPoints);
  const precision = new Float64Array(maxPoints + 1);
  const recall = new Float64Array(maxPoints + 1);
  const span = maxPoints - 1;
  for (let k = 0; k < maxPoints; k++) {
    // round(k * (m - 1) / span) in integer arithmetic; strictly increasing since (m - 1) / span > 1.
    const j = Math.floor((2 * k * (m - 1) + span) / (2 * span));
    thresholds[k] = curve.thresholds[j]!;
    precision[k] = curve.precision[j]!;
    recall[k] = curve.recall[j]!;
  }
  precision[maxPoints] = curve.precision[m]!;
  recall[maxPoints] = curve.recall[m]!;
  return { thresholds, precision, recall };
}

/**
 * One sklearn precision-recall curve per value of `attribute`, computed on that value's rows; in
 * code order (the attribute's `values` order), values without rows omitted. One argsort for all
 * slices: a stable counting sort by code splits the globally sorted order into per-value runs
 * that are themselves in descending score order.
 * `maxPoints` (integer >= 2) downsamples each curve for reports, keeping both endpoints.
 */
export function prCurvesBySlice(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  attribute: EncodedAttribute,
  maxPoints?: number,
): { value: string; curve: PrCurve }[] {
  const n = checkRows('prCurvesBySlice', labels, scores);
  checkAttributes('prCurvesBySlice', [attribute], n);
  if (maxPoints !== undefined && !(Number.isInteger(maxPoints) && maxPoints >= 2)) {
    throw new RangeError(`prCurvesBySlice: maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
  const order = argsortDescending(scores);
  const k = attribute.values.length;
  const start = new Uint32Array(k + 1);
  for (let i = 0; i < n; i++) start[attribute.codes[i]! + 1]!++;
  for (let c = 0; c < k; c++) start[c + 1]! += start[c]!;
  const next = start.slice(0, k);
  const byCode = new Uint32Array(n);
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    byCode[next[attribute.codes[i]!]!++] = i;
  }
  const out: { value: string; curve: PrCurve }[] = [];
  for (let c = 0; c < k; c++) {
    if (start[c + 1] === start[c]) continue;
    const curve = curveFromSorted(labels, scores, byCode.subarray(start[c]!, start[c + 1]!));
    out.push({ value: attribute.values[c]!, curve: maxPoints === undefined ? curve : downsampleCurve(curve, maxPoints) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Constrained threshold choice
// ---------------------------------------------------------------------------------------------

export interface ThresholdConstraints {
  /** recall >= minRecall overall */
  minRecall?: number;
  /** FPR <= maxFpr overall */
  maxFpr?: number;
  /** FPR <= maxSliceFpr on every slice value of the given attributes with >= minSliceNegatives negatives */
  maxSliceFpr?: number;
  /** Slices with fewer negatives are not constrained (and are listed in `skippedSlices`). Default 1. */
  minSliceNegatives?: number;
  /** precision >= minPrecision overall */
  minPrecision?: number;
}

export interface ThresholdPoint {
  threshold: number;
  /** tp / positives; 1 when there are no positives (sklearn's convention) */
  recall: number;
  /** tp / (tp + fp); null if nothing is flagged (cannot happen for a candidate threshold) */
  precision: number | null;
  /** fp / negatives; 0 when there are no negatives */
  fpr: number;
  /** Highest FPR among the slices with >= minSliceNegatives negatives (ties: first attribute,
   *  then first value in code order); null when no slice qualifies. */
  worstSliceFpr: { attribute: string; value: string; fpr: number } | null;
}

export interface ThresholdChoice {
  status: 'met' | 'none';
  /** When met: among feasible thresholds, the highest recall; ties, the lowest FPR. */
  chosen: ThresholdPoint | null;
  /**
   * When none: the threshold with the smallest total violation (ties: highest recall, then lowest
   * FPR). Total violation = sum over violated constraints of the relative shortfall:
   * (bound - value) / bound for minRecall and minPrecision, (value - bound) / bound for maxFpr and
   * maxSliceFpr (worst qualifying slice); a zero ceiling has nothing to be relative to, so its
   * excess counts absolutely (denominator 1). Each violation string starts with the constraint's
   * name, e.g. "minRecall: recall 0.9120 (912/1000) is below 0.95".
   */
  closest: (ThresholdPoint & { violations: string[]; totalViolation: number }) | null;
  /** Number of distinct score values evaluated. */
  candidatesScanned: number;
  /** Slice values with rows but fewer than minSliceNegatives negatives: their FPR was not constrained. */
  skippedSlices: { attribute: string; value: string; negatives: number }[];
}

const CONSTRAINT_KEYS = ['minRecall', 'maxFpr', 'maxSliceFpr', 'minPrecision'] as const;

/**
 * Picks the operating threshold for a filter under the constraints: one argsort, then one walk
 * over the rows in descending score order carrying cumulative tp, fp and per-slice fp counts.
 *
 * The worst slice FPR is maintained incrementally: lowering the threshold only ever adds false
 * positives, so slice FPRs only grow, and after one slice's FPR grows the new maximum is either
 * the old one or that slice. Each row therefore costs O(#attributes) and each candidate O(1).
 */
export function chooseThreshold(input: {
  labels: Uint8Array;
  scores: Float64Array | Float32Array;
  attributes?: EncodedAttribute[];
  constraints: ThresholdConstraints;
}): ThresholdChoice {
  const { labels, scores, constraints } = input;
  const attributes = input.attributes ?? [];
  const n = checkRows('chooseThreshold', labels, scores);
  checkAttributes('chooseThreshold', attributes, n);
  for (const key of CONSTRAINT_KEYS) {
    const v = constraints[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`chooseThreshold: ${key} must be in [0, 1], got ${v}`);
  }
  const minSliceNegatives = constraints.minSliceNegatives ?? 1;
  if (!(Number.isInteger(minSliceNegatives) && minSliceNegatives >= 1)) {
    throw new RangeError(`chooseThreshold: minSliceNegatives must be an integer >= 1, got ${minSliceNegatives}`);
  }
  const { minRecall, maxFpr, maxSliceFpr, minPrecision } = constraints;
  if (maxSliceFpr !== undefined && attributes.length === 0) {
    // Otherwise a per-slice ceiling would pass without a single slice being looked at.
    throw new RangeError('chooseThreshold: maxSliceFpr needs at least one attribute');
  }

  // Totals and per-slice negatives, to know each slice's FPR denominator before the sweep.
  const { offsets, size } = flatOffsets(attributes);
  const codes = attributes.map((a) => a.codes);
  const nAttr = attributes.length;
  const sliceRows = new Float64Array(size);
  const sliceNeg = new Float64Array(size);
  let positives = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    positives += y;
    for (let a = 0; a < nAttr; a++) {
      const k = offsets[a]! + codes[a]![i]!;
      sliceRows[k]!++;
      if (y === 0) sliceNeg[k]!++;
    }
  }
  const negatives = n - positives;
  const eligible = new Uint8Array(size);
  let firstEligible = -1;
  const skippedSlices: ThresholdChoice['skippedSlices'] = [];
  const sliceName: { attribute: string; value: string }[] = [];
  attributes.forEach((attr, a) => {
    attr.values.forEach((value, c) => {
      const k = offsets[a]! + c;
      sliceName[k] = { attribute: attr.name, value };
      if (sliceNeg[k]! >= minSliceNegatives) {
        eligible[k] = 1;
        if (firstEligible < 0) firstEligible = k;
      } else if (sliceRows[k]! > 0) {
        skippedSlices.push({ attribute: attr.name, value, negatives: sliceNeg[k]! });
      }
    });
  });

  // The relative shortfall of one candidate; the same arithmetic, in the same order, as the
  // Python reference (test/fixtures/generate_threshold_oracles.py), so ties resolve identically.
  const violationOf = (recall: number, precision: number, fpr: number, worst: number): number => {
    let total = 0;
    if (minRecall !== undefined && recall < minRecall) total += (minRecall - recall) / minRecall;
    if (maxFpr !== undefined && fpr > maxFpr) total += (fpr - maxFpr) / (maxFpr > 0 ? maxFpr : 1);
    if (maxSliceFpr !== undefined && worst > maxSliceFpr) total += (worst - maxSliceFpr) / (maxSliceFpr > 0 ? maxSliceFpr : 1);
    if (minPrecision !== undefined && precision < minPrecision) total += (minPrecision - precision) / minPrecision;
    return total;
  };

  const order = argsortDescending(scores);
  const sliceFp = new Float64Array(size);
  let worstK = firstEligible; // every eligible slice starts at FPR 0: the first one is the worst
  let worstFpr = firstEligible < 0 ? -1 : 0;
  let tp = 0;
  let fp = 0;
  let candidates = 0;
  // Best feasible (highest tp, then lowest fp) and closest infeasible (lowest violation, then the same).
  let bestTp = -1, bestFp = 0, bestThr = 0, bestWorstK = -1, bestWorstFpr = -1;
  let closeViol = Infinity, closeTp = -1, closeFp = 0, closeThr = 0, closeWorstK = -1, closeWorstFpr = -1;

  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    if (labels[i] === 1) {
      tp++;
    } else {
      fp++;
      for (let a = 0; a < nAttr; a++) {
        const k = offsets[a]! + codes[a]![i]!;
        const f = ++sliceFp[k]!;
        if (eligible[k] === 1) {
          const rate = f / sliceNeg[k]!;
          if (rate > worstFpr || (rate === worstFpr && k < worstK)) {
            worstFpr = rate;
            worstK = k;
          }
        }
      }
    }
    const s = scores[i]!;
    if (r !== n - 1 && scores[order[r + 1]!] === s) continue;

    // End of a run of equal scores: the counts are those of the threshold s.
    candidates++;
    // Recall is monotone in tp (and constant when there are no positives), FPR in fp, so the
    // tie rules compare the integer counts directly.
    const recall = positives > 0 ? tp / positives : 1;
    const precision = tp / (tp + fp);
    const fpr = negatives > 0 ? fp / negatives : 0;
    const feasible =
      (minRecall === undefined || recall >= minRecall) &&
      (maxFpr === undefined || fpr <= maxFpr) &&
      (maxSliceFpr === undefined || worstFpr <= maxSliceFpr) &&
      (minPrecision === undefined || precision >= minPrecision);
    if (feasible) {
      if (tp > bestTp || (tp === bestTp && fp < bestFp)) {
        bestTp = tp;
        bestFp = fp;
        bestThr = s + 0;
        bestWorstK = worstK;
        bestWorstFpr = worstFpr;
      }
    } else if (bestTp < 0) {
      // Only needed while nothing is feasible; once something is, `closest` is not reported.
      const v = violationOf(recall, precision, fpr, worstFpr);
      if (v < closeViol || (v === closeViol && (tp > closeTp || (tp === closeTp && fp < closeFp)))) {
        closeViol = v;
        closeTp = tp;
        closeFp = fp;
        closeThr = s + 0;
        closeWorstK = worstK;
        closeWorstFpr = worstFpr;
      }
    }
  }

  const point = (threshold: number, t: number, f: number, wk: number, wf: number): ThresholdPoint => ({
    threshold,
    recall: positives > 0 ? t / positives : 1,
    precision: t + f > 0 ? t / (t + f) : null,
    fpr: negatives > 0 ? f / negatives : 0,
    worstSliceFpr: wk < 0 ? null : { ...sliceName[wk]!, fpr: wf },
  });

  if (bestTp >= 0) {
    return {
      status: 'met',
      chosen: point(bestThr, bestTp, bestFp, bestWorstK, bestWorstFpr),
      closest: null,
      candidatesScanned: candidates,
      skippedSlices,
    };
  }

  const p = point(closeThr, closeTp, closeFp, closeWorstK, closeWorstFpr);
  const violations: string[] = [];
  if (minRecall !== undefined && p.recall < minRecall) {
    violations.push(`minRecall: recall ${fmt(p.recall)} (${closeTp}/${positives}) is below ${minRecall}`);
  }
  if (maxFpr !== undefined && p.fpr > maxFpr) {
    violations.push(`maxFpr: FPR ${fmt(p.fpr)} (${closeFp}/${negatives}) exceeds ${maxFpr}`);
  }
  if (maxSliceFpr !== undefined && p.worstSliceFpr !== null && p.worstSliceFpr.fpr > maxSliceFpr) {
    const w = p.worstSliceFpr;
    violations.push(
      `maxSliceFpr: FPR ${fmt(w.fpr)} on ${w.attribute}=${w.value} (${sliceNeg[closeWorstK]!} negatives) exceeds ${maxSliceFpr}`,
    );
  }
  if (minPrecision !== undefined && p.precision !== null && p.precision < minPrecision) {
    violations.push(`minPrecision: precision ${fmt(p.precision)} (${closeTp}/${closeTp + closeFp}) is below ${minPrecision}`);
  }
  return {
    status: 'none',
    chosen: null,
    closest: { ...p, violations, totalViolation: closeViol },
    candidatesScanned: candidates,
    skippedSlices,
  };
}

// ---------------------------------------------------------------------------------------------
// Abstain band
// ---------------------------------------------------------------------------------------------

export interface AbstainBand {
  lower: number;
  upper: number;
  /** share of rows decided automatically */
  coverage: number;
  /** number of rows deferred to a human */
  deferred: number;
  /** error rate of the automatic decisions; null when everything is deferred */
  errorRateOutside: number | null;
  /** error rate at the threshold with nothing deferred */
  errorRateAll: number;
}

/** Rows with score in [threshold - halfWidth, threshold + halfWidth) are deferred to a human. */
export function abstainBand(input: {
  labels: ArrayLike<number>;
  scores: ArrayLike<number>;
  threshold: number;
  halfWidth: number;
}): AbstainBand {
  const { labels, scores, threshold, halfWidth } = input;
  const n = checkRows('abstainBand', labels, scores);
  if (!Number.isFinite(threshold)) throw new RangeError(`abstainBand: threshold must be finite, got ${threshold}`);
  if (!(Number.isFinite(halfWidth) && halfWidth >= 0)) throw new RangeError(`abstainBand: halfWidth must be finite and >= 0, got ${halfWidth}`);
  const lower = threshold - halfWidth;
  const upper = threshold + halfWidth;
  let deferred = 0;
  let errorsAll = 0;
  let errorsOutside = 0;
  for (let i = 0; i < n; i++) {
    const s = scores[i]!;
    const wrong = (s >= threshold ? 1 : 0) !== labels[i] ? 1 : 0;
    errorsAll += wrong;
    if (s >= lower && s < upper) deferred++;
    else errorsOutside += wrong;
  }
  const decided = n - deferred;
  return {
    lower,
    upper,
    coverage: decided / n,
    deferred,
    errorRateOutside: decided > 0 ? errorsOutside / decided : null,
    errorRateAll: errorsAll / n,
  };
}
