// "Bring your own labels": a CSV of (item, annotator, label), optional gold and slice columns, judged
// like the annotation workforce's labels are: agreement, per-annotator gold accuracy and slice-bias
// flags, and Dawid-Skene beside majority vote. Used by `retrain labels quality FILE`.
import {
  annotatorQuality,
  classBalance,
  cohenKappaMean,
  fleissKappaDetail,
  krippendorffAlpha,
  labelTable,
  type BiasFlag,
} from '../analysis/agreement';
import { dawidSkene, majorityVote } from '../analysis/dawidSkene';
import type { Interval } from '../analysis/intervals';
import { PredictionsFileError as FileError, csvRecords } from './predictionsFile';

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

export function evaluateLabelsFile(text: string, opts: { slices?: string[] } = {}): LabelsQuality {
  const { header, records } = csvRecords(text);
  for (const required of ['item', 'annotator', 'label']) {
    if (!header.includes(required)) throw new FileError(`the header has no '${required}' column (found: ${header.join(', ') || 'nothing'})`, 1, null);
  }
  const slices = opts.slices ?? [];
  for (const name of slices) {
    if (!header.includes(name)) throw new FileError(`--slices names '${name}', which is not a column (columns: ${header.join(', ')})`, 1, name);
  }
  if (records.length === 0) throw new FileError('the file has a header but no rows', null, null);
  const rows: { item: string; annotator: string; label: string }[] = [];
  const goldOfItem = new Map<string, { label: string; line: number }>();
  const sliceOfItem = slices.map(() => new Map<string, { value: string; line: number }>());
  const seen = new Map<string, number>();
  for (const { record, line } of records) {
    for (const col of ['item', 'annotator', 'label'] as const) {
      if (!record[col]) throw new FileError(`${col} is empty`, line, col);
    }
    const key = `${record.item}\u0000${record.annotator}`;
    const first = seen.get(key);
    if (first !== undefined) throw new FileError(`annotator '${record.annotator}' labelled item '${record.item}' twice (first on line ${first})`, line, 'annotator');
    seen.set(key, line);
    rows.push({ item: record.item!, annotator: record.annotator!, label: record.label! });
    // Gold and slice values belong to the item: every row of an item must agree on them.
    const gold = record.gold ?? '';
    if (gold !== '') {
      const known = goldOfItem.get(record.item!);
      if (known && known.label !== gold) throw new FileError(`gold '${gold}' for item '${record.item}' contradicts '${known.label}' on line ${known.line}`, line, 'gold');
      goldOfItem.set(record.item!, { label: gold, line });
    }
    slices.forEach((name, s) => {
      const value = record[name] ?? '';
      const known = sliceOfItem[s]!.get(record.item!);
      if (known && known.value !== value) throw new FileError(`${name} '${value}' for item '${record.item}' contradicts '${known.value}' on line ${known.line}`, line, name);
      sliceOfItem[s]!.set(record.item!, { value, line });
    });
  }

  const t = labelTable(rows);
  const categoryCode = new Map(t.categories.map((c, i) => [c, i]));
  const itemCode = new Map(t.items.map((c, i) => [c, i]));
  const gold = new Map<number, number>();
  for (const [item, { label, line }] of goldOfItem) {
    const code = categoryCode.get(label);
    if (code === undefined) throw new FileError(`gold '${label}' is not among the labels given (${t.categories.join(', ')})`, line, 'gold');
    gold.set(itemCode.get(item)!, code);
  }
  const ds = dawidSkene(t);
  const mv = majorityVote(t);
  const K = t.categories.length;
  const quality = new Map<string, LabelsQuality['annotators'][string]>();
  const sliceViews = slices.length ? slices : [null];
  sliceViews.forEach((name, s) => {
    const sliceOf =
      name === null
        ? undefined
        : (() => {
            const values = [...new Set(t.items.map((item) => sliceOfItem[s]!.get(item)?.value ?? ''))].sort();
            const code = new Map(values.map((v, i) => [v, i]));
            return { name, values, valueOfItem: Uint32Array.from(t.items, (item) => code.get(sliceOfItem[s]!.get(item)?.value ?? '')!) };
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
  });
  const kappas = cohenKappaMean(t);
  const fleiss = fleissKappaDetail(t);
  return {
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
}

export function formatLabelsQuality(q: LabelsQuality): string {
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const lines = [
    `${q.labels} labels on ${q.items} items by ${q.annotators_count} annotators; classes ${q.class_balance.map((c) => `${c.category} ${(100 * c.share).toFixed(1)}%`).join(', ')}`,
    `Agreement: Cohen's kappa (mean over pairs) ${f(q.cohen_kappa_mean)}, Fleiss' kappa ${f(q.fleiss_kappa)} (${q.fleiss_items_used} items with the modal rater count), Krippendorff's alpha ${f(q.krippendorff_alpha)}`,
    '',
    `${'annotator'.padEnd(16)} ${'labels'.padStart(7)} ${'gold'.padStart(5)}  gold accuracy [95%]   flags`,
  ];
  for (const [name, a] of Object.entries(q.annotators)) {
    const acc = a.gold_accuracy.estimate === null ? 'n/a'.padEnd(20) : `${f(a.gold_accuracy.estimate)} [${f(a.gold_accuracy.lower)}, ${f(a.gold_accuracy.upper)}]`;
    const flags = a.flags.map((g) => `${g.slice}=${g.value}: disagrees ${(100 * g.disagreement).toFixed(0)}% vs ${(100 * g.rest).toFixed(0)}% elsewhere (n ${g.n}, p ${g.p.toExponential(1)})`).join('; ');
    lines.push(`${name.padEnd(16)} ${String(a.labels).padStart(7)} ${String(a.gold_count).padStart(5)}  ${acc.padEnd(20)}  ${flags || '-'}`);
  }
  const disagree = Object.keys(q.majority).filter((item) => q.majority[item] !== q.dawid_skene[item]!.label).length;
  lines.push('', `Aggregation: Dawid-Skene (${q.dawid_skene_iterations} EM iterations) and majority vote differ on ${disagree} of ${q.items} items`);
  return lines.join('\n');
}
