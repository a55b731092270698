/**
 * Threshold metrics (with Wilson intervals) and ranking metrics (ROC AUC, average precision)
 * overall, per slice value and per intersection cell, from typed arrays.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * Cost model:
 * - threshold metrics: validation (one branch-free pass over labels and scores), then, while the
 *   attributes' joint code space is small (<= 4096 cells), one pass building a joint code per row
 *   and ONE confusionByCode pass; every attribute, intersection and the overall counts are sums
 *   over joint cells. Otherwise one confusionByCode pass per attribute and per intersection.
 * - ranking metrics (AUC, AP): one radix sort of the scores (numerics/sort.ts) whose payload carries the label and
 *   every attribute's code, then one sequential pass over the ranks per attribute and per
 *   intersection, walking tie groups with per-code accumulators. While the codes fit in the
 *   payload's 31 spare bits nothing is gathered at random after the sort.
 */
import { wilsonInterval, type Interval } from './numerics/intervals';
import { metricSetFromCounts, type ConfusionCounts, type MetricSet } from './metrics';
import { confusionByCode, intersect, type EncodedAttribute } from './confusion';
import { sortDescending, type SortResult } from './numerics/sort';

/** The four core rates of metrics.ts, plus the ones a fairness and long-tail review needs. */
export interface RateSet extends MetricSet {
  /** fn / (tp + fn); null interval when there are no actual positives */
  fnr: Interval;
  /** (tp + fp) / support */
  selectionRate: Interval;
  /**
   * 2tp / (2tp + fp + fn), i.e. scikit-learn's f1_score. Null only when tp + fp + fn = 0; note it
   * is 0 (not null) when precision is undefined but there are positives, as in scikit-learn.
   */
  f1: number | null;
  /** Majority-class rate max(positives, negatives) / support: the accuracy of a constant model. */
  baselineAccuracy: number | null;
}

/** Builds the rate set (point estimates with Wilson intervals) from integer confusion counts. */
export function rateSetFromCounts(c: ConfusionCounts, confidence = 0.95): RateSet {
  // metricSetFromCounts validates the counts (non-negative integers) and builds the four
  // intervals the two modules share, so their definitions cannot drift apart.
  const base = metricSetFromCounts(c, confidence);
  const { tp, fp, fn } = base.counts;
  const f1Denominator = 2 * tp + fp + fn;
  return {
    ...base,
    fnr: wilsonInterval(fn, base.positives, confidence),
    selectionRate: wilsonInterval(tp + fp, base.support, confidence),
    f1: f1Denominator === 0 ? null : (2 * tp) / f1Denominator,
    baselineAccuracy: base.support === 0 ? null : Math.max(base.positives, base.negatives) / base.support,
  };
}

