/**
 * Label-quality statistics over a long table of labels: items × annotators, nominal labels,
 * missing labels allowed (an annotator labels any subset of items, at most once each).
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * The table is kept long (one row per label, parallel typed arrays) rather than as an
 * items × annotators matrix because real labelling is sparse: a crowd of hundreds of annotators
 * each sees a small share of the items, and the dense matrix would be mostly holes.
 *
 * Reference implementations (see test/fixtures/generate_agreement_oracles.py):
 *   cohenKappa          sklearn.metrics.cohen_kappa_score (unweighted)
 *   fleissKappa         statsmodels.stats.inter_rater.fleiss_kappa(method='fleiss')
 *   krippendorffAlpha   krippendorff.alpha(level_of_measurement='nominal')
 * The per-annotator bias flags use Fisher's exact test and Holm's correction from numerics/tests.ts.
 */
import { wilsonInterval, type Interval } from './numerics/intervals';
import { fisherExactTwoSided, holmAdjust } from './numerics/tests';

export interface LabelTable {
  /** Distinct item ids, sorted; an item's code is its index here. */
  items: string[];
  /** Distinct annotator ids, sorted. */
  annotators: string[];
  /** Distinct labels, sorted; a label's code is its index here. */
  categories: string[];
  /** One row per label: item code, annotator code, label (category) code. */
  item: Uint32Array;
  annotator: Uint32Array;
  label: Uint32Array;
}

/** Sorted distinct values and a value -> code map (JavaScript's default string order, i.e. UTF-16 code units). */
function encode(values: string[]): { names: string[]; code: Map<string, number> } {
  const names = [...new Set(values)].sort();
  const code = new Map<string, number>();
  names.forEach((n, i) => code.set(n, i));
  return { names, code };
}

/**
 * Builds a LabelTable from rows. Codes are assigned in sorted order of the ids, so the same set of
 * rows always yields the same codes whatever their order. Throws on a duplicate (item, annotator)
 * pair, naming it: every statistic here assumes one label per annotator per item.
 */
export function labelTable(rows: { item: string; annotator: string; label: string }[]): LabelTable {
  const items = encode(rows.map((r) => r.item));
  const annotators = encode(rows.map((r) => r.annotator));
  const categories = encode(rows.map((r) => r.label));
  const n = rows.length;
  const item = new Uint32Array(n);
  const annotator = new Uint32Array(n);
  const label = new Uint32Array(n);
  for (let r = 0; r < n; r++) {
    const row = rows[r]!;
    item[r] = items.code.get(row.item)!;
    annotator[r] = annotators.code.get(row.annotator)!;
    label[r] = categories.code.get(row.label)!;
  }
  const t: LabelTable = { items: items.names, annotators: annotators.names, categories: categories.names, item, annotator, label };
  assertNoDuplicates(t);
  return t;
}

/**
 * Duplicate check by sorting numeric keys item * A + annotator (exact in a double up to 2^53),
 * which is much faster than a Set of string keys on a million rows.
 */
function assertNoDuplicates(t: LabelTable): void {
  const A = t.annotators.length;
  const keys = new Float64Array(t.item.length);
  for (let r = 0; r < keys.length; r++) keys[r] = t.item[r]! * A + t.annotator[r]!;
  keys.sort();
  for (let r = 1; r < keys.length; r++) {
    if (keys[r] === keys[r - 1]) {
      const k = keys[r]!;
      const it = Math.floor(k / A);
      throw new Error(`labelTable: duplicate label for item "${t.items[it]}" by annotator "${t.annotators[k - it * A]}"`);
    }
  }
}

/**
 * Rows grouped by item (a counting sort, O(rows + items)): rows of item i are
 * order[start[i] .. start[i+1]-1], in their original relative order.
 */
export function rowsByItem(t: LabelTable): { start: Uint32Array; order: Uint32Array } {
  const I = t.items.length;
  const start = new Uint32Array(I + 1);
  for (let r = 0; r < t.item.length; r++) start[t.item[r]! + 1]!++;
  for (let i = 0; i < I; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, I);
  const order = new Uint32Array(t.item.length);
  for (let r = 0; r < t.item.length; r++) order[fill[t.item[r]!]!++] = r;
  return { start, order };
}

/**
 * Unweighted Cohen's kappa of two raters over the same items (a[i], b[i] are category codes in
 * [0, nCategories)). Same formula and operation order as sklearn.metrics.cohen_kappa_score:
 * kappa = 1 - sum(off-diagonal observed) / sum(off-diagonal expected), expected = outer(marginals)/n.
 * Categories absent from both vectors contribute nothing, so passing the full category count gives
 * sklearn's default (labels = union of the two vectors). Null when there are no items or when
 * chance disagreement is zero (both raters constant and identical), where sklearn returns NaN.
 */
