/**
 * Error cost of a binary filter under a cost policy (a false positive and a false negative each
 * with a price, per-slice multipliers), at a given threshold and at the cheapest one. Same
 * conventions and one-sweep method as analysis/thresholds.ts, whose validation it shares.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 */
import { argsortDescending } from './numerics/sort';
import type { EncodedAttribute } from './confusion';
import { checkAttributes, checkRows, flatOffsets } from './thresholds';

export interface CostPolicy {
  falsePositiveCost: number;
  falseNegativeCost: number;
  /**
   * Per-slice multipliers, e.g. a false positive on hard ham costs more. A row in several listed
   * slices (one per attribute) gets the product of their multipliers. The attribute must be among
   * the given attributes; a value absent from the data simply matches no row.
   */
  sliceMultipliers?: { attribute: string; value: string; falsePositive?: number; falseNegative?: number }[];
}

interface CostInput {
  labels: ArrayLike<number>;
  scores: ArrayLike<number>;
  attributes?: EncodedAttribute[];
  cost: CostPolicy;
}

/** Per-code FP and FN multipliers in the flat layout (1 where the policy says nothing). */
function multipliers(fn: string, attributes: EncodedAttribute[], cost: CostPolicy, offsets: Int32Array, size: number) {
  for (const key of ['falsePositiveCost', 'falseNegativeCost'] as const) {
    const v = cost[key];
    if (!(Number.isFinite(v) && v >= 0)) throw new RangeError(`${fn}: ${key} must be a finite number >= 0, got ${v}`);
  }
  const fpMul = new Float64Array(size).fill(1);
  const fnMul = new Float64Array(size).fill(1);
  const seen = new Set<string>();
  for (const m of cost.sliceMultipliers ?? []) {
    const a = attributes.findIndex((x) => x.name === m.attribute);
    if (a < 0) throw new RangeError(`${fn}: slice multiplier for unknown attribute "${m.attribute}"`);
    const id = JSON.stringify([m.attribute, m.value]);
    if (seen.has(id)) throw new RangeError(`${fn}: two slice multipliers for ${m.attribute}=${m.value}`);
    seen.add(id);
    for (const key of ['falsePositive', 'falseNegative'] as const) {
      const v = m[key];
      if (v !== undefined && !(Number.isFinite(v) && v >= 0)) {
        throw new RangeError(`${fn}: ${key} multiplier for ${m.attribute}=${m.value} must be a finite number >= 0, got ${v}`);
      }
    }
    const c = attributes[a]!.values.indexOf(m.value);
    if (c < 0) continue;
    fpMul[offsets[a]! + c] = m.falsePositive ?? 1;
    fnMul[offsets[a]! + c] = m.falseNegative ?? 1;
  }
  return { fpMul, fnMul };
}

/**
 * The cost of the errors at `threshold`: each false positive costs falsePositiveCost, each false
 * negative falseNegativeCost, times the row's slice multipliers (applied in attribute order).
 * `perExample` is total / rows; `bySlice` lists every slice value with rows (attribute order, then
 * code order) with its cost and its share of the total (0 when the total is 0), so the shares of
 * one attribute sum to 1.
 */