/** One rate set per code from the cell layout of `confusionByCode` (tp, fp, tn, fn per code). */
export function rateSetsFromCellArray(cells: Float64Array, nCodes: number, confidence = 0.95): RateSet[] {
  if (!Number.isInteger(nCodes) || nCodes < 0) throw new RangeError(`rateSetsFromCellArray: nCodes must be a non-negative integer, got ${nCodes}`);
  if (cells.length !== 4 * nCodes) {
    throw new RangeError(`rateSetsFromCellArray: cells has ${cells.length} entries, expected 4 * nCodes = ${4 * nCodes}`);
  }
  const out: RateSet[] = new Array(nCodes);
  for (let c = 0; c < nCodes; c++) {
    const k = 4 * c;
    out[c] = rateSetFromCounts({ tp: cells[k]!, fp: cells[k + 1]!, tn: cells[k + 2]!, fn: cells[k + 3]! }, confidence);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Ranking: AUC and AP

export interface ScoreMetrics {
  /** ROC AUC with ties counted half (scikit-learn's roc_auc_score); null when a class is absent. */
  auc: number | null;
  /** Step-function average precision (scikit-learn's average_precision_score); null when a class is absent. */
  averagePrecision: number | null;
}

const LAST_OF_TIE = 2;

/**
 * Per rank (descending score), one byte: bit 0 the label, bit 1 set when the next rank has a
 * different score (the end of a tie group). `labelShift` says where the payload holds the label.
 */
function tieInfo(sorted: SortResult, labelShift: number): Uint8Array {
  const { payload, hi, lo } = sorted;
  const n = payload.length;
  const info = new Uint8Array(n);
  for (let r = 0; r + 1 < n; r++) {
    const last = hi[r] !== hi[r + 1] || lo[r] !== lo[r + 1] ? LAST_OF_TIE : 0;
    info[r] = ((payload[r]! >>> labelShift) & 1) | last;
  }
  if (n > 0) info[n - 1] = ((payload[n - 1]! >>> labelShift) & 1) | LAST_OF_TIE;
  return info;
}

/** Bits needed for codes 0 .. nCodes - 1. */
const bitsFor = (nCodes: number): number => (nCodes <= 1 ? 0 : 32 - Math.clz32(nCodes - 1));

/**
 * One pass over the ranks, tie group by tie group, with per-code accumulators:
 *   tp, fp      positives / negatives ranked so far (code c's own ROC / PR curve position)
 *   auc2        sum over negatives of (2 * positives ranked strictly above + positives tied with it),
 *               i.e. twice the Mann-Whitney U with ties counted half. Integer-valued and at most
 *               2PN <= n^2 / 2, so it is exact in a double below ~1.3e8 rows; AUC is then one
 *               rounding from the true value (scikit-learn's trapezoid sum is a few ulps off it).
 *   apSum       sum over positives of the precision at the end of its tie group: scikit-learn's
 *               step-function AP is sum_k (R_k - R_{k-1}) P_k over distinct thresholds, and R_k - R_{k-1}
 *               is (positives in group k) / P.
 * A tie group's rows are pooled (pending deltas per code) and applied when the group ends, which
 * is what "ties grouped as scikit-learn does" means: one threshold per distinct score. Singleton
 * groups, the common case for continuous scores, skip the pooling and run branch-free on the
 * label (a branch on a random label mispredicts about as often as the minority class occurs).
 * `rankCodes` holds each rank's code (null: everything is code 0). Returns nCodes + 1 entries:
 * per code, then overall.
 */
function scoreMetricsCore(info: Uint8Array, rankCodes: Uint32Array | null, nCodes: number): ScoreMetrics[] {
  const n = info.length;
  const tp = new Float64Array(nCodes);
  const fp = new Float64Array(nCodes);
  const auc2 = new Float64Array(nCodes);
  const apSum = new Float64Array(nCodes);
  const dtp = new Float64Array(nCodes);
  const dfp = new Float64Array(nCodes);
  const touched = new Int32Array(nCodes);
  let nTouched = 0;
  let oTp = 0;
  let oFp = 0;
  let oAuc2 = 0;
  let oAp = 0;
  let oDtp = 0;
  let oDfp = 0;
  let inGroup = false;
  for (let r = 0; r < n; r++) {
    const b = info[r]!;
    const c = rankCodes === null ? 0 : rankCodes[r]!;
    const y = b & 1;
    const notY = 1 - y;
    if (!inGroup && (b & LAST_OF_TIE) !== 0) {
      const t0 = tp[c]!;
      const t = t0 + y;
      const f = fp[c]! + notY;
      auc2[c]! += notY * 2 * t0;
      apSum[c]! += (y * t) / (t + f);
      tp[c] = t;
      fp[c] = f;
      oAuc2 += notY * 2 * oTp;
      oTp += y;
      oFp += notY;
      oAp += (y * oTp) / (oTp + oFp);
      continue;
    }
    if (dtp[c] === 0 && dfp[c] === 0) touched[nTouched++] = c;
    dtp[c]! += y;
    dfp[c]! += notY;
    oDtp += y;
    oDfp += notY;
    if ((b & LAST_OF_TIE) === 0) {
      inGroup = true;
      continue;
    }
    for (let k = 0; k < nTouched; k++) {
      const t = touched[k]!;
      const gp = dtp[t]!;
      const gn = dfp[t]!;
      auc2[t]! += gn * (2 * tp[t]! + gp);
      const tpNow = (tp[t]! += gp);
      const fpNow = (fp[t]! += gn);
      if (gp > 0) apSum[t]! += (gp * tpNow) / (tpNow + fpNow);
      dtp[t] = 0;
      dfp[t] = 0;
    }
    nTouched = 0;
    oAuc2 += oDfp * (2 * oTp + oDtp);
    oTp += oDtp;
    oFp += oDfp;
    if (oDtp > 0) oAp += (oDtp * oTp) / (oTp + oFp);
    oDtp = 0;
    oDfp = 0;
    inGroup = false;
  }
  const out: ScoreMetrics[] = new Array(nCodes + 1);
  for (let c = 0; c < nCodes; c++) out[c] = finishScoreMetrics(tp[c]!, fp[c]!, auc2[c]!, apSum[c]!);
  out[nCodes] = finishScoreMetrics(oTp, oFp, oAuc2, oAp);
  return out;
}

function finishScoreMetrics(positives: number, negatives: number, auc2: number, apSum: number): ScoreMetrics {
  if (positives === 0 || negatives === 0) return { auc: null, averagePrecision: null };
  return { auc: auc2 / (2 * positives * negatives), averagePrecision: apSum / positives };
}

/**
 * Tie info and rank codes from a caller's precomputed order: gathers labels, scores and codes
 * (random access, unavoidable without a fresh sort) and checks the order is a descending permutation.
 */
function rankFromOrder(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  codes: ArrayLike<number> | null,
  order: Uint32Array,
): { info: Uint8Array; rankCodes: Uint32Array | null } {
  const n = labels.length;
  if (order.length !== n) throw new RangeError(`scoreMetricsByCode: order has ${order.length} entries, labels has ${n}`);
  const info = new Uint8Array(n);
  const rankCodes = codes === null ? null : new Uint32Array(n);
  const seen = new Uint8Array(n);
  let prev = Infinity;
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    if (i >= n || seen[i] === 1) throw new RangeError(`scoreMetricsByCode: order is not a permutation of 0..${n - 1} (rank ${r} holds ${i})`);
    seen[i] = 1;
    const s = scores[i]!;
    if (s > prev) throw new RangeError(`scoreMetricsByCode: order is not descending by score at rank ${r}`);
    // A tie group's end is known one rank late: rank r - 1 ends its group when this score differs.
    if (r > 0 && s !== prev) info[r - 1]! |= LAST_OF_TIE;
    info[r] = labels[i]!;
    if (rankCodes !== null) rankCodes[r] = codes![i]!;
    prev = s;
  }
  if (n > 0) info[n - 1]! |= LAST_OF_TIE;
  return { info, rankCodes };
}

/** Labels 0/1 and scores finite (or, with `probabilities`, in [0, 1]), row for row; the first bad row named. */
export function validateLabelsScores(fn: string, labels: ArrayLike<number>, scores: ArrayLike<number>, opts: { probabilities?: boolean } = {}): void {
  const n = labels.length;
  if (scores.length !== n) throw new RangeError(`${fn}: length mismatch: scores has ${scores.length} rows, labels has ${n}`);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new RangeError(`${fn}: labels[${i}] must be 0 or 1, got ${y}`);
    const s = scores[i]!;
    if (opts.probabilities) {
      // NaN fails both comparisons.
      if (!(s >= 0 && s <= 1)) throw new RangeError(`${fn}: scores[${i}] must be a probability in [0, 1], got ${s}`);
    } else if (s - s !== 0) {
      // s - s is 0 for finite s and NaN for NaN and +-Infinity.
      throw new RangeError(`${fn}: scores[${i}] must be finite, got ${s}`);
    }
  }
}

