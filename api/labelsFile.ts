// "Bring your own labels": a CSV of (item, annotator, label), optional gold and slice columns, judged
// like the annotation workforce's labels are: agreement, per-annotator gold accuracy and slice-bias
// flags, and Dawid-Skene beside majority vote. Used by `retrain labels quality FILE`.
import { judgeLabels, type LabelsQuality } from '../analysis/labelQuality';
import { PredictionsFileError as FileError, csvRecords } from './predictionsFile';

export type { LabelsQuality } from '../analysis/labelQuality';

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

  const categories = new Set(rows.map((r) => r.label));
  for (const [item, { label, line }] of goldOfItem) {
    if (!categories.has(label)) throw new FileError(`gold '${label}' for item '${item}' is not among the labels given (${[...categories].sort().join(', ')})`, line, 'gold');
  }
  return judgeLabels({
    rows,
    goldOfItem: new Map([...goldOfItem].map(([item, g]) => [item, g.label])),
    slices: slices.map((name, s) => ({ name, valueOfItem: new Map([...sliceOfItem[s]!].map(([item, v]) => [item, v.value])) })),
  }).quality;
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