export function errorCost(input: CostInput & { threshold: number }): {
  total: number;
  perExample: number;
  falsePositives: number;
  falseNegatives: number;
  bySlice: { attribute: string; value: string; cost: number; share: number }[];
} {
  const { labels, scores, threshold, cost } = input;
  const attributes = input.attributes ?? [];
  const n = checkRows('errorCost', labels, scores);
  checkAttributes('errorCost', attributes, n);
  if (Number.isNaN(threshold)) throw new RangeError('errorCost: threshold is NaN');
  const { offsets, size } = flatOffsets(attributes);
  const { fpMul, fnMul } = multipliers('errorCost', attributes, cost, offsets, size);
  const codes = attributes.map((a) => a.codes);
  const nAttr = attributes.length;
  const sliceCost = new Float64Array(size);
  const sliceRows = new Float64Array(size);
  let total = 0;
  let falsePositives = 0;
  let falseNegatives = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    const flagged = scores[i]! >= threshold;
    let c = 0;
    if (y === 0 && flagged) {
      falsePositives++;
      c = cost.falsePositiveCost;
      for (let a = 0; a < nAttr; a++) c *= fpMul[offsets[a]! + codes[a]![i]!]!;
    } else if (y === 1 && !flagged) {
      falseNegatives++;
      c = cost.falseNegativeCost;
      for (let a = 0; a < nAttr; a++) c *= fnMul[offsets[a]! + codes[a]![i]!]!;
    }
    total += c;
    for (let a = 0; a < nAttr; a++) {
      const k = offsets[a]! + codes[a]![i]!;
      sliceRows[k]!++;
      sliceCost[k]! += c;
    }
  }
  const bySlice: { attribute: string; value: string; cost: number; share: number }[] = [];
  attributes.forEach((attr, a) => {
    attr.values.forEach((value, c) => {
      const k = offsets[a]! + c;
      if (sliceRows[k] === 0) return;
      bySlice.push({ attribute: attr.name, value, cost: sliceCost[k]!, share: total > 0 ? sliceCost[k]! / total : 0 });
    });
  });
  return { total, perExample: total / n, falsePositives, falseNegatives, bySlice };
}

/**
 * The candidate threshold (a distinct score value) with the lowest error cost; ties go to the
 * lowest threshold (the highest recall), as in chooseThreshold.
 *
 * One argsort and one walk: per run of equal scores the walk sums the cost of the negatives it
 * would newly flag and of the positives it would newly catch. The cost at a run's threshold is
 * the FP cost of all runs down to it plus the FN cost of all runs below it; both are running
 * sums (the second accumulated from the bottom), not "total minus caught", which would lose
 * precision to cancellation.
 */
export function minimumCostThreshold(input: CostInput): { threshold: number; cost: number } {
  const { labels, scores, cost } = input;
  const attributes = input.attributes ?? [];
  const n = checkRows('minimumCostThreshold', labels, scores);
  checkAttributes('minimumCostThreshold', attributes, n);
  const { offsets, size } = flatOffsets(attributes);
  const { fpMul, fnMul } = multipliers('minimumCostThreshold', attributes, cost, offsets, size);
  const codes = attributes.map((a) => a.codes);
  const nAttr = attributes.length;

  const order = argsortDescending(scores);
  const runFp = new Float64Array(n);
  const runFn = new Float64Array(n);
  const runThr = new Float64Array(n);
  let m = 0;
  let fpSum = 0;
  let fnSum = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r]!;
    if (labels[i] === 0) {
      let c = cost.falsePositiveCost;
      for (let a = 0; a < nAttr; a++) c *= fpMul[offsets[a]! + codes[a]![i]!]!;
      fpSum += c;
    } else {
      let c = cost.falseNegativeCost;
      for (let a = 0; a < nAttr; a++) c *= fnMul[offsets[a]! + codes[a]![i]!]!;
      fnSum += c;
    }
    const s = scores[i]!;
    if (r !== n - 1 && scores[order[r + 1]!] === s) continue;
    runFp[m] = fpSum;
    runFn[m] = fnSum;
    runThr[m] = s + 0;
    m++;
    fpSum = 0;
    fnSum = 0;
  }
  // Prefix sums in place: runFp[j] becomes the FP cost of everything flagged at runThr[j].
  for (let j = 1; j < m; j++) runFp[j]! += runFp[j - 1]!;
  // From the lowest threshold up, accumulating the FN cost of the runs below; strict < keeps the
  // lowest threshold on ties.
  let missedFn = 0;
  let bestCost = Infinity;
  let bestThr = 0;
  for (let j = m - 1; j >= 0; j--) {
    const c = runFp[j]! + missedFn;
    if (c < bestCost) {
      bestCost = c;
      bestThr = runThr[j]!;
    }
    missedFn += runFn[j]!;
  }
  return { threshold: bestThr, cost: bestCost };
}