function validateCodes(fn: string, what: string, codes: ArrayLike<number>, nCodes: number, n: number): void {
  if (codes.length !== n) throw new RangeError(`${fn}: length mismatch: ${what} has ${codes.length} rows, labels has ${n}`);
  for (let i = 0; i < n; i++) {
    const c = codes[i]!;
    if (!(c >= 0 && c < nCodes && c === Math.floor(c))) throw new RangeError(`${fn}: ${what}[${i}] = ${c} is not a code in 0..${nCodes - 1}`);
  }
}

/**
 * AUC and AP for every code of an attribute (and overall) from ONE argsort of the scores and one
 * pass over tie groups with per-code accumulators. Returns nCodes + 1 entries: entry c for code c,
 * entry nCodes for all rows. With codes null every row is code 0 (as in confusionByCode).
 * `order` is a descending argsort of `scores` (e.g. from argsortDescending), reusable across attributes.
 */
export function scoreMetricsByCode(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  codes: ArrayLike<number> | null,
  nCodes: number,
  order?: Uint32Array,
): ScoreMetrics[] {
  const fn = 'scoreMetricsByCode';
  // 2^31 codes at most, so a code and the label pack into one uint32.
  if (!Number.isInteger(nCodes) || nCodes < 1 || nCodes > 2 ** 31) throw new RangeError(`${fn}: nCodes must be an integer in 1..2^31, got ${nCodes}`);
  validateLabelsScores(fn, labels, scores);
  if (codes !== null) validateCodes(fn, 'codes', codes, nCodes, labels.length);
  if (order) {
    const { info, rankCodes } = rankFromOrder(labels, scores, codes, order);
    return scoreMetricsCore(info, rankCodes, nCodes);
  }
  // Fresh sort: the label (bit 0) and the code ride in the payload, so nothing is gathered.
  const n = labels.length;
  const payload = new Uint32Array(n);
  if (codes === null) for (let i = 0; i < n; i++) payload[i] = labels[i]!;
  else for (let i = 0; i < n; i++) payload[i] = (labels[i]! | (codes[i]! << 1)) >>> 0;
  const sorted = sortDescending(scores, payload);
  const info = tieInfo(sorted, 0);
  let rankCodes: Uint32Array | null = null;
  if (codes !== null) {
    rankCodes = sorted.payload; // reused in place: the labels already went into info
    for (let r = 0; r < n; r++) rankCodes[r] = rankCodes[r]! >>> 1;
  }
  return scoreMetricsCore(info, rankCodes, nCodes);
}

