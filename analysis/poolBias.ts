/**
 * A bias the whole annotator pool shares. Per-annotator flags (agreement.ts annotatorQuality) compare
 * each annotator with gold or with the consensus; when every annotator misreads one slice the same
 * way (the seed case: native speakers who all misread one dialect) the consensus carries the bias and
 * each annotator holds too few gold labels of that slice for a test of their own. Gold is the only
 * reference the pool cannot pull, so here the gold labels of all annotators are pooled per slice value.
 *
 * The unit is the gold item, not the label: an item is a cluster of n_i gold labels (one per
 * annotator who labelled it) of which c_i are right, and one hard item fools the whole pool at once,
 * so its labels are not independent trials. With G items and N = sum n_i labels on a value:
 *
 * - accuracy = sum c_i / N (the ratio estimator: the share of right labels, as before). Its
 *   cluster-robust variance is the sandwich (linearised ratio) estimator with items as clusters and
 *   the small-sample factor G/(G-1):  V = G/(G-1) * sum_i (c_i - p n_i)^2 / N^2  (CR1; what
 *   statsmodels OLS(correct ~ 1).fit(cov_type='cluster', groups=item) gives). `designEffect` =
 *   V / (p(1-p)/N). The interval is Wilson at the effective sample size N / max(1, designEffect)
 *   (Korn & Graubard's design-effect Wilson interval: it stays inside [0, 1] and is not degenerate at
 *   p = 0 or 1, where the design effect is taken as 1); with a single item, one trial per item.
 *   With one label per item the design effect is G/(G-1) and the interval is Wilson's.
 * - `below_rest`: the value against the attribute's other values (disjoint clusters), a cluster-robust
 *   z-test of the difference: the coefficient of the in-value indicator in OLS(correct ~ 1 + in_value)
 *   over the attribute's labels with items as clusters, i.e.
 *     gap = p_value - p_rest,  Var = G/(G-1) * (N-1)/(N-2) * (S_value / N_value^2 + S_rest / N_rest^2),
 *   S = sum_i (c_i - p n_i)^2 on each side, G and N the attribute's items and labels (statsmodels'
 *   CR1 correction for k = 2 parameters, matched exactly); two-sided normal p, Holm-adjusted across
 *   every tested (attribute, value), flagged when the adjusted p < alpha (default 0.01) and the value
 *   is the worse side. `gap` is the matching Wald interval, so it excludes 0 exactly when the raw p is
 *   below 1 - confidence. A zero variance (every item all right or all wrong on both sides): p = 1
 *   when the gap is 0, else 0. Tested when both sides hold at least `minItems` (default 10) items and
 *   `minGold` (default 20) gold labels; below that the sandwich is unreliable and the value is
 *   `insufficient` (its interval is still reported).
 * - `below_floor` (when a floor is given): the upper bound of the value's design-effect Wilson interval
 *   at the Bonferroni-adjusted confidence 1 - (1 - confidence) / m (m = values with >= minItems items
 *   and >= minGold gold labels) is below the floor: the pool disagrees with gold there whatever the
 *   other values do.
 *
 * Always the cluster-robust test, also when every item has one label (then it is a two-proportion
 * Wald test with unpooled variance and the factor above): one rule, no switch on the data's shape.
 * The oracle (test/fixtures/generate_poolbias_oracles.py, statsmodels) proves the numbers and
 * simulates false alarms and power with item-clustered errors at the default sizes: the label-level
 * test this replaces (Fisher on pooled labels) flagged up to 4x alpha there; this one stays below it.
 *
 * Pure: no I/O, no clock.
 */
import { wilsonInterval, type Interval } from './numerics/intervals';
import { normalQuantile, normalUpperTail } from './numerics/distributions';
import { holmAdjust } from './numerics/tests';

export const POOL_BIAS_ALPHA = 0.01;
export const POOL_BIAS_MIN_GOLD = 20;
export const POOL_BIAS_MIN_ITEMS = 10;

/**
 * Sums over gold items of their labels: items G, labels N = sum n_i, right ones C = sum c_i, and the
 * squares and cross products the sandwich variance needs (sum n_i^2, sum c_i^2, sum n_i c_i). Additive,
 * so an attribute's rest is its total minus the value.
 */
export interface ItemSums {
  items: number;
  gold: number;
  correct: number;
  goldSq: number;
  correctSq: number;
  goldCorrect: number;
}

/** The pool's gold labels on one slice value, as sums over its gold items. */
export interface GoldTally extends ItemSums {
  slice: string;
  value: string;
}