export function cohenKappa(a: ArrayLike<number>, b: ArrayLike<number>, nCategories: number): number | null {
  if (a.length !== b.length) throw new RangeError(`cohenKappa: lengths differ (${a.length} vs ${b.length})`);
  const n = a.length;
  if (n === 0) return null;
  const K = nCategories;
  const ma = new Float64Array(K);
  const mb = new Float64Array(K);
  let agree = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (!(x >= 0 && x < K && y >= 0 && y < K)) throw new RangeError(`cohenKappa: code out of range at ${i}`);
    ma[x]!++;
    mb[y]!++;
    if (x === y) agree++;
  }
  return kappaFromCounts(n, agree, ma, mb);
}

function kappaFromCounts(n: number, agree: number, ma: Float64Array, mb: Float64Array): number | null {
  let chance = 0;
  for (let k = 0; k < ma.length; k++) chance += ma[k]! * mb[k]!;
  const expectedDisagree = n - chance / n;
  if (!(expectedDisagree > 0)) return null;
  return 1 - (n - agree) / expectedDisagree;
}

/**
 * Cohen's kappa for every annotator pair on the items both labelled, and the mean over the pairs
 * with at least `minOverlap` shared items and a defined kappa (null when there are none).
 * Every pair is listed (n = shared items; kappa null below minOverlap or when undefined) so a
 * caller can see why a pair was left out.
 *
 * One pass over items, visiting each pair of labels within an item, accumulating a K × K table per
 * annotator pair: O(sum over items of raters²) time and O(A² K²) memory, with no dense
 * items × annotators matrix.
 */
export function cohenKappaMean(
  t: LabelTable,
  minOverlap = 10,
): { mean: number | null; pairs: { a: string; b: string; n: number; kappa: number | null }[] } {
  const A = t.annotators.length;
  const K = t.categories.length;
  const P = (A * (A - 1)) / 2;
  const tables = new Float64Array(P * K * K);
  const { start, order } = rowsByItem(t);
  const pairIndex = (x: number, y: number): number => x * A - (x * (x + 1)) / 2 + (y - x - 1);
  for (let i = 0; i + 1 < start.length; i++) {
    for (let p = start[i]!; p < start[i + 1]!; p++) {
      const rp = order[p]!;
      for (let q = p + 1; q < start[i + 1]!; q++) {
        const rq = order[q]!;
        let x = t.annotator[rp]!;
        let y = t.annotator[rq]!;
        let lx = t.label[rp]!;
        let ly = t.label[rq]!;
        if (x > y) {
          [x, y] = [y, x];
          [lx, ly] = [ly, lx];
        }
        tables[(pairIndex(x, y) * K + lx) * K + ly]!++;
      }
    }
  }
  const pairs: { a: string; b: string; n: number; kappa: number | null }[] = [];
  let sum = 0;
  let used = 0;
  const ma = new Float64Array(K);
  const mb = new Float64Array(K);
  for (let x = 0; x < A; x++) {
    for (let y = x + 1; y < A; y++) {
      const base = pairIndex(x, y) * K * K;
      ma.fill(0);
      mb.fill(0);
      let n = 0;
      let agree = 0;
      for (let j = 0; j < K; j++) {
        for (let k = 0; k < K; k++) {
          const c = tables[base + j * K + k]!;
          n += c;
          ma[j]! += c;
          mb[k]! += c;
          if (j === k) agree += c;
        }
      }
      const kappa = n > 0 && n >= minOverlap ? kappaFromCounts(n, agree, ma, mb) : null;
      if (kappa !== null) {
        sum += kappa;
        used++;
      }
      pairs.push({ a: t.annotators[x]!, b: t.annotators[y]!, n, kappa });
    }
  }
  return { mean: used > 0 ? sum / used : null, pairs };
}

/**
 * Fleiss' kappa with the subset it was computed on.
 *
 * Fleiss' kappa assumes every item has the same number of raters, which a table with missing labels
 * does not have. We use the items whose rater count equals the modal rater count (ties between
 * counts go to the larger count, which gives the more stable per-item agreement), and report the
 * count and how many of the items were used. Items with a single label can never be used (the
 * per-item agreement divides by raters - 1), so a modal count of 1 gives null.
 * Formula and operation order follow statsmodels fleiss_kappa(method='fleiss').
 */