/** Equals scikit-learn's roc_auc_score (ties count half); null when a class is absent. */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  return scoreMetricsByCode(labels, scores, null, 1)[1]!.auc;
}

/** Equals scikit-learn's average_precision_score (step function, one step per distinct score); null when a class is absent. */
export function averagePrecision(labels: ArrayLike<number>, scores: ArrayLike<number>): number | null {
  return scoreMetricsByCode(labels, scores, null, 1)[1]!.averagePrecision;
}

// ---------------------------------------------------------------------------------------------
// Everything at once

export interface SliceEvaluation {
  attribute: string;
  value: string;
  rates: RateSet;
  auc: number | null;
  averagePrecision: number | null;
}

export interface ClassificationEvaluation {
  threshold: number;
  /** attribute 'overall', value 'all' */
  overall: SliceEvaluation;
  /** Attributes in input order, values in code order; every declared value, even with zero support. */
  slices: SliceEvaluation[];
  /** Pairs in input order, cells in code order (first attribute major); cells with zero support omitted. */
  intersections: SliceEvaluation[];
}

const NO_SCORE_METRICS: ScoreMetrics = { auc: null, averagePrecision: null };

/**
 * Thresholds the scores (predict 1 when score >= threshold) and evaluates overall, per attribute
 * value and per intersection cell. Throws, naming the problem, on length mismatches, labels other
 * than 0/1, non-finite scores, a NaN threshold, out-of-range codes and unknown or duplicate names.
 */