export interface PoolBiasOptions {
  /** Family-wise level of the below-rest test (Holm). Default 0.01. */
  alpha?: number;
  /** Gold labels a value (and its rest) needs before it is tested. Default 20. */
  minGold?: number;
  /** Gold items a value (and its rest) needs before it is tested. Default 10. */
  minItems?: number;
  /** Accuracy floor: flag a value whose Bonferroni-adjusted upper bound is below it. Default none. */
  minAccuracy?: number | null;
  /** Confidence of the reported intervals. Default 0.95. */
  confidence?: number;
}

export interface PoolSliceAccuracy {
  slice: string;
  value: string;
  goldLabels: number;
  correct: number;
  /** Gold items (clusters) behind the labels. */
  items: number;
  /** Cluster-robust variance over the binomial one (1: labels as good as independent); null when p is 0 or 1 or under 2 items. */
  designEffect: number | null;
  /** Pool accuracy on gold of this value, design-effect Wilson interval at `confidence`. */
  accuracy: Interval;
  /** Pool accuracy on gold of the attribute's other values, the same interval. */
  rest: Interval;
  /** accuracy - rest, cluster-robust Wald interval at `confidence`. */
  gap: Interval;
  /** The cluster-robust z of the gap; null when not tested or its variance is 0. */
  z: number | null;
  /** Two-sided p (raw) and Holm-adjusted; null when not tested. */
  p: number | null;
  pAdjusted: number | null;
  /** Too few gold items or labels on this value or on the rest to test it. */
  insufficient: boolean;
  belowRest: boolean;
  belowFloor: boolean;
  flagged: boolean;
}

export interface PoolBiasReport {
  /** Every gold label of the pool, whatever the slice. */
  overall: Interval;
  goldLabels: number;
  goldItems: number;
  slices: PoolSliceAccuracy[];
  /** Values in the Holm family (below-rest) and in the Bonferroni family (floor). */
  tested: number;
  floorTested: number;
  alpha: number;
  minGold: number;
  minItems: number;
  minAccuracy: number | null;
  rule: string;
}

const plus = (a: ItemSums, b: ItemSums): ItemSums => ({
  items: a.items + b.items,
  gold: a.gold + b.gold,
  correct: a.correct + b.correct,
  goldSq: a.goldSq + b.goldSq,
  correctSq: a.correctSq + b.correctSq,
  goldCorrect: a.goldCorrect + b.goldCorrect,
});

const minus = (a: ItemSums, b: ItemSums): ItemSums => ({
  items: a.items - b.items,
  gold: a.gold - b.gold,
  correct: a.correct - b.correct,
  goldSq: a.goldSq - b.goldSq,
  correctSq: a.correctSq - b.correctSq,
  goldCorrect: a.goldCorrect - b.goldCorrect,
});

/** sum_i (c_i - p n_i)^2 with p = C / N, from the sums (>= 0 against rounding). */
function residualSquares(s: ItemSums): number {
  if (s.gold === 0) return 0;
  const p = s.correct / s.gold;
  return Math.max(0, s.correctSq - 2 * p * s.goldCorrect + p * p * s.goldSq);
}

/** The ratio estimate, its design effect (null at p = 0 or 1 or under 2 items) and the design-effect Wilson interval. */
export function clusteredAccuracy(s: ItemSums, confidence = 0.95): { interval: Interval; designEffect: number | null } {
  if (s.gold === 0) return { interval: { estimate: null, lower: null, upper: null }, designEffect: null };
  const p = s.correct / s.gold;
  let designEffect: number | null = null;
  let nEff: number;
  if (s.items < 2) nEff = s.items;
  else if (p === 0 || p === 1) nEff = s.gold;
  else {
    const v = ((s.items / (s.items - 1)) * residualSquares(s)) / (s.gold * s.gold);
    designEffect = v / ((p * (1 - p)) / s.gold);
    nEff = s.gold / Math.max(1, designEffect);
  }
  const w = wilsonInterval(p * nEff, nEff, confidence);
  return { interval: { estimate: p, lower: w.lower, upper: w.upper }, designEffect };
}

/** The value against its rest: gap, its cluster-robust variance (statsmodels' CR1 for k = 2), z and two-sided p. */
function clusteredGap(value: ItemSums, rest: ItemSums): { gap: number; variance: number; z: number | null; p: number } | null {
  if (value.gold === 0 || rest.gold === 0) return null;
  const g = value.items + rest.items;
  const n = value.gold + rest.gold;
  const gap = value.correct / value.gold - rest.correct / rest.gold;
  const variance = g < 2 || n < 3 ? NaN : (g / (g - 1)) * ((n - 1) / (n - 2)) * (residualSquares(value) / value.gold ** 2 + residualSquares(rest) / rest.gold ** 2);
  if (variance === 0) return { gap, variance, z: null, p: gap === 0 ? 1 : 0 };
  if (!(variance > 0)) return null;
  const z = gap / Math.sqrt(variance);
  return { gap, variance, z, p: Math.min(1, 2 * normalUpperTail(Math.abs(z))) };
}

