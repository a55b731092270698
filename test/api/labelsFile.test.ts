// Bring your own labels: the file path reproduces the reference libraries' agreement numbers and
// crowd-kit's Dawid-Skene, flags the planted-bias annotator on its slice, and names bad lines.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { PredictionsFileError } from '../../api/predictionsFile';
import { evaluateLabelsFile } from '../../api/labelsFile';

interface Dataset {
  name: string;
  rows: [string, string, string][];
  items: string[];
  region: string[];
  gold: Record<string, string>;
  biased: { annotator: string; slice: string; value: string } | null;
  cohen: { a: string; b: string; kappa: number }[];
  fleiss: { kappa: number };
  krippendorff_alpha: number;
  majority_vote: { labels: string[] };
  dawid_skene: { labels: string[] };
}
const oracle = JSON.parse(readFileSync(path.join(import.meta.dirname, '..', 'fixtures', 'agreement_oracle.json'), 'utf8')) as { datasets: Dataset[] };

/** Cohen's kappa averaged over the reference's annotator pairs. */
const cohenMean = (d: Dataset) => d.cohen.reduce((sum, c) => sum + c.kappa, 0) / d.cohen.length;

/** Gold accuracy by its definition: the share of an annotator's labels on gold items that match the gold label. */
function goldAccuracy(d: Dataset): Record<string, number> {
  const counts: Record<string, { right: number; n: number }> = {};
  for (const [item, annotator, label] of d.rows) {
    if (d.gold[item] === undefined) continue;
    counts[annotator] ??= { right: 0, n: 0 };
    counts[annotator].n++;
    if (label === d.gold[item]) counts[annotator].right++;
  }
  return Object.fromEntries(Object.entries(counts).map(([a, c]) => [a, c.right / c.n]));
}

function toCsv(d: Dataset): string {
  const regionOf = new Map(d.items.map((item, i) => [item, d.region[i]!]));
  return ['item,annotator,label,gold,region', ...d.rows.map(([item, annotator, label]) => `${item},${annotator},${label},${d.gold[item] ?? ''},${regionOf.get(item)}`)].join('\n');
}

for (const d of oracle.datasets) {
  test(`${d.name}: agreement and Dawid-Skene match the references; bias flags where planted only`, () => {
    const q = evaluateLabelsFile(toCsv(d), { slices: ['region'] });
    assert.ok(Math.abs(q.fleiss_kappa! - d.fleiss.kappa) < 1e-9, `fleiss ${q.fleiss_kappa} vs ${d.fleiss.kappa}`);
    assert.ok(Math.abs(q.krippendorff_alpha! - d.krippendorff_alpha) < 1e-9);
    assert.ok(Math.abs(q.cohen_kappa_mean! - cohenMean(d)) < 1e-9, `cohen mean ${q.cohen_kappa_mean} vs ${cohenMean(d)}`);
    for (const [annotator, accuracy] of Object.entries(goldAccuracy(d))) assert.ok(Math.abs(q.annotators[annotator]!.gold_accuracy.estimate! - accuracy) < 1e-12, `${annotator} gold accuracy`);
    d.items.forEach((item, i) => assert.equal(q.dawid_skene[item]!.label, d.dawid_skene.labels[i], `DS label of ${item}`));
    const flagged = Object.entries(q.annotators).flatMap(([name, a]) => a.flags.map((f) => `${name}:${f.slice}=${f.value}`));
    assert.deepEqual(flagged, d.biased ? [`${d.biased.annotator}:${d.biased.slice}=${d.biased.value}`] : []);
  });
}

test('bad label files name the line and the column', () => {
  const fails = (text: string, pattern: RegExp) => assert.throws(() => evaluateLabelsFile(text, { slices: ['region'] }), (e) => e instanceof PredictionsFileError && pattern.test(e.message));
  fails('item,label\nx,1\n', /no 'annotator' column/);
  fails('item,annotator,label,region\nx,a,1,n\nx,a,0,n\n', /line 3, column annotator: annotator 'a' labelled item 'x' twice \(first on line 2\)/);
  fails('item,annotator,label,region\nx,a,1,n\nx,b,0,s\n', /line 3, column region: region 's' for item 'x' contradicts 'n' on line 2/);
  fails('item,annotator,label,region\nx,,1,n\n', /line 2, column annotator: annotator is empty/);
  assert.throws(() => evaluateLabelsFile('item,annotator,label\nx,a,1\n', { slices: ['region'] }), /--slices names 'region'/);
});

test('the CLI prints the reference values under the documented JSON keys', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'retrain-labels-'));
  const file = path.join(dir, 'labels.csv');
  const d = oracle.datasets[1]!;
  writeFileSync(file, toCsv(d));
  const cli = path.join(import.meta.dirname, '..', '..', 'bin', 'retrain.ts');
  const doc = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', cli, 'labels', 'quality', file, '--slices', 'region', '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 })) as {
    cohen_kappa_mean: number;
    fleiss_kappa: number;
    krippendorff_alpha: number;
    annotators: Record<string, { gold_accuracy: { estimate: number }; flags: { slice: string; value: string }[] }>;
    dawid_skene: Record<string, { label: string }>;
    majority: Record<string, string>;
  };
  assert.ok(Math.abs(doc.cohen_kappa_mean - cohenMean(d)) < 1e-9, `cohen_kappa_mean ${doc.cohen_kappa_mean} vs ${cohenMean(d)}`);
  assert.ok(Math.abs(doc.fleiss_kappa - d.fleiss.kappa) < 1e-9, `fleiss_kappa ${doc.fleiss_kappa} vs ${d.fleiss.kappa}`);
  assert.ok(Math.abs(doc.krippendorff_alpha - d.krippendorff_alpha) < 1e-9, `krippendorff_alpha ${doc.krippendorff_alpha} vs ${d.krippendorff_alpha}`);
  d.items.forEach((item, i) => {
    assert.equal(doc.dawid_skene[item]!.label, d.dawid_skene.labels[i], `dawid_skene of ${item}`);
    assert.equal(doc.majority[item], d.majority_vote.labels[i], `majority of ${item}`);
  });
  for (const [annotator, accuracy] of Object.entries(goldAccuracy(d))) assert.ok(Math.abs(doc.annotators[annotator]!.gold_accuracy.estimate - accuracy) < 1e-12, `${annotator} gold_accuracy`);
  const flagged = Object.entries(doc.annotators).flatMap(([name, a]) => a.flags.map((f) => `${name}:${f.slice}=${f.value}`));
  assert.deepEqual(flagged, [`${d.biased!.annotator}:${d.biased!.slice}=${d.biased!.value}`]);
  writeFileSync(file, 'item,annotator,label\nx,a,1\nx,a,0\n');
  const bad = spawnSync(process.execPath, ['--import', 'tsx', cli, 'labels', 'quality', file], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /line 3, column annotator/);
});