export function evaluateClassification(input: {
  labels: Uint8Array;
  scores: Float64Array | Float32Array;
  threshold: number;
  attributes: EncodedAttribute[];
  /** pairs of attribute names */
  intersections?: [string, string][];
  /** default true */
  withScoreMetrics?: boolean;
}): ClassificationEvaluation {
  const fn = 'evaluateClassification';
  const { labels, scores, threshold, attributes } = input;
  const withScoreMetrics = input.withScoreMetrics ?? true;
  const n = labels.length;
  if (typeof threshold !== 'number' || Number.isNaN(threshold)) throw new RangeError(`${fn}: threshold must be a number, got ${threshold}`);
  if (scores.length !== n) throw new RangeError(`${fn}: length mismatch: scores has ${scores.length} rows, labels has ${n}`);
  validateRows(fn, labels, scores);

  const byName = new Map<string, EncodedAttribute>();
  for (const a of attributes) {
    if (byName.has(a.name)) throw new Error(`${fn}: duplicate attribute name ${JSON.stringify(a.name)}`);
    if (a.codes.length !== n) throw new RangeError(`${fn}: length mismatch: attribute ${JSON.stringify(a.name)} has ${a.codes.length} rows, labels has ${n}`);
    byName.set(a.name, a);
  }
  const pairs = input.intersections ?? [];
  for (const [x, y] of pairs) {
    if (!byName.has(x) || !byName.has(y)) throw new Error(`${fn}: intersection [${JSON.stringify(x)}, ${JSON.stringify(y)}] names an unknown attribute`);
    if (x === y) throw new Error(`${fn}: intersection of ${JSON.stringify(x)} with itself`);
  }

  // Counts: cells per attribute (in input order), then per intersection. This also validates the
  // codes, which the ranking below relies on when it packs them into bits.
  const counted = countCells(fn, labels, scores, threshold, attributes, pairs, byName);
  const crosses = counted.slice(attributes.length).map((c) => c.attr);

  // Ranking: one sort serves the overall curve, every attribute and every intersection.
  const score: (ScoreMetrics[] | null)[] = withScoreMetrics ? rankAll(labels, scores, attributes, pairs, byName) : counted.map(() => null);

  const rows = (k: number, keepEmpty: boolean): SliceEvaluation[] => {
    const { attr, cells } = counted[k]!;
    const sm = score[k] ?? null;
    const rates = rateSetsFromCellArray(cells, attr.values.length);
    const out: SliceEvaluation[] = [];
    rates.forEach((r, c) => {
      if (!keepEmpty && r.support === 0) return;
      const m = sm ? sm[c]! : NO_SCORE_METRICS;
      out.push({ attribute: attr.name, value: attr.values[c]!, rates: r, auc: m.auc, averagePrecision: m.averagePrecision });
    });
    return out;
  };
  const slices = attributes.flatMap((_, k) => rows(k, true));
  const intersections = crosses.flatMap((_, k) => rows(attributes.length + k, false));

  // Every row has exactly one code, so the overall counts are any attribute's cells summed: no extra pass.
  let overallCells: Float64Array;
  if (counted.length > 0) {
    overallCells = new Float64Array(4);
    const cells = counted[0]!.cells;
    for (let k = 0; k < cells.length; k++) overallCells[k & 3]! += cells[k]!;
  } else {
    overallCells = confusionByCode(labels, scores, threshold, null, 1);
  }
  // rankAll appends the overall entry last.
  const overallScore = withScoreMetrics ? score[score.length - 1]![0]! : NO_SCORE_METRICS;
  return {
    threshold,
    overall: {
      attribute: 'overall',
      value: 'all',
      rates: rateSetsFromCellArray(overallCells, 1)[0]!,
      auc: overallScore.auc,
      averagePrecision: overallScore.averagePrecision,
    },
    slices,
    intersections,
  };
}

/** Joint code spaces up to this many cells are counted in one pass (see countCells). */
const JOINT_LIMIT = 4096;

/**
 * Confusion cells per attribute and per intersection.
 *
 * Fast path (the common one: a few small attributes): every row gets a joint code, the mixed-radix
 * number of all its attribute codes (first attribute major, as intersect() numbers cells), so ONE
 * confusionByCode pass counts the full cross-tabulation; each attribute's and each intersection's
 * cells are then sums over joint cells, which costs nothing per row. Per-row work is one cheap
 * code-building pass plus one counting pass, however many attributes and intersections there are
 * (the counting pass is the expensive one: its cell choice branches on random labels/predictions).
 * Otherwise one confusionByCode pass per attribute and per intersection (codes from intersect()).
 */