function checkSums(what: string, t: ItemSums): void {
  const ints = [t.items, t.gold, t.correct, t.goldSq, t.correctSq, t.goldCorrect];
  if (!(ints.every((x) => Number.isInteger(x) && x >= 0) && t.correct <= t.gold && t.items <= t.gold && (t.items > 0 || t.gold === 0))) {
    throw new RangeError(`poolGoldBias: ${what} needs integer counts with 0 <= correct <= gold and items <= gold, got ${t.correct}/${t.gold} on ${t.items} items`);
  }
}

/**
 * Judges the pool's gold accuracy per slice value. `tallies` holds one row per (attribute, value);
 * every attribute's rows must together cover all gold items (items without the attribute under a
 * value such as 'unknown'), so the rest of a value is the attribute's total minus the value.
 * `total` is the pool's sums over every gold item. tallyGold builds both from gold labels.
 */
export function poolGoldBias(tallies: readonly GoldTally[], total: ItemSums, options: PoolBiasOptions = {}): PoolBiasReport {
  const alpha = options.alpha ?? POOL_BIAS_ALPHA;
  const minGold = options.minGold ?? POOL_BIAS_MIN_GOLD;
  const minItems = options.minItems ?? POOL_BIAS_MIN_ITEMS;
  const minAccuracy = options.minAccuracy ?? null;
  const confidence = options.confidence ?? 0.95;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`poolGoldBias: alpha must be in (0, 1), got ${alpha}`);
  if (!(Number.isInteger(minGold) && minGold >= 1)) throw new RangeError(`poolGoldBias: minGold must be an integer >= 1, got ${minGold}`);
  if (!(Number.isInteger(minItems) && minItems >= 2)) throw new RangeError(`poolGoldBias: minItems must be an integer >= 2, got ${minItems}`);
  if (minAccuracy !== null && !(minAccuracy > 0 && minAccuracy <= 1)) throw new RangeError(`poolGoldBias: minAccuracy must be in (0, 1], got ${minAccuracy}`);
  checkSums('total', total);
  const zero: ItemSums = { items: 0, gold: 0, correct: 0, goldSq: 0, correctSq: 0, goldCorrect: 0 };
  const byAttribute = new Map<string, ItemSums>();
  for (const t of tallies) {
    checkSums(`${t.slice}=${t.value}`, t);
    const a = byAttribute.get(t.slice) ?? zero;
    byAttribute.set(t.slice, plus(a, t));
  }
  const rows = [...tallies].sort((x, y) => (x.slice === y.slice ? (x.value < y.value ? -1 : x.value > y.value ? 1 : 0) : x.slice < y.slice ? -1 : 1));
  const sized = (s: ItemSums) => s.items >= minItems && s.gold >= minGold;
  const base = rows.map((t) => {
    const rest = minus(byAttribute.get(t.slice)!, t);
    const testable = sized(t) && sized(rest);
    return { t, rest, testable, test: clusteredGap(t, rest) };
  });
  const tested = base.filter((b) => b.testable && b.test !== null);
  const adjusted = holmAdjust(tested.map((b) => b.test!.p));
  const adjustedOf = new Map(tested.map((b, j) => [b, adjusted[j]!]));
  const floorTested = base.filter((b) => sized(b.t)).length;
  const floorConfidence = 1 - (1 - confidence) / Math.max(1, floorTested);
  const zCrit = -normalQuantile((1 - confidence) / 2);
  const slices = base.map((b): PoolSliceAccuracy => {
    const { t, rest, test } = b;
    const pAdjusted = adjustedOf.get(b) ?? null;
    const isTested = pAdjusted !== null;
    const belowRest = isTested && pAdjusted < alpha && t.correct * rest.gold < rest.correct * t.gold;
    const belowFloor = minAccuracy !== null && sized(t) && clusteredAccuracy(t, floorConfidence).interval.upper! < minAccuracy;
    const own = clusteredAccuracy(t, confidence);
    const half = test === null ? null : zCrit * Math.sqrt(test.variance);
    return {
      slice: t.slice,
      value: t.value,
      goldLabels: t.gold,
      correct: t.correct,
      items: t.items,
      designEffect: own.designEffect,
      accuracy: own.interval,
      rest: clusteredAccuracy(rest, confidence).interval,
      gap: test === null ? { estimate: null, lower: null, upper: null } : { estimate: test.gap, lower: test.gap - half!, upper: test.gap + half! },
      z: isTested ? test!.z : null,
      p: isTested ? test!.p : null,
      pAdjusted,
      insufficient: !b.testable,
      belowRest,
      belowFloor,
      flagged: belowRest || belowFloor,
    };
  });
  const floorRule =
    minAccuracy === null ? '' : `; or its design-effect Wilson upper bound at confidence 1 - ${(1 - confidence).toFixed(2)}/${floorTested} (Bonferroni) is below ${minAccuracy}`;
  return {
    overall: clusteredAccuracy(total, confidence).interval,
    goldLabels: total.gold,
    goldItems: total.items,
    slices,
    tested: tested.length,
    floorTested,
    alpha,
    minGold,
    minItems,
    minAccuracy,
    rule:
      `pool accuracy on gold per slice value vs the attribute's other values, gold items as clusters: cluster-robust z-test (CR1), Holm-adjusted over ${tested.length} values, ` +
      `flagged when p < ${alpha} and the value is worse (>= ${minItems} gold items and >= ${minGold} gold labels on each side)${floorRule}`,
  };
}

