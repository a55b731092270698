/**
 * Group fairness metrics with Fairlearn's definitions, plus seeded bootstrap intervals.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no Math.random, so it is safe to
 * import from Temporal workflow code.
 *
 * ## Definitions (checked against Fairlearn 0.15.0's source, fairlearn/metrics/)
 *
 * Per group a (rows with sensitive feature = a), predictions h = score >= threshold:
 * - selection_rate = P(h = 1 | A = a) = (tp + fp) / count                  (selection_rate)
 * - tpr            = P(h = 1 | A = a, Y = 1) = tp / (tp + fn)               (true_positive_rate)
 * - fpr            = P(h = 1 | A = a, Y = 0) = fp / (fp + tn)               (false_positive_rate)
 * Aggregates, all with method='between_groups' (MetricFrame.difference / .ratio):
 * - demographic_parity_difference = max_a selection_rate - min_a selection_rate
 * - demographic_parity_ratio      = min_a selection_rate / max_a selection_rate
 * - equal_opportunity_difference  = max_a tpr - min_a tpr      (added in Fairlearn 0.11)
 * - equalized_odds_difference     = max(tpr difference, fpr difference)   (agg='worst_case')
 * - tpr_difference / fpr_difference: the two terms of the last one, reported separately.
 *
 * ## Undefined rates: what Fairlearn actually does
 *
 * Fairlearn's true_positive_rate / false_positive_rate call sklearn's
 * confusion_matrix(normalize='true'), which divides each row by its sum and then applies
 * nan_to_num: a group with no actual positives gets TPR = 0.0, not NaN (likewise FPR = 0.0 for a
 * group with no negatives). NaN never reaches max/min, so there is no NaN propagation for these
 * rates; the "undefined" group simply counts as a rate of 0 and usually becomes the minimum (e.g.
 * equal_opportunity_difference = the largest TPR). Groups with no rows at all do not exist for
 * Fairlearn (by_group only has the values present), and pandas' max/min would skip a NaN anyway.
 * The ratio is min/max with 0/0 = NaN when every selection rate is 0.
 *
 * This module reports per-group rates honestly as null when undefined (GroupRates), and lets the
 * caller choose how the aggregates treat such groups:
 * - undefinedRates: 'zero' (default): Fairlearn exactly; an undefined TPR/FPR counts as 0.
 * - undefinedRates: 'exclude': the group is left out of that rate's max/min (what pandas would do
 *   if the rate were NaN); an aggregate with no defined group is null, and equalized odds is null
 *   when either of its terms is.
 * Aggregates that are NaN in Fairlearn (0/0 ratio) are null here.
 *
 * ## Bootstrap
 *
 * Default is stratified by group: each group's rows are resampled within the group, so group
 * sizes stay fixed as in a design that sampled each group separately (and a small group can never
 * vanish from a replicate). Fairlearn's own MetricFrame(n_boot=...) bootstrap instead resamples
 * rows of the whole frame without stratification (DataFrame.sample(frac=1, replace=True)), so
 * group sizes vary and a group can be absent from a replicate (it is then just absent from that
 * replicate's max/min). stratified: false reproduces that: one multinomial over all 4·G cells
 * with n = total rows. Both use ./bootstrap, exact in distribution; all six aggregates come from
 * the same replicates.
 */
import { bootstrapCellsMulti, type BootstrapInterval } from './bootstrap';
import { CELL } from './confusion';

export interface GroupRates {
  group: string;
  count: number;
  /** null when the group has no rows */
  selection_rate: number | null;
  /** null when the group has no actual positives (Fairlearn reports 0.0 there) */
  tpr: number | null;
  /** null when the group has no actual negatives (Fairlearn reports 0.0 there) */
  fpr: number | null;
}

/** The gaps a fairness report carries, in Fairlearn's names; policies and file output read this list. */
export const FAIRNESS_GAPS = [
  'demographic_parity_difference',
  'demographic_parity_ratio',
  'equal_opportunity_difference',
  'equalized_odds_difference',
  'tpr_difference',
  'fpr_difference',
] as const;
export type FairnessGap = (typeof FAIRNESS_GAPS)[number];

export interface FairnessReport {
  attribute: string;
  groups: GroupRates[];
  demographic_parity_difference: BootstrapInterval;
  demographic_parity_ratio: BootstrapInterval;
  equal_opportunity_difference: BootstrapInterval;
  equalized_odds_difference: BootstrapInterval;
  /** reported separately: the two terms of equalized_odds_difference */
  tpr_difference: BootstrapInterval;
  fpr_difference: BootstrapInterval;
  /** How the intervals were resampled: within each group, or over all rows (Fairlearn's way). */
  resampling: 'stratified_by_group' | 'unstratified';
  undefined_rates: 'zero' | 'exclude';
}

export interface FairnessOptions {
  B?: number;
  seed?: number;
  confidence?: number;
  /**
   * Sub-strata per group (default 1). With S > 1, cells holds 4 counts per (group, sub-stratum),
   * group g's sub-stratum j at cells[4 * (g * S + j) ..]; each sub-stratum is resampled on its own
   * (e.g. S = 2 split by label keeps each group's positives and negatives fixed) and the metrics
   * are computed on the per-group sums. Ignored for the split when stratified is false.
   */
  strataPerGroup?: number;
  /** Resample within groups (default true) or over all rows like Fairlearn's MetricFrame (false). */
  stratified?: boolean;
  /** 'zero' (default, Fairlearn) or 'exclude'; see the file comment. */
  undefinedRates?: 'zero' | 'exclude';
}