function countCells(
  fn: string,
  labels: Uint8Array,
  scores: Float64Array | Float32Array,
  threshold: number,
  attributes: EncodedAttribute[],
  pairs: [string, string][],
  byName: Map<string, EncodedAttribute>,
): { attr: EncodedAttribute; cells: Float64Array }[] {
  const n = labels.length;
  let jointSize = 1;
  for (const a of attributes) jointSize *= a.values.length;
  // intersect() on row-less copies gives each intersection's name and values (its one naming
  // convention) without building per-row codes we don't need on the fast path.
  const rowless = (a: EncodedAttribute): EncodedAttribute => ({ name: a.name, values: a.values, codes: new Uint8Array(0) });

  if (attributes.length >= 2 && jointSize <= JOINT_LIMIT) {
    const joint = new Uint16Array(n);
    for (const a of attributes) {
      const codes = a.codes;
      const size = a.values.length;
      // Horner step joint = joint * size + code. The range test is a branch that is never taken on
      // valid data, so it is predicted and costs ~nothing; >>> 0 makes negative Int32 codes huge.
      for (let i = 0; i < n; i++) {
        const c = codes[i]! >>> 0;
        if (c >= size) throw badCode(fn, a, i);
        joint[i] = joint[i]! * size + c;
      }
    }
    const cells = confusionByCode(labels, scores, threshold, joint, jointSize);
    // Digit k of joint cell j is attribute k's code there.
    const digits = attributes.map(() => new Uint32Array(jointSize));
    for (let j = 0; j < jointSize; j++) {
      let rest = j;
      for (let k = attributes.length - 1; k >= 0; k--) {
        const size = attributes[k]!.values.length;
        digits[k]![j] = rest % size;
        rest = Math.floor(rest / size);
      }
    }
    const marginal = (nCodes: number, codeOf: (j: number) => number): Float64Array => {
      const out = new Float64Array(4 * nCodes);
      for (let j = 0; j < jointSize; j++) {
        const c = 4 * codeOf(j);
        for (let t = 0; t < 4; t++) out[c + t]! += cells[4 * j + t]!;
      }
      return out;
    };
    const index = new Map(attributes.map((a, k) => [a.name, k]));
    const result = attributes.map((attr, k) => ({ attr, cells: marginal(attr.values.length, (j) => digits[k]![j]!) }));
    for (const [x, y] of pairs) {
      const dx = digits[index.get(x)!]!;
      const dy = digits[index.get(y)!]!;
      const a = byName.get(x)!;
      const b = byName.get(y)!;
      const nb = b.values.length;
      result.push({ attr: intersect(rowless(a), rowless(b)), cells: marginal(a.values.length * nb, (j) => dx[j]! * nb + dy[j]!) });
    }
    return result;
  }

  const count = (attr: EncodedAttribute): { attr: EncodedAttribute; cells: Float64Array } => {
    const nCodes = attr.values.length;
    const cells = confusionByCode(labels, scores, threshold, attr.codes, nCodes);
    // Rows whose code is out of range land outside `cells` (typed-array writes out of bounds are
    // dropped), so a short total catches bad codes without a separate validation pass.
    let total = 0;
    for (let k = 0; k < cells.length; k++) total += cells[k]!;
    if (total !== n) {
      const codes = attr.codes;
      for (let i = 0; i < n; i++) if (codes[i]! >>> 0 >= nCodes) throw badCode(fn, attr, i);
    }
    return { attr, cells };
  };
  const result = attributes.map(count);
  for (const [x, y] of pairs) result.push(count(intersect(byName.get(x)!, byName.get(y)!)));
  return result;
}

function badCode(fn: string, a: EncodedAttribute, row: number): RangeError {
  return new RangeError(`${fn}: attribute ${JSON.stringify(a.name)} has code ${a.codes[row]} at row ${row}, outside 0..${a.values.length - 1}`);
}

/**
 * Score metrics for every attribute, then every intersection, then overall (as a one-entry list),
 * from one sort. When the label and all attribute codes fit in 32 bits (1 + sum of
 * ceil(log2 |values|)) they are the sort payload, and each attribute's per-rank codes are bit
 * fields of it: every pass is sequential. Otherwise the payload is the row index (label in bit 31)
 * and codes are gathered through it. Codes must already be validated.
 */