// ---- pool composition --------------------------------------------------------------------------------

/** At least `min` annotators with attributes[attribute] = equals label items of slice = value. */
export interface CompositionRequirement {
  slice: string;
  value: string;
  attribute: string;
  equals: string;
  min: number;
}

/** Whether an annotator counts toward a requirement. */
export function qualifies(requirement: CompositionRequirement, attributes: Readonly<Record<string, string>>): boolean {
  return attributes[requirement.attribute] === requirement.equals;
}

/**
 * The requirements that hold an item back from this annotator: the item is in the requirement's
 * slice, the annotator does not qualify, and fewer than `min` qualifying annotators have labelled the
 * slice so far (`qualifiedSoFar`, by requirement index). Empty = the annotator may take it.
 */
export function compositionHolds(
  requirements: readonly CompositionRequirement[],
  itemSlices: Readonly<Record<string, string>>,
  attributes: Readonly<Record<string, string>>,
  qualifiedSoFar: readonly number[],
): CompositionRequirement[] {
  return requirements.filter((r, i) => itemSlices[r.slice] === r.value && !qualifies(r, attributes) && (qualifiedSoFar[i] ?? 0) < r.min);
}

/** Attributes with more distinct values than this are left out of the pool-bias report (as of bias tests elsewhere). */
export const POOL_BIAS_MAX_VALUES = 50;

/**
 * Gold labels (right or wrong, with their item and the item's slice attributes) into
 * per-(attribute, value) sums over items; an item without an attribute counts under 'unknown', so
 * each attribute covers every item. An item's slices are those of its first label (they are the
 * item's, the same on every label).
 */
export function tallyGold(
  rows: readonly { item: string | number; correct: boolean; slices: Readonly<Record<string, string>> }[],
  maxValues = POOL_BIAS_MAX_VALUES,
): { tallies: GoldTally[]; total: ItemSums } {
  const items = new Map<string | number, { n: number; c: number; slices: Readonly<Record<string, string>> }>();
  for (const r of rows) {
    const it = items.get(r.item) ?? { n: 0, c: 0, slices: r.slices };
    it.n++;
    if (r.correct) it.c++;
    items.set(r.item, it);
  }
  const add = (s: ItemSums, it: { n: number; c: number }) => {
    s.items++;
    s.gold += it.n;
    s.correct += it.c;
    s.goldSq += it.n * it.n;
    s.correctSq += it.c * it.c;
    s.goldCorrect += it.n * it.c;
  };
  const names = [...new Set([...items.values()].flatMap((it) => Object.keys(it.slices)))].sort();
  const tallies: GoldTally[] = [];
  for (const name of names) {
    const by = new Map<string, GoldTally>();
    for (const it of items.values()) {
      const value = it.slices[name] ?? 'unknown';
      const t = by.get(value) ?? { slice: name, value, items: 0, gold: 0, correct: 0, goldSq: 0, correctSq: 0, goldCorrect: 0 };
      add(t, it);
      by.set(value, t);
    }
    if (by.size <= maxValues) tallies.push(...by.values());
  }
  const total: ItemSums = { items: 0, gold: 0, correct: 0, goldSq: 0, correctSq: 0, goldCorrect: 0 };
  for (const it of items.values()) add(total, it);
  return { tallies, total };
}
