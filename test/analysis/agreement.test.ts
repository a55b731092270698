import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  annotatorQuality,
  classBalance,
  cohenKappa,
  cohenKappaMean,
  fleissKappa,
  fleissKappaDetail,
  krippendorffAlpha,
  labelTable,
  type LabelTable,
} from '../../analysis/agreement';
import { dawidSkene } from '../../analysis/dawidSkene';
import { assertClose } from './oracle';

interface OracleDataset {
  name: string;
  rows: [string, string, string][];
  region: string[];
  gold: Record<string, string>;
  biased: { annotator: string; slice: string; value: string } | null;
  items: string[];
  annotators: string[];
  categories: string[];
  cohen: { a: string; b: string; n: number; kappa: number | null }[];
  fleiss: { raters: number; items: number; kappa: number | null };
  krippendorff_alpha: number | null;
  majority_vote: { labels: string[]; probas: number[] };
  dawid_skene: { labels: string[]; probas: number[]; priors: number[]; iterations: number; loss_history: number[] };
}
interface Oracle {
  datasets: OracleDataset[];
  fisher: { table: [[number, number], [number, number]]; p: number }[];
}

const oracle = JSON.parse(
  readFileSync(new URL('../fixtures/agreement_oracle.json', import.meta.url), 'utf8'),
) as Oracle;

const tableOf = (d: OracleDataset): LabelTable =>
  labelTable(d.rows.map(([item, annotator, label]) => ({ item, annotator, label })));

test('labelTable: sorted codes, same as the oracle', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    assert.deepEqual(t.items, d.items, d.name);
    assert.deepEqual(t.annotators, d.annotators, d.name);
    assert.deepEqual(t.categories, d.categories, d.name);
    assert.equal(t.item.length, d.rows.length);
  }
});

test('labelTable: a duplicate (item, annotator) pair throws naming it', () => {
  assert.throws(
    () =>
      labelTable([
        { item: 'x', annotator: 'ann1', label: 'a' },
        { item: 'y', annotator: 'ann1', label: 'a' },
        { item: 'x', annotator: 'ann1', label: 'b' },
      ]),
    /item "x" by annotator "ann1"/,
  );
});

test('cohenKappa / cohenKappaMean match sklearn cohen_kappa_score for every pair', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    const { pairs, mean } = cohenKappaMean(t, 1);
    assert.equal(pairs.length, d.cohen.length);
    let sum = 0;
    let used = 0;
    d.cohen.forEach((e, j) => {
      const got = pairs[j]!;
      assert.equal(got.a, e.a);
      assert.equal(got.b, e.b);
      assert.equal(got.n, e.n, `${d.name} ${e.a}-${e.b} n`);
      assertClose(got.kappa, e.kappa, `${d.name} kappa ${e.a}-${e.b}`);
      if (e.kappa !== null) {
        sum += e.kappa;
        used++;
      }
    });
    assertClose(mean, used ? sum / used : null, `${d.name} mean kappa`);

    // The two-vector form on the first pair, built from the rows directly.
    const [a, b] = [0, 1];
    const byItem = new Map<number, number[]>();
    for (let r = 0; r < t.item.length; r++) {
      const x = t.annotator[r]!;
      if (x !== a && x !== b) continue;
      const e = byItem.get(t.item[r]!) ?? [-1, -1];
      e[x === a ? 0 : 1] = t.label[r]!;
      byItem.set(t.item[r]!, e);
    }
    const both = [...byItem.values()].filter(([x, y]) => x! >= 0 && y! >= 0);
    assertClose(
      cohenKappa(both.map((v) => v[0]!), both.map((v) => v[1]!), t.categories.length),
      d.cohen[0]!.kappa,
      `${d.name} cohenKappa vectors`,
    );
  }
  // minOverlap excludes thin pairs from the mean but still lists them.
  const sparse = oracle.datasets.find((d) => d.name === 'ternary_8ann_sparse')!;
  const r = cohenKappaMean(tableOf(sparse), 100);
  const kept = sparse.cohen.filter((e) => e.n >= 100 && e.kappa !== null);
  assert.ok(kept.length > 0 && kept.length < sparse.cohen.length);
  assertClose(r.mean, kept.reduce((s, e) => s + e.kappa!, 0) / kept.length, 'mean over pairs with n >= 100');
  assert.equal(r.pairs.filter((p) => p.kappa !== null).length, kept.length);
});

