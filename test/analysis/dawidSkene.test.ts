import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { labelTable, type LabelTable } from '../../analysis/agreement';
import { dawidSkene, majorityVote } from '../../analysis/dawidSkene';
import { Rng } from '../../analysis/random';
import { assertClose } from './oracle';

interface OracleDataset {
  name: string;
  rows: [string, string, string][];
  items: string[];
  categories: string[];
  majority_vote: { labels: string[]; probas: number[] };
  dawid_skene: { labels: string[]; probas: number[]; priors: number[]; iterations: number; loss_history: number[] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/agreement_oracle.json', import.meta.url), 'utf8')) as {
  datasets: OracleDataset[];
};
const tableOf = (d: OracleDataset): LabelTable =>
  labelTable(d.rows.map(([item, annotator, label]) => ({ item, annotator, label })));

test('majorityVote matches crowd-kit MajorityVote', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    const mv = majorityVote(t);
    // crowd-kit breaks ties by pandas column order (first appearance in value_counts, i.e. data
    // order); we break them by lowest code. So compare labels on untied items, and check the rule on tied ones.
    const K = t.categories.length;
    let ties = 0;
    for (let i = 0; i < t.items.length; i++) {
      const row = mv.posteriors.subarray(i * K, i * K + K);
      const max = Math.max(...row);
      const first = row.indexOf(max);
      if (row.lastIndexOf(max) !== first) {
        ties++;
        assert.equal(mv.labels[i], first, `${d.name} tie at ${i}`);
      } else {
        assert.equal(t.categories[mv.labels[i]!], d.majority_vote.labels[i], `${d.name} mv label ${i}`);
      }
    }
    console.log(`# ${d.name}: majority vote ${ties} tied items of ${t.items.length}`);
    d.majority_vote.probas.forEach((p, j) => assertClose(mv.posteriors[j]!, p, `${d.name} mv proba ${j}`, 1e-12));
  }
});

test('majorityVote: ties go to the lowest category code', () => {
  const t = labelTable([
    { item: 'i', annotator: 'x', label: 'b' },
    { item: 'i', annotator: 'y', label: 'a' },
  ]);
  assert.deepEqual([...majorityVote(t).labels], [0]);
});

test('dawidSkene matches crowd-kit DawidSkene(100, 1e-5): labels, posteriors, priors, iterations', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    const ds = dawidSkene(t);
    const labels = [...ds.labels].map((k) => t.categories[k]);
    assert.deepEqual(labels, d.dawid_skene.labels, `${d.name} labels`);
    let maxDiff = 0;
    d.dawid_skene.probas.forEach((p, j) => (maxDiff = Math.max(maxDiff, Math.abs(ds.posteriors[j]! - p))));
    assert.ok(maxDiff <= 1e-6, `${d.name} max posterior diff ${maxDiff}`);
    d.dawid_skene.priors.forEach((p, k) => assertClose(ds.priors[k]!, p, `${d.name} prior ${k}`, 1e-6));
    assert.equal(ds.iterations, d.dawid_skene.iterations, `${d.name} iterations`);
    assert.equal(ds.converged, ds.iterations < 100);
    d.dawid_skene.loss_history.forEach((l, j) => assertClose(ds.lossHistory[j]!, l, `${d.name} loss ${j}`, 1e-9));
    // Confusion rows (true class) are distributions over observed labels.
    const K = t.categories.length;
    for (let a = 0; a < t.annotators.length; a++) {
      for (let c = 0; c < K; c++) {
        let s = 0;
        for (let o = 0; o < K; o++) s += ds.confusion[(a * K + c) * K + o]!;
        assertClose(s, 1, `${d.name} confusion row sum`, 1e-12);
      }
    }
    console.log(`# ${d.name}: ${t.item.length} labels, DS ${ds.iterations} iterations, max |posterior - crowd-kit| = ${maxDiff.toExponential(2)}`);
  }
});

/** Synthetic 2-class set: `accuracy[a]` per annotator, every annotator labels every item. */
function synthetic(rng: Rng, nItems: number, accuracy: number[]): { t: LabelTable; truth: Uint8Array } {
  const A = accuracy.length;
  const n = nItems * A;
  const truth = new Uint8Array(nItems);
  const item = new Uint32Array(n);
  const annotator = new Uint32Array(n);
  const label = new Uint32Array(n);
  let r = 0;
  for (let i = 0; i < nItems; i++) {
    truth[i] = rng.next() < 0.3 ? 1 : 0;
    for (let a = 0; a < A; a++, r++) {
      item[r] = i;
      annotator[r] = a;
      label[r] = rng.next() < accuracy[a]! ? truth[i]! : 1 - truth[i]!;
    }
  }
  const pad = (k: number, w: number): string => String(k).padStart(w, '0');
  return {
    t: {
      items: Array.from({ length: nItems }, (_, i) => `i${pad(i, 7)}`),
      annotators: accuracy.map((_, a) => `a${pad(a, 2)}`),
      categories: ['0', '1'],
      item,
      annotator,
      label,
    },
    truth,
  };
}

const accuracyOf = (labels: Uint32Array, truth: Uint8Array): number => {
  let ok = 0;
  for (let i = 0; i < truth.length; i++) if (labels[i] === truth[i]) ok++;
  return ok / truth.length;
};

test('dawidSkene beats majority vote when one annotator is very noisy', () => {
  // Four annotators: two good, one mediocre, one near-random; majority vote weighs them equally
  // (and breaks 2-2 ties toward class 0), Dawid-Skene learns to discount the noisy one.
  const { t, truth } = synthetic(new Rng(20261127), 3000, [0.9, 0.85, 0.7, 0.52]);
  const mv = accuracyOf(majorityVote(t).labels, truth);
  const ds = dawidSkene(t);
  const dsAcc = accuracyOf(ds.labels, truth);
  console.log(`# noisy annotator: majority vote accuracy ${mv.toFixed(4)}, Dawid-Skene ${dsAcc.toFixed(4)}`);
  assert.ok(dsAcc > mv + 0.01, `DS ${dsAcc} vs MV ${mv}`);
  // It also recovers the noisy annotator's accuracy (diagonal of its confusion matrix).
  const c = ds.confusion.subarray(3 * 4, 4 * 4);
  assert.ok(Math.abs(c[0]! - 0.52) < 0.05 && Math.abs(c[3]! - 0.52) < 0.05, `noisy confusion ${[...c]}`);
});

test('dawidSkene: 100k labels (20k items x 5 annotators) converge within the 100-pass cap, each pass O(labels)', () => {
  // The iteration count is the work counter (each pass is one sweep over the labels); the 1M-label
  // timing against majority vote and crowd-kit is bench/dawidSkene.bench.ts.
  const { t, truth } = synthetic(new Rng(7), 20_000, [0.9, 0.8, 0.75, 0.7, 0.55]);
  const ds = dawidSkene(t);
  assert.equal(ds.labels.length, 20_000);
  assert.ok(ds.converged && ds.iterations < 100, `${ds.iterations} iterations, converged ${ds.converged}`);
  assert.ok(accuracyOf(ds.labels, truth) > accuracyOf(majorityVote(t).labels, truth));
});
