/**
 * A bias the whole annotator pool shares. Per-annotator flags (agreement.ts annotatorQuality) compare
 * each annotator with gold or with the consensus; when every annotator misreads one slice the same
 * way (the seed case: native speakers who all misread one dialect) the consensus carries the bias and
 * each annotator holds too few gold labels of that slice for a test of their own. Gold is the only
 * reference the pool cannot pull, so here the gold labels of all annotators are pooled per slice value:
 *
 * - accuracy(slice value) = correct gold labels / gold labels on items of that value, Wilson interval;
 * - `below_rest`: the value's accuracy against the pool's accuracy on the other values of the same
 *   attribute, two-sided Fisher exact test (as the per-annotator flags), Holm-adjusted across every
 *   tested (attribute, value), flagged when the adjusted p < alpha (default 0.01) and the value is the
 *   worse side; tested when both sides hold at least `minGold` (default 20) gold labels;
 * - `below_floor` (when a floor is given): the upper bound of the value's Wilson interval at the
 *   Bonferroni-adjusted confidence 1 - (1 - confidence) / m (m = values with >= minGold gold labels)
 *   is below the floor: the pool disagrees with gold there whatever the other values do.
 *
 * The unit is the gold label: labels of one item by different annotators are taken as independent
 * trials. A dialect the whole pool misreads item by item (errors clustered on items) makes the
 * labels of one item correlated and the test somewhat anti-conservative; the oracle
 * (test/fixtures/generate_poolbias_oracles.py) gives its power and false-alarm rate under independence.
 *
 * Pure: no I/O, no clock.
 */
import { newcombeDifference, wilsonInterval, type Interval } from './numerics/intervals';
import { fisherExactTwoSided, holmAdjust } from './numerics/tests';

export const POOL_BIAS_ALPHA = 0.01;
export const POOL_BIAS_MIN_GOLD = 20;

/** The pool's gold labels on one slice value: how many, how many right. */
export interface GoldTally {
  slice: string;
  value: string;
  gold: number;
  correct: number;
}

export interface PoolBiasOptions {
  /** Family-wise level of the below-rest test (Holm). Default 0.01. */
  alpha?: number;
  /** Gold labels a value (and its rest) needs before it is tested. Default 20. */
  minGold?: number;
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
  /** Pool accuracy on gold of this value, Wilson interval at `confidence`. */
  accuracy: Interval;
  /** Pool accuracy on gold of the attribute's other values. */
  rest: Interval;
  /** accuracy - rest, Newcombe interval at `confidence`. */
  gap: Interval;
  /** Two-sided Fisher exact p (raw) and Holm-adjusted; null when not tested. */
  p: number | null;
  pAdjusted: number | null;
  /** Too few gold labels on this value or on the rest to test it. */
  insufficient: boolean;
  belowRest: boolean;
  belowFloor: boolean;
  flagged: boolean;
}

export interface PoolBiasReport {
  /** Every gold label of the pool, whatever the slice. */
  overall: Interval;
  goldLabels: number;
  slices: PoolSliceAccuracy[];
  /** Values in the Holm family (below-rest) and in the Bonferroni family (floor). */
  tested: number;
  floorTested: number;
  alpha: number;
  minGold: number;
  minAccuracy: number | null;
  rule: string;
}

/**
 * Judges the pool's gold accuracy per slice value. `tallies` holds one row per (attribute, value);
 * every attribute's rows must together cover all gold labels (items without the attribute under a
 * value such as 'unknown'), so the rest of a value is the attribute's total minus the value.
 * `total` is the pool's gold labels and correct ones overall.
 */