test('cohenKappa edge cases', () => {
  assert.equal(cohenKappa([], [], 2), null);
  assert.equal(cohenKappa([1, 1, 1], [1, 1, 1], 2), null); // sklearn: NaN
  assert.equal(cohenKappa([0, 1, 0, 1], [0, 1, 0, 1], 2), 1);
  assert.throws(() => cohenKappa([0], [0, 1], 2), RangeError);
});

test('fleissKappa matches statsmodels on the modal-rater-count items', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    const detail = fleissKappaDetail(t);
    assert.equal(detail.raters, d.fleiss.raters, `${d.name} modal raters`);
    assert.equal(detail.items, d.fleiss.items, `${d.name} items used`);
    assert.equal(detail.totalItems, d.items.length);
    assertClose(fleissKappa(t), d.fleiss.kappa, `${d.name} fleiss`);
  }
});

test('krippendorffAlpha (nominal, missing data) matches krippendorff.alpha', () => {
  for (const d of oracle.datasets) assertClose(krippendorffAlpha(tableOf(d)), d.krippendorff_alpha, `${d.name} alpha`);
  const one = labelTable([
    { item: 'a', annotator: 'x', label: 'p' },
    { item: 'a', annotator: 'y', label: 'p' },
  ]);
  assert.equal(krippendorffAlpha(one), null);
});

test('classBalance: shares of all labels', () => {
  for (const d of oracle.datasets) {
    const cb = classBalance(tableOf(d));
    assert.deepEqual(cb.map((c) => c.category), d.categories);
    for (const c of cb) {
      const count = d.rows.filter((r) => r[2] === c.category).length;
      assertClose(c.share, count / d.rows.length, `${d.name} share ${c.category}`, 1e-15);
    }
  }
});

test('annotatorQuality: planted slice bias flagged, clean annotators not', () => {
  for (const d of oracle.datasets) {
    const t = tableOf(d);
    const itemCode = new Map(t.items.map((s, i) => [s, i]));
    const catCode = new Map(t.categories.map((s, i) => [s, i]));
    const gold = new Map<number, number>();
    for (const [item, label] of Object.entries(d.gold)) gold.set(itemCode.get(item)!, catCode.get(label)!);
    const values = [...new Set(d.region)].sort();
    const valueOfItem = Uint32Array.from(d.region, (v) => values.indexOf(v));
    const consensus = dawidSkene(t).labels;
    const q = annotatorQuality(t, gold, { name: 'region', valueOfItem, values }, consensus);
    assert.equal(q.length, t.annotators.length);
    for (const a of q) {
      assert.ok(a.goldCount > 0);
      assert.ok(a.goldAccuracy.lower! <= a.goldAccuracy.estimate! && a.goldAccuracy.estimate! <= a.goldAccuracy.upper!);
      if (d.biased && a.annotator === d.biased.annotator) {
        assert.equal(a.flags.length, 1, `${d.name} ${a.annotator} flags ${JSON.stringify(a.flags)}`);
        const f = a.flags[0]!;
        assert.equal(f.slice, 'region');
        assert.equal(f.value, d.biased.value);
        assert.ok(f.disagreement > f.rest && f.n >= 20 && f.p < 0.01);
      } else {
        assert.deepEqual(a.flags, [], `${d.name} ${a.annotator} should not be flagged`);
      }
    }
    // Without a slice there are never flags; gold accuracy is unchanged.
    const plain = annotatorQuality(t, gold);
    assert.deepEqual(plain.map((a) => a.goldAccuracy), q.map((a) => a.goldAccuracy));
    assert.ok(plain.every((a) => a.flags.length === 0));
  }
});