export function fleissKappaDetail(t: LabelTable): { kappa: number | null; raters: number; items: number; totalItems: number } {
  const I = t.items.length;
  const K = t.categories.length;
  const raters = new Uint32Array(I);
  for (let r = 0; r < t.item.length; r++) raters[t.item[r]!]!++;
  const freq = new Map<number, number>();
  for (let i = 0; i < I; i++) freq.set(raters[i]!, (freq.get(raters[i]!) ?? 0) + 1);
  let modal = 0;
  let best = 0;
  for (const [count, f] of freq) if (f > best || (f === best && count > modal)) [modal, best] = [count, f];
  if (modal < 2) return { kappa: null, raters: modal, items: modal === 0 ? 0 : best, totalItems: I };

  // Counts n_ij for the selected items only; compact index so memory is (selected items) × K.
  const slot = new Int32Array(I).fill(-1);
  let S = 0;
  for (let i = 0; i < I; i++) if (raters[i] === modal) slot[i] = S++;
  const table = new Float64Array(S * K);
  for (let r = 0; r < t.item.length; r++) {
    const s = slot[t.item[r]!]!;
    if (s >= 0) table[s * K + t.label[r]!]!++;
  }
  const n = modal;
  const total = S * n;
  const pCat = new Float64Array(K);
  let pMeanSum = 0;
  for (let s = 0; s < S; s++) {
    let sq = 0;
    for (let k = 0; k < K; k++) {
      const c = table[s * K + k]!;
      pCat[k]! += c;
      sq += c * c;
    }
    pMeanSum += (sq - n) / (n * (n - 1));
  }
  const pMean = pMeanSum / S;
  let pExp = 0;
  for (let k = 0; k < K; k++) {
    const p = pCat[k]! / total;
    pExp += p * p;
  }
  const kappa = pExp < 1 ? (pMean - pExp) / (1 - pExp) : null;
  return { kappa, raters: modal, items: S, totalItems: I };
}

/** Fleiss' kappa on the items with the modal rater count; see fleissKappaDetail for the subset rule. */
export function fleissKappa(t: LabelTable): number | null {
  return fleissKappaDetail(t).kappa;
}

/**
 * Krippendorff's alpha for nominal data with missing labels, as krippendorff.alpha(
 * reliability_data, level_of_measurement='nominal'): alpha = 1 - D_o / D_e with
 *   D_o = sum over items with m >= 2 labels of (m² - sum_c m_c²) / (m - 1)   (off-diagonal coincidences)
 *   D_e = (n² - sum_c n_c²) / (n - 1), n_c = pairable values of category c, n = sum n_c.
 * Items with a single label are not pairable and drop out. Null where the package raises or
 * divides by zero: fewer than two categories among pairable values, or no item with two labels.
 */
export function krippendorffAlpha(t: LabelTable): number | null {
  const K = t.categories.length;
  const { start, order } = rowsByItem(t);
  const m = new Float64Array(K);
  const nc = new Float64Array(K);
  let dObs = 0;
  for (let i = 0; i + 1 < start.length; i++) {
    const mu = start[i + 1]! - start[i]!;
    if (mu < 2) continue;
    m.fill(0);
    for (let p = start[i]!; p < start[i + 1]!; p++) m[t.label[order[p]!]!]!++;
    let sq = 0;
    for (let k = 0; k < K; k++) {
      sq += m[k]! * m[k]!;
      nc[k]! += m[k]!;
    }
    dObs += (mu * mu - sq) / (mu - 1);
  }
  let n = 0;
  let sq = 0;
  for (let k = 0; k < K; k++) {
    n += nc[k]!;
    sq += nc[k]! * nc[k]!;
  }
  if (n < 2) return null;
  const dExp = (n * n - sq) / (n - 1);
  if (!(dExp > 0)) return null;
  return 1 - dObs / dExp;
}

/** Share of all labels in each category, in category-code order. */
export function classBalance(t: LabelTable): { category: string; share: number }[] {
  const counts = new Float64Array(t.categories.length);
  for (let r = 0; r < t.label.length; r++) counts[t.label[r]!]!++;
  const n = t.label.length;
  return t.categories.map((category, k) => ({ category, share: n > 0 ? counts[k]! / n : 0 }));
}

// ---------------------------------------------------------------------------------------------
// Per-annotator quality.

export interface SliceOf {
  /** Attribute name, e.g. "region". */
  name: string;
  /** Value code per item code (index into values). */
  valueOfItem: Uint32Array;
  values: string[];
}

export interface BiasFlag {
  slice: string;
  value: string;
  /** Disagreement rate of the annotator's labels on items in the slice value. */
  disagreement: number;
  /** Disagreement rate on the annotator's other (referenced) labels. */
  rest: number;
  /** Referenced labels by the annotator on the slice value. */
  n: number;
  /** Holm-adjusted two-sided Fisher p-value (across this annotator's slice values). */
  p: number;
}

