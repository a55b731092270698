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

// Two-sided normal critical values from scipy (norm.ppf(0.975), norm.ppf(0.95)), not from our own
// normalQuantile, so the bounds are checked against the definition independently.
const Z = { 0.95: 1.959963984540054, 0.9: 1.6448536269514722 } as const;

test('equals the pairwise definition, with and without ties: AUC, variance and bounds', () => {
  for (const [seed, grid] of [[1, null], [2, 20], [3, 5]] as const) {
    const { labels, scores } = synthetic(600, seed, grid);
    const ref = delongByDefinition(labels, scores);
    for (const confidence of [0.95, 0.9] as const) {
      const fast = confidence === 0.95 ? delongAucInterval(labels, scores) : delongAucInterval(labels, scores, confidence);
      assert.ok(Math.abs(fast.estimate! - ref.auc) < 1e-12, `auc ${fast.estimate} vs ${ref.auc}`);
      assert.ok(Math.abs(fast.variance! - ref.variance) < 1e-15, `variance ${fast.variance} vs ${ref.variance}`);
      // AUC -+ z sd, clipped to [0, 1].
      const half = Z[confidence] * Math.sqrt(ref.variance);
      assert.ok(Math.abs(fast.lower! - Math.max(0, ref.auc - half)) < 1e-12, `lower ${fast.lower} @ ${confidence}`);
      assert.ok(Math.abs(fast.upper! - Math.min(1, ref.auc + half)) < 1e-12, `upper ${fast.upper} @ ${confidence}`);
    }
    assert.ok(Math.abs(delongAucInterval(labels, scores).estimate! - rocAuc(labels, scores)!) < 1e-12, 'the same AUC as the sklearn-checked engine');
  }
  // Nearly separated classes: the upper bound is clipped at 1, the lower one is still the definition's.
  const labels = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
  const scores = [0.9, 0.8, 0.85, 0.7, 0.95, 0.3, 0.1, 0.2, 0.35, 0.05, 0.15, 0.25, 0.4];
  const ref = delongByDefinition(labels, scores);
  const iv = delongAucInterval(labels, scores);
  const half = Z[0.95] * Math.sqrt(ref.variance);
  assert.ok(ref.auc + half > 1, 'the case clips');
  assert.equal(iv.upper, 1);
  assert.ok(Math.abs(iv.lower! - (ref.auc - half)) < 1e-12);
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