export function poolGoldBias(tallies: readonly GoldTally[], total: { gold: number; correct: number }, options: PoolBiasOptions = {}): PoolBiasReport {
  const alpha = options.alpha ?? POOL_BIAS_ALPHA;
  const minGold = options.minGold ?? POOL_BIAS_MIN_GOLD;
  const minAccuracy = options.minAccuracy ?? null;
  const confidence = options.confidence ?? 0.95;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`poolGoldBias: alpha must be in (0, 1), got ${alpha}`);
  if (!(Number.isInteger(minGold) && minGold >= 1)) throw new RangeError(`poolGoldBias: minGold must be an integer >= 1, got ${minGold}`);
  if (minAccuracy !== null && !(minAccuracy > 0 && minAccuracy <= 1)) throw new RangeError(`poolGoldBias: minAccuracy must be in (0, 1], got ${minAccuracy}`);
  const byAttribute = new Map<string, { gold: number; correct: number }>();
  for (const t of tallies) {
    if (!(Number.isInteger(t.gold) && Number.isInteger(t.correct) && t.correct >= 0 && t.correct <= t.gold)) {
      throw new RangeError(`poolGoldBias: ${t.slice}=${t.value} needs integer counts with 0 <= correct <= gold, got ${t.correct}/${t.gold}`);
    }
    const a = byAttribute.get(t.slice) ?? { gold: 0, correct: 0 };
    a.gold += t.gold;
    a.correct += t.correct;
    byAttribute.set(t.slice, a);
  }
  const rows = [...tallies].sort((x, y) => (x.slice === y.slice ? (x.value < y.value ? -1 : x.value > y.value ? 1 : 0) : x.slice < y.slice ? -1 : 1));
  const base = rows.map((t) => {
    const all = byAttribute.get(t.slice)!;
    const restGold = all.gold - t.gold;
    const restCorrect = all.correct - t.correct;
    const testable = t.gold >= minGold && restGold >= minGold;
    return {
      t,
      restGold,
      restCorrect,
      testable,
      p: testable ? fisherExactTwoSided(t.correct, t.gold - t.correct, restCorrect, restGold - restCorrect) : null,
    };
  });
  const tested = base.filter((b) => b.p !== null);
  const adjusted = holmAdjust(tested.map((b) => b.p!));
  const adjustedOf = new Map(tested.map((b, j) => [b, adjusted[j]!]));
  const floorTested = base.filter((b) => b.t.gold >= minGold).length;
  const floorConfidence = 1 - (1 - confidence) / Math.max(1, floorTested);
  const slices = base.map((b): PoolSliceAccuracy => {
    const { t } = b;
    const pAdjusted = adjustedOf.get(b) ?? null;
    const belowRest = pAdjusted !== null && pAdjusted < alpha && t.correct * b.restGold < b.restCorrect * t.gold;
    const belowFloor = minAccuracy !== null && t.gold >= minGold && wilsonInterval(t.correct, t.gold, floorConfidence).upper! < minAccuracy;
    return {
      slice: t.slice,
      value: t.value,
      goldLabels: t.gold,
      correct: t.correct,
      accuracy: wilsonInterval(t.correct, t.gold, confidence),
      rest: wilsonInterval(b.restCorrect, b.restGold, confidence),
      gap: newcombeDifference(t.correct, t.gold, b.restCorrect, b.restGold, confidence),
      p: b.p,
      pAdjusted,
      insufficient: !b.testable,
      belowRest,
      belowFloor,
      flagged: belowRest || belowFloor,
    };
  });
  const floorRule = minAccuracy === null ? '' : `; or its Wilson upper bound at confidence 1 - ${(1 - confidence).toFixed(2)}/${floorTested} (Bonferroni) is below ${minAccuracy}`;
  return {
    overall: wilsonInterval(total.correct, total.gold, confidence),
    goldLabels: total.gold,
    slices,
    tested: tested.length,
    floorTested,
    alpha,
    minGold,
    minAccuracy,
    rule:
      `pool accuracy on gold per slice value vs the attribute's other values: two-sided Fisher exact, Holm-adjusted over ${tested.length} values, ` +
      `flagged when p < ${alpha} and the value is worse (>= ${minGold} gold labels on each side)${floorRule}`,
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
 * Gold labels (right or wrong, with their item's slice attributes) into per-(attribute, value)
 * tallies; an item without an attribute counts under 'unknown', so each attribute covers every label.
 */
export function tallyGold(rows: readonly { correct: boolean; slices: Readonly<Record<string, string>> }[], maxValues = POOL_BIAS_MAX_VALUES): { tallies: GoldTally[]; total: { gold: number; correct: number } } {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.slices)))].sort();
  const tallies: GoldTally[] = [];
  for (const name of names) {
    const by = new Map<string, GoldTally>();
    for (const r of rows) {
      const value = r.slices[name] ?? 'unknown';
      const t = by.get(value) ?? { slice: name, value, gold: 0, correct: 0 };
      t.gold++;
      if (r.correct) t.correct++;
      by.set(value, t);
    }
    if (by.size <= maxValues) tallies.push(...by.values());
  }
  return { tallies, total: { gold: rows.length, correct: rows.filter((r) => r.correct).length } };
}