export interface AnnotatorQuality {
  annotator: string;
  /** Labels by this annotator in the table. */
  labels: number;
  /** Labels on gold items. */
  goldCount: number;
  /** Accuracy on gold items with a Wilson 95% interval (all null when goldCount = 0). */
  goldAccuracy: Interval;
  flags: BiasFlag[];
}

export const BIAS_ALPHA = 0.01;
export const BIAS_MIN_LABELS = 20;

/**
 * Per annotator: gold accuracy (Wilson interval) and slice-bias flags.
 *
 * A label's reference is the gold label when the item has one, else `consensus[item]` (e.g. the
 * Dawid-Skene or majority-vote label) when given, else the label is not used for bias. For each
 * slice value the annotator labelled, we compare their disagreement rate there with the rate on
 * the rest of their referenced labels by a two-sided Fisher exact test, Holm-correct across that
 * annotator's slice values, and flag when the adjusted p < 0.01, the slice holds >= 20 of the
 * annotator's referenced labels, and the slice rate is the higher one (being better on a slice is
 * not a bias we act on). Note that consensus includes the annotator's own vote, which pulls it
 * toward them; this makes the test conservative, not anti-conservative.
 */
export function annotatorQuality(
  t: LabelTable,
  gold: Map<number, number>,
  sliceOf?: SliceOf,
  consensus?: Uint32Array,
): AnnotatorQuality[] {
  const A = t.annotators.length;
  const V = sliceOf ? sliceOf.values.length : 0;
  if (sliceOf && sliceOf.valueOfItem.length !== t.items.length) {
    throw new RangeError(`annotatorQuality: sliceOf.valueOfItem has ${sliceOf.valueOfItem.length} entries for ${t.items.length} items`);
  }
  if (consensus && consensus.length !== t.items.length) {
    throw new RangeError(`annotatorQuality: consensus has ${consensus.length} entries for ${t.items.length} items`);
  }
  // Dense per-item gold (-1 = none) so the row loop does no Map lookups.
  const goldOf = new Int32Array(t.items.length).fill(-1);
  for (const [i, k] of gold) if (i < t.items.length) goldOf[i] = k;

  const labels = new Float64Array(A);
  const goldN = new Float64Array(A);
  const goldOk = new Float64Array(A);
  // Per annotator × slice value: referenced labels and disagreements.
  const refN = new Float64Array(A * V);
  const refDis = new Float64Array(A * V);
  for (let r = 0; r < t.item.length; r++) {
    const a = t.annotator[r]!;
    const i = t.item[r]!;
    const l = t.label[r]!;
    labels[a]!++;
    const g = goldOf[i]!;
    if (g >= 0) {
      goldN[a]!++;
      if (g === l) goldOk[a]!++;
    }
    if (!sliceOf) continue;
    const ref = g >= 0 ? g : consensus ? consensus[i]! : -1;
    if (ref < 0) continue;
    const cell = a * V + sliceOf.valueOfItem[i]!;
    refN[cell]!++;
    if (ref !== l) refDis[cell]!++;
  }

  return t.annotators.map((annotator, a) => {
    const flags: BiasFlag[] = [];
    if (sliceOf) {
      let totN = 0;
      let totDis = 0;
      for (let v = 0; v < V; v++) {
        totN += refN[a * V + v]!;
        totDis += refDis[a * V + v]!;
      }
      const tests: { v: number; n: number; dis: number; restN: number; restDis: number; p: number }[] = [];
      for (let v = 0; v < V; v++) {
        const n = refN[a * V + v]!;
        const dis = refDis[a * V + v]!;
        const restN = totN - n;
        const restDis = totDis - dis;
        if (n === 0 || restN === 0) continue;
        tests.push({ v, n, dis, restN, restDis, p: fisherExactTwoSided(dis, n - dis, restDis, restN - restDis) });
      }
      const adjusted = holmAdjust(tests.map((x) => x.p));
      tests.forEach((x, j) => {
        const rate = x.dis / x.n;
        const rest = x.restDis / x.restN;
        if (adjusted[j]! < BIAS_ALPHA && x.n >= BIAS_MIN_LABELS && rate > rest) {
          flags.push({ slice: sliceOf.name, value: sliceOf.values[x.v]!, disagreement: rate, rest, n: x.n, p: adjusted[j]! });
        }
      });
    }
    return {
      annotator,
      labels: labels[a]!,
      goldCount: goldN[a]!,
      goldAccuracy: wilsonInterval(goldOk[a]!, goldN[a]!),
      flags,
    };
  });
}