/** Index of each aggregate in the statistic vector. */
const DPD = 0;
const DPR = 1;
const EOPP = 2;
const EODDS = 3;
const TPRD = 4;
const FPRD = 5;
const N_AGG = 6;

/**
 * The six aggregates from per-group (tp, fp, tn, fn) counts, written to out (NaN = undefined).
 * Groups with no rows are absent, as in Fairlearn.
 */
function disparities(groupCells: Float64Array, nGroups: number, excludeUndefined: boolean, out: Float64Array): void {
  let selMin = Infinity;
  let selMax = -Infinity;
  let tprMin = Infinity;
  let tprMax = -Infinity;
  let fprMin = Infinity;
  let fprMax = -Infinity;
  for (let g = 0; g < nGroups; g++) {
    const o = 4 * g;
    const tp = groupCells[o + CELL.tp]!;
    const fp = groupCells[o + CELL.fp]!;
    const tn = groupCells[o + CELL.tn]!;
    const fn = groupCells[o + CELL.fn]!;
    const count = tp + fp + tn + fn;
    if (count === 0) continue;
    const sel = (tp + fp) / count;
    if (sel < selMin) selMin = sel;
    if (sel > selMax) selMax = sel;
    const P = tp + fn;
    if (P > 0 || !excludeUndefined) {
      const tpr = P > 0 ? tp / P : 0; // sklearn nan_to_num: 0/0 -> 0
      if (tpr < tprMin) tprMin = tpr;
      if (tpr > tprMax) tprMax = tpr;
    }
    const N = fp + tn;
    if (N > 0 || !excludeUndefined) {
      const fpr = N > 0 ? fp / N : 0;
      if (fpr < fprMin) fprMin = fpr;
      if (fpr > fprMax) fprMax = fpr;
    }
  }
  const range = (lo: number, hi: number): number => (hi >= lo ? hi - lo : Number.NaN);
  out[DPD] = range(selMin, selMax);
  // min / max, 0/0 -> NaN as in pandas; no groups -> NaN.
  out[DPR] = selMax >= selMin ? selMin / selMax : Number.NaN;
  const td = range(tprMin, tprMax);
  const fd = range(fprMin, fprMax);
  out[EOPP] = td;
  out[TPRD] = td;
  out[FPRD] = fd;
  // Fairlearn: max(eo.difference()) over [tpr, fpr]; null here if either term is undefined.
  out[EODDS] = Number.isNaN(td) || Number.isNaN(fd) ? Number.NaN : Math.max(td, fd);
}

const rate = (num: number, den: number): number | null => (den > 0 ? num / den : null);

/**
 * Fairness report for one attribute from per-group confusion counts.
 *
 * @param groupValues the value each group index stands for (e.g. EncodedAttribute.values)
 * @param cells confusionByCode output with the attribute's codes: (tp, fp, tn, fn) per group, or
 *   per (group, sub-stratum) when opts.strataPerGroup > 1. Integer counts.
 */
export function fairnessFromCells(attribute: string, groupValues: string[], cells: Float64Array, opts?: FairnessOptions): FairnessReport {
  const G = groupValues.length;
  const S = opts?.strataPerGroup ?? 1;
  if (!(Number.isInteger(S) && S >= 1)) throw new RangeError(`fairnessFromCells: strataPerGroup must be a positive integer, got ${S}`);
  if (G === 0) throw new RangeError('fairnessFromCells: no groups');
  if (cells.length !== 4 * G * S) {
    throw new RangeError(`fairnessFromCells: cells has ${cells.length} counts, expected 4 * ${G} groups * ${S} strata = ${4 * G * S}`);
  }
  const stratified = opts?.stratified ?? true;
  const undefinedRates = opts?.undefinedRates ?? 'zero';
  const exclude = undefinedRates === 'exclude';

  // Sum sub-strata into per-group cells (the metrics only see groups).
  const groupCells = new Float64Array(4 * G);
  const sumGroups = (src: Float64Array): void => {
    if (S === 1) {
      groupCells.set(src);
      return;
    }
    groupCells.fill(0);
    for (let g = 0; g < G; g++) {
      for (let j = 0; j < S; j++) {
        const o = 4 * (g * S + j);
        for (let c = 0; c < 4; c++) groupCells[4 * g + c]! += src[o + c]!;
      }
    }
  };

  sumGroups(cells);
  const groups: GroupRates[] = groupValues.map((group, g) => {
    const tp = groupCells[4 * g + CELL.tp]!;
    const fp = groupCells[4 * g + CELL.fp]!;
    const tn = groupCells[4 * g + CELL.tn]!;
    const fn = groupCells[4 * g + CELL.fn]!;
    const count = tp + fp + tn + fn;
    return { group, count, selection_rate: rate(tp + fp, count), tpr: rate(tp, tp + fn), fpr: rate(fp, fp + tn) };
  });

  const intervals = bootstrapCellsMulti(
    cells,
    stratified ? G * S : 1,
    N_AGG,
    (resampled, out) => {
      sumGroups(resampled);
      disparities(groupCells, G, exclude, out);
    },
    { B: opts?.B, seed: opts?.seed, confidence: opts?.confidence },
  );

  return {
    attribute,
    groups,
    demographic_parity_difference: intervals[DPD]!,
    demographic_parity_ratio: intervals[DPR]!,
    equal_opportunity_difference: intervals[EOPP]!,
    equalized_odds_difference: intervals[EODDS]!,
    tpr_difference: intervals[TPRD]!,
    fpr_difference: intervals[FPRD]!,
    resampling: stratified ? 'stratified_by_group' : 'unstratified',
    undefined_rates: undefinedRates,
  };
}
