/**
 * Judging a set of labels: agreement (Cohen, Fleiss, Krippendorff) with the class balance beside it,
 * per-annotator gold accuracy and slice-bias flags, and Dawid-Skene beside majority vote. One function
 * for `retrain labels quality FILE` and for the annotation batches the workflows aggregate.
 *
 * Pure: no I/O, no clock.
 */
import {
  annotatorQuality,
  classBalance,
  cohenKappaMean,
  fleissKappaDetail,
  krippendorffAlpha,
  labelTable,
  type BiasFlag,
  type LabelTable,
} from './agreement';
import { dawidSkene, majorityVote, type DawidSkeneResult, type Aggregation } from './dawidSkene';
import { wilsonInterval, type Interval } from './numerics/intervals';
import { fisherExactTwoSided } from './numerics/tests';

export interface LabelsQuality {
  labels: number;
  items: number;
  annotators_count: number;
  class_balance: { category: string; share: number }[];
  cohen_kappa_mean: number | null;
  cohen_pairs: { a: string; b: string; n: number; kappa: number | null }[];
  fleiss_kappa: number | null;
  fleiss_items_used: number;
  krippendorff_alpha: number | null;
  annotators: Record<string, { labels: number; gold_count: number; gold_accuracy: Interval; flags: BiasFlag[] }>;
  dawid_skene: Record<string, { label: string; posterior: number }>;
  majority: Record<string, string>;
  dawid_skene_iterations: number;
}

export interface LabelsInput {
  rows: { item: string; annotator: string; label: string }[];
  /** Known label per item (gold items). Every value must be one of the labels in rows. */
  goldOfItem: Map<string, string>;
  /** Slice attributes to test annotators for bias on: name and the value of each item ('' when absent). */
  slices: { name: string; valueOfItem: Map<string, string> }[];
}

/** The quality report plus the table and both aggregations, for callers that store per-item results. */
export function judgeLabels(input: LabelsInput): { quality: LabelsQuality; table: LabelTable; ds: DawidSkeneResult; mv: Aggregation } {
  const { rows } = input;
  const t = labelTable(rows);
  const categoryCode = new Map(t.categories.map((c, i) => [c, i]));
  const itemCode = new Map(t.items.map((c, i) => [c, i]));
  const gold = new Map<number, number>();
  for (const [item, label] of input.goldOfItem) {
    const code = categoryCode.get(label);
    const i = itemCode.get(item);
    if (code === undefined) throw new RangeError(`gold '${label}' of item '${item}' is not among the labels given (${t.categories.join(', ')})`);
    if (i !== undefined) gold.set(i, code);
  }
  const ds = dawidSkene(t);
  const mv = majorityVote(t);
  const K = t.categories.length;
  const quality = new Map<string, LabelsQuality['annotators'][string]>();
  const sliceViews = input.slices.length ? input.slices : [null];
  for (const view of sliceViews) {
    const sliceOf =
      view === null
        ? undefined
        : (() => {
            const values = [...new Set(t.items.map((item) => view.valueOfItem.get(item) ?? ''))].sort();
            const code = new Map(values.map((v, i) => [v, i]));
            return { name: view.name, values, valueOfItem: Uint32Array.from(t.items, (item) => code.get(view.valueOfItem.get(item) ?? '')!) };
          })();
    for (const q of annotatorQuality(t, gold, sliceOf, ds.labels)) {
      const prior = quality.get(q.annotator);
      quality.set(q.annotator, {
        labels: q.labels,
        gold_count: q.goldCount,
        gold_accuracy: q.goldAccuracy,
        flags: [...(prior?.flags ?? []), ...q.flags],
      });
    }
  }
  const kappas = cohenKappaMean(t);
  const fleiss = fleissKappaDetail(t);
  const report: LabelsQuality = {
    labels: rows.length,
    items: t.items.length,
    annotators_count: t.annotators.length,
    class_balance: classBalance(t),
    cohen_kappa_mean: kappas.mean,
    cohen_pairs: kappas.pairs,
    fleiss_kappa: fleiss.kappa,
    fleiss_items_used: fleiss.items,
    krippendorff_alpha: krippendorffAlpha(t),
    annotators: Object.fromEntries(quality),
    dawid_skene: Object.fromEntries(t.items.map((item, i) => [item, { label: t.categories[ds.labels[i]!]!, posterior: ds.posteriors[i * K + ds.labels[i]!]! }])),
    majority: Object.fromEntries(t.items.map((item, i) => [item, t.categories[mv.labels[i]!]!])),
    dawid_skene_iterations: ds.iterations,
  };
  return { quality: report, table: t, ds, mv };
}

export interface GoldPoint {
  batchId: string;
  at: string;
  gold: number;
  correct: number;
}

export interface GoldDrift {
  series: (GoldPoint & { accuracy: Interval })[];
  /** The latest batch against all earlier ones pooled (null when either side has too little gold). */
  latest: Interval | null;
  baseline: Interval | null;
  /** Two-sided Fisher exact p of latest vs baseline. */
  p: number | null;
  drifted: boolean;
  rule: string;
}

export const DRIFT_ALPHA = 0.01;
export const DRIFT_MIN_GOLD = 10;

/**
 * An annotator's accuracy on gold, batch by batch, and whether it has drifted: the latest batch is
 * compared with every earlier batch pooled by a two-sided Fisher exact test; drift is flagged when
 * p < 0.01, both sides hold at least 10 gold labels, and the latest accuracy is the lower one.
 */
export function goldAccuracyDrift(points: readonly GoldPoint[]): GoldDrift {
  const rule = `latest batch vs earlier batches pooled: Fisher exact p < ${DRIFT_ALPHA}, >= ${DRIFT_MIN_GOLD} gold labels on each side, latest lower`;
  const series = points.map((p) => ({ ...p, accuracy: wilsonInterval(p.correct, p.gold) }));
  const withGold = points.filter((p) => p.gold > 0);
  if (withGold.length < 2) return { series, latest: null, baseline: null, p: null, drifted: false, rule };
  const last = withGold.at(-1)!;
  const earlier = withGold.slice(0, -1);
  const bGold = earlier.reduce((a, p) => a + p.gold, 0);
  const bCorrect = earlier.reduce((a, p) => a + p.correct, 0);
  const latest = wilsonInterval(last.correct, last.gold);
  const baseline = wilsonInterval(bCorrect, bGold);
  if (last.gold < DRIFT_MIN_GOLD || bGold < DRIFT_MIN_GOLD) return { series, latest, baseline, p: null, drifted: false, rule };
  const p = fisherExactTwoSided(last.correct, last.gold - last.correct, bCorrect, bGold - bCorrect);
  const drifted = p < DRIFT_ALPHA && last.correct / last.gold < bCorrect / bGold;
  return { series, latest, baseline, p, drifted, rule };
}