function rankAll(
  labels: Uint8Array,
  scores: Float64Array | Float32Array,
  attributes: EncodedAttribute[],
  pairs: [string, string][],
  byName: Map<string, EncodedAttribute>,
): ScoreMetrics[][] {
  const n = labels.length;
  const index = new Map(attributes.map((a, k) => [a.name, k]));
  const shifts: number[] = [];
  let bits = 1;
  for (const a of attributes) {
    shifts.push(bits);
    bits += bitsFor(a.values.length);
  }
  const packed = bits <= 32;
  const payload = new Uint32Array(n);
  payload.set(labels);
  if (packed) {
    attributes.forEach((a, k) => {
      const shift = shifts[k]!;
      const codes = a.codes;
      if (shift < 32 && a.values.length > 1) for (let i = 0; i < n; i++) payload[i] = payload[i]! | (codes[i]! << shift);
    });
  } else {
    if (n > 0x7fffffff) throw new RangeError(`evaluateClassification: at most 2^31 - 1 rows with score metrics, got ${n}`);
    for (let i = 0; i < n; i++) payload[i] = (i | (labels[i]! << 31)) >>> 0;
  }
  const sorted = sortDescending(scores, payload);
  const info = tieInfo(sorted, packed ? 0 : 31);
  const sp = sorted.payload;
  const rankCodes = new Uint32Array(n); // reused by every attribute

  const fill = (k: number): void => {
    const a = attributes[k]!;
    if (packed) {
      const shift = shifts[k]!;
      const mask = a.values.length > 1 ? (2 ** bitsFor(a.values.length) - 1) >>> 0 : 0;
      for (let r = 0; r < n; r++) rankCodes[r] = (sp[r]! >>> shift) & mask;
    } else {
      const codes = a.codes;
      for (let r = 0; r < n; r++) rankCodes[r] = codes[sp[r]! & 0x7fffffff]!;
    }
  };
  const out: ScoreMetrics[][] = [];
  for (let k = 0; k < attributes.length; k++) {
    fill(k);
    out.push(scoreMetricsCore(info, rankCodes, attributes[k]!.values.length));
  }
  const crossCodes = new Uint32Array(n);
  for (const [x, y] of pairs) {
    const ka = index.get(x)!;
    const kb = index.get(y)!;
    const nb = byName.get(y)!.values.length;
    // cross code = a * |b| + b, as intersect() numbers its cells.
    fill(kb);
    crossCodes.set(rankCodes);
    fill(ka);
    for (let r = 0; r < n; r++) rankCodes[r] = rankCodes[r]! * nb + crossCodes[r]!;
    out.push(scoreMetricsCore(info, rankCodes, byName.get(x)!.values.length * nb));
  }
  if (attributes.length > 0) {
    // Every attribute's pass also accumulated the overall curve; take the first one's.
    const first = out[0]!;
    out.push([first[first.length - 1]!]);
  } else {
    out.push([scoreMetricsCore(info, null, 1)[1]!]);
  }
  return out;
}

/**
 * Labels 0/1 and finite scores in one cheap pass: OR-accumulate the labels (any bit above bit 0
 * means a bad label) and sum s - s (0 when finite, NaN otherwise); only on failure is the
 * offending row searched for, so the hot loop has no branches.
 */
function validateRows(fn: string, labels: Uint8Array, scores: Float64Array | Float32Array): void {
  const n = labels.length;
  let labelBits = 0;
  let finite = 0;
  for (let i = 0; i < n; i++) {
    labelBits |= labels[i]!;
    const s = scores[i]!;
    finite += s - s;
  }
  if (labelBits <= 1 && finite === 0) return;
  for (let i = 0; i < n; i++) {
    if (labels[i]! > 1) throw new RangeError(`${fn}: labels[${i}] must be 0 or 1, got ${labels[i]}`);
    const s = scores[i]!;
    if (s - s !== 0) throw new RangeError(`${fn}: scores[${i}] must be finite, got ${s}`);
  }
}
