// DeLong's AUC interval: against its definition computed pair by pair, against sklearn's AUC, and
// beside the exact bootstrap it stands in for on large held-out sets.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { delongAucInterval } from '../../analysis/aucInterval';
import { bootstrapAuc } from '../../analysis/bootstrap';
import { rocAuc } from '../../analysis/classification';
import { Rng } from '../../analysis/random';

/** The textbook definition, O(n+ * n-): the reference the fast form must equal. */
function delongByDefinition(labels: number[], scores: number[]) {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = pos.map((x) => neg.reduce((a, y) => a + psi(x, y), 0) / neg.length);
  const v01 = neg.map((y) => pos.reduce((a, x) => a + psi(x, y), 0) / pos.length);
  const auc = v10.reduce((a, b) => a + b, 0) / pos.length;
  const s10 = v10.reduce((a, v) => a + (v - auc) ** 2, 0) / (pos.length - 1);
  const s01 = v01.reduce((a, v) => a + (v - auc) ** 2, 0) / (neg.length - 1);
  return { auc, variance: s10 / pos.length + s01 / neg.length };
}

function synthetic(n: number, seed: number, grid: number | null) {
  const rng = new Rng(seed);
  const labels: number[] = [];
  const scores: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.next() < 0.3 ? 1 : 0;
    let s = Math.min(1, Math.max(0, (y ? 0.62 : 0.4) + (rng.next() - 0.5) * 0.6));
    if (grid) s = Math.round(s * grid) / grid;
    labels.push(y);
    scores.push(s);
  }
  return { labels, scores };
}

test('equals the pairwise definition, with and without ties', () => {
  for (const [seed, grid] of [[1, null], [2, 20], [3, 5]] as const) {
    const { labels, scores } = synthetic(600, seed, grid);
    const fast = delongAucInterval(labels, scores);
    const ref = delongByDefinition(labels, scores);
    assert.ok(Math.abs(fast.estimate! - ref.auc) < 1e-12, `auc ${fast.estimate} vs ${ref.auc}`);
    assert.ok(Math.abs(fast.variance! - ref.variance) < 1e-15, `variance ${fast.variance} vs ${ref.variance}`);
    assert.ok(Math.abs(fast.estimate! - rocAuc(labels, scores)!) < 1e-12, 'the same AUC as the sklearn-checked engine');
  }
});

test('agrees with the exact bootstrap (stratified by label) on a moderate sample', () => {
  const { labels, scores } = synthetic(4000, 7, 100);
  const d = delongAucInterval(labels, scores);
  const b = bootstrapAuc(labels, scores, labels, 2, { B: 2000, seed: 3 });
  // Both estimate the same sampling distribution: endpoints agree to a fraction of the width.
  const width = d.upper! - d.lower!;
  assert.ok(Math.abs(d.lower! - b.lower!) < 0.15 * width, `lower ${d.lower} vs bootstrap ${b.lower}`);
  assert.ok(Math.abs(d.upper! - b.upper!) < 0.15 * width, `upper ${d.upper} vs bootstrap ${b.upper}`);
});

test('one class only gives no interval; the spam predictions get a tight one', () => {
  assert.equal(delongAucInterval([1, 1], [0.2, 0.3]).estimate, null);
  const rows = readFileSync(new URL('../fixtures/spam_predictions.csv', import.meta.url), 'utf8').trim().split('\n').slice(1);
  const labels = rows.map((r) => Number(r.split(',')[0]));
  const scores = rows.map((r) => Number(r.split(',')[1]));
  const i = delongAucInterval(labels, scores);
  assert.ok(i.lower! < i.estimate! && i.estimate! <= i.upper! && i.upper! <= 1);
  assert.ok(i.estimate! > 0.99);
});
