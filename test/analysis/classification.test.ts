import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Interval } from '../../analysis/numerics/intervals';
import { argsortDescending } from '../../analysis/numerics/sort';
import { confusionByCode, encodeAttribute, type EncodedAttribute } from '../../analysis/confusion';
import {
  averagePrecision,
  evaluateClassification,
  rateSetFromCounts,
  rateSetsFromCellArray,
  rocAuc,
  scoreMetricsByCode,
  type ClassificationEvaluation,
  type SliceEvaluation,
} from '../../analysis/classification';
import { assertClose } from './oracle';
import { Rng } from '../../analysis/random';

const INTERVALS = ['accuracy', 'precision', 'recall', 'fpr', 'fnr', 'selectionRate'] as const;

interface OracleSlice {
  attribute: string;
  value: string;
  support: number;
  positives: number;
  negatives: number;
  counts: { tp: number; fp: number; tn: number; fn: number };
  sklearn: Record<'accuracy' | 'precision' | 'recall' | 'f1' | 'rocAuc' | 'averagePrecision', number | null>;
  accuracy: Interval;
  precision: Interval;
  recall: Interval;
  fpr: Interval;
  fnr: Interval;
  selectionRate: Interval;
  f1: number | null;
  baselineAccuracy: number | null;
  auc: number | null;
  averagePrecision: number | null;
}
interface OracleDataset {
  name: string;
  note: string;
  threshold: number;
  scoreType: 'float64' | 'float32';
  labels: number[];
  scores: number[];
  attributes: [string, string[]][];
  intersections: [string, string][];
  expected: { threshold: number; overall: OracleSlice; slices: OracleSlice[]; intersections: OracleSlice[] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/eval_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  datasets: OracleDataset[];
};

const close = assertClose;

function compareSlice(got: SliceEvaluation, want: OracleSlice, where: string): void {
  assert.equal(got.attribute, want.attribute, `${where} attribute`);
  assert.equal(got.value, want.value, `${where} value`);
  const r = got.rates;
  assert.equal(r.support, want.support, `${where} support`);
  assert.equal(r.positives, want.positives, `${where} positives`);
  assert.equal(r.negatives, want.negatives, `${where} negatives`);
  assert.deepEqual(r.counts, want.counts, `${where} counts`);
  for (const m of INTERVALS) {
    close(r[m].estimate, want[m].estimate, `${where} ${m} estimate`);
    close(r[m].lower, want[m].lower, `${where} ${m} lower (statsmodels)`);
    close(r[m].upper, want[m].upper, `${where} ${m} upper (statsmodels)`);
  }
  close(r.accuracy.estimate, want.sklearn.accuracy, `${where} accuracy vs sklearn`);
  close(r.precision.estimate, want.sklearn.precision, `${where} precision vs sklearn`);
  close(r.recall.estimate, want.sklearn.recall, `${where} recall vs sklearn`);
  close(r.f1, want.sklearn.f1, `${where} f1 vs sklearn`);
  close(r.baselineAccuracy, want.baselineAccuracy, `${where} baselineAccuracy`);
  close(got.auc, want.auc, `${where} auc`);
  close(got.averagePrecision, want.averagePrecision, `${where} averagePrecision`);
  // Where both classes are present ours is sklearn's; otherwise ours is null by contract.
  if (want.positives > 0 && want.negatives > 0) {
    close(got.auc, want.sklearn.rocAuc, `${where} auc vs sklearn`);
    close(got.averagePrecision, want.sklearn.averagePrecision, `${where} AP vs sklearn`);
  }
}

function compareEvaluation(got: ClassificationEvaluation, want: OracleDataset['expected'], name: string): void {
  assert.equal(got.threshold, want.threshold);
  compareSlice(got.overall, want.overall, `${name} overall`);
  const keys = (xs: { attribute: string; value: string }[]): string[] => xs.map((s) => `${s.attribute}: ${s.value}`);
  assert.deepEqual(keys(got.slices), keys(want.slices), `${name} slice order`);
  assert.deepEqual(keys(got.intersections), keys(want.intersections), `${name} intersection order`);
  got.slices.forEach((s, i) => compareSlice(s, want.slices[i]!, `${name} ${s.attribute}=${s.value}`));
  got.intersections.forEach((s, i) => compareSlice(s, want.intersections[i]!, `${name} ${s.value}`));
}

function inputsOf(ds: OracleDataset): { labels: Uint8Array; scores: Float64Array | Float32Array; attributes: EncodedAttribute[] } {
  return {
    labels: Uint8Array.from(ds.labels),
    scores: ds.scoreType === 'float32' ? Float32Array.from(ds.scores) : Float64Array.from(ds.scores),
    attributes: ds.attributes.map(([name, column]) => encodeAttribute(name, column)),
  };
}

test('the oracle has the planted cases', () => {
  const names = oracle.datasets.map((d) => d.name);
  for (const n of ['fpr_gap', 'heavy_ties', 'one_class_slices', 'tiny_slices', 'float32_scores', 'decision_scores', 'spam_heldout']) {
    assert.ok(names.includes(n), `fixture has ${n}`);
  }
  const all = oracle.datasets.flatMap((d) => [...d.expected.slices, ...d.expected.intersections]);
  assert.ok(all.some((s) => s.auc === null && s.support > 10), 'a one-class slice');
  assert.ok(all.some((s) => s.support === 1), 'a one-row slice');
  assert.ok(all.some((s) => s.precision.estimate === null && s.f1 === 0), 'precision undefined but F1 defined (0)');
  assert.ok(all.some((s) => s.f1 === null), 'F1 undefined');
  const gap = oracle.datasets.find((d) => d.name === 'fpr_gap')!.expected.slices.filter((s) => s.attribute === 'region');
  const east = gap.find((s) => s.value === 'east')!.fpr.estimate!;
  for (const s of gap) if (s.value !== 'east') assert.ok(east > 2.5 * s.fpr.estimate!, `east FPR ${east} vs ${s.value} ${s.fpr.estimate}`);
});

test('evaluateClassification matches scikit-learn + statsmodels on every oracle dataset', () => {
  for (const ds of oracle.datasets) {
    const got = evaluateClassification({ ...inputsOf(ds), threshold: ds.threshold, intersections: ds.intersections });
    compareEvaluation(got, ds.expected, ds.name);
  }
});

test('withScoreMetrics: false gives the same rates and null AUC/AP', () => {
  for (const ds of oracle.datasets) {
    const got = evaluateClassification({ ...inputsOf(ds), threshold: ds.threshold, intersections: ds.intersections, withScoreMetrics: false });
    for (const s of [got.overall, ...got.slices, ...got.intersections]) {
      assert.equal(s.auc, null);
      assert.equal(s.averagePrecision, null);
    }
    const full = evaluateClassification({ ...inputsOf(ds), threshold: ds.threshold, intersections: ds.intersections });
    assert.deepEqual(
      got.slices.map((s) => s.rates),
      full.slices.map((s) => s.rates),
    );
    assert.deepEqual(
      got.intersections.map((s) => s.rates),
      full.intersections.map((s) => s.rates),
    );
  }
});

test('rocAuc and averagePrecision match sklearn overall and per slice; null when a class is absent', () => {
  let nulls = 0;
  for (const ds of oracle.datasets) {
    const { labels, scores, attributes } = inputsOf(ds);
    close(rocAuc(labels, scores), ds.expected.overall.sklearn.rocAuc, `${ds.name} overall rocAuc`);
    close(averagePrecision(labels, scores), ds.expected.overall.sklearn.averagePrecision, `${ds.name} overall AP`);
    for (const attr of attributes) {
      attr.values.forEach((value, code) => {
        const rows = [...attr.codes.keys()].filter((i) => attr.codes[i] === code);
        const want = ds.expected.slices.find((s) => s.attribute === attr.name && s.value === value)!;
        const y = rows.map((i) => labels[i]!);
        const s = rows.map((i) => scores[i]!);
        close(rocAuc(y, s), want.auc, `${ds.name} ${attr.name}=${value} rocAuc`);
        close(averagePrecision(y, s), want.averagePrecision, `${ds.name} ${attr.name}=${value} AP`);
        if (want.auc === null) nulls++;
      });
    }
  }
  assert.ok(nulls >= 3);
  assert.equal(rocAuc([1, 1, 1], [0.2, 0.5, 0.9]), null);
  assert.equal(averagePrecision([0, 0], [0.2, 0.5]), null);
  assert.equal(rocAuc([], []), null);
});

test('scoreMetricsByCode: one shared argsort serves every attribute and agrees with a fresh sort', () => {
  for (const ds of oracle.datasets) {
    const { labels, scores, attributes } = inputsOf(ds);
    const order = argsortDescending(scores);
    const ev = evaluateClassification({ labels, scores, threshold: ds.threshold, attributes });
    for (const attr of attributes) {
      const shared = scoreMetricsByCode(labels, scores, attr.codes, attr.values.length, order);
      const fresh = scoreMetricsByCode(labels, scores, attr.codes, attr.values.length);
      assert.equal(shared.length, attr.values.length + 1, 'one entry per code, then overall');
      for (let c = 0; c <= attr.values.length; c++) {
        close(shared[c]!.auc, fresh[c]!.auc, `${ds.name} ${attr.name} code ${c} auc`);
        close(shared[c]!.averagePrecision, fresh[c]!.averagePrecision, `${ds.name} ${attr.name} code ${c} ap`);
      }
      const slices = ev.slices.filter((s) => s.attribute === attr.name);
      slices.forEach((s, c) => {
        close(shared[c]!.auc, s.auc, `${ds.name} ${s.value} auc`);
        close(shared[c]!.averagePrecision, s.averagePrecision, `${ds.name} ${s.value} ap`);
      });
      close(shared[attr.values.length]!.auc, ev.overall.auc, `${ds.name} overall via ${attr.name}`);
    }
    const none = scoreMetricsByCode(labels, scores, null, 1, order);
    close(none[0]!.auc, ev.overall.auc, `${ds.name} codes null`);
    close(none[1]!.averagePrecision, ev.overall.averagePrecision, `${ds.name} codes null overall`);
  }
});

test('-0 and +0 are one tie group for the AUC: both halves of the pair count half', () => {
  assert.equal(rocAuc([1, 0], [0, -0]), 0.5);
  assert.equal(rocAuc(Uint8Array.from({ length: 3000 }, (_, i) => i & 1), Float64Array.from({ length: 3000 }, (_, i) => (i & 1 ? 0 : -0))), 0.5);
});

test('rateSetFromCounts: definitions, nulls and validation', () => {
  const r = rateSetFromCounts({ tp: 3, fp: 1, tn: 4, fn: 2 });
  assert.equal(r.support, 10);
  assert.equal(r.selectionRate.estimate, 0.4);
  assert.equal(r.fnr.estimate, 2 / 5);
  assert.equal(r.f1, 6 / 9);
  assert.equal(r.baselineAccuracy, 0.5);
  const empty = rateSetFromCounts({ tp: 0, fp: 0, tn: 0, fn: 0 });
  assert.equal(empty.f1, null);
  assert.equal(empty.baselineAccuracy, null);
  for (const m of INTERVALS) assert.deepEqual(empty[m], { estimate: null, lower: null, upper: null });
  // Precision undefined, recall 0: F1 is 0, as sklearn has it, not null.
  const quiet = rateSetFromCounts({ tp: 0, fp: 0, tn: 5, fn: 3 });
  assert.equal(quiet.precision.estimate, null);
  assert.equal(quiet.f1, 0);
  assert.throws(() => rateSetFromCounts({ tp: 0.5, fp: 0, tn: 0, fn: 0 }), /tp must be a non-negative integer/);
  assert.throws(() => rateSetFromCounts({ tp: 1, fp: -1, tn: 0, fn: 0 }), /fp must be a non-negative integer/);
  assert.throws(() => rateSetsFromCellArray(new Float64Array(7), 2), /cells has 7 entries, expected 4 \* nCodes = 8/);
  assert.throws(() => rateSetsFromCellArray(Float64Array.from([0.5, 0, 0, 0]), 1), /non-negative integer/);
  const cells = confusionByCode([1, 0, 1, 0], [0.9, 0.8, 0.1, 0.2], 0.5, [0, 0, 1, 1], 2);
  const sets = rateSetsFromCellArray(cells, 2);
  assert.deepEqual(sets.map((s) => s.counts), [
    { tp: 1, fp: 1, tn: 0, fn: 0 },
    { tp: 0, fp: 0, tn: 1, fn: 1 },
  ]);
  close(rateSetFromCounts({ tp: 3, fp: 1, tn: 4, fn: 2 }, 0.9).accuracy.lower, rateSetsFromCellArray(Float64Array.from([3, 1, 4, 2]), 1, 0.9)[0]!.accuracy.lower, 'confidence passes through');
});

function tiny(): { labels: Uint8Array; scores: Float64Array; attributes: EncodedAttribute[] } {
  return {
    labels: Uint8Array.from([1, 0, 1, 0, 0, 1]),
    scores: Float64Array.from([0.9, 0.4, 0.6, 0.7, 0.1, 0.2]),
    attributes: [encodeAttribute('lang', ['en', 'en', 'de', 'de', 'fr', 'fr']), encodeAttribute('device', ['a', 'b', 'a', 'b', 'a', 'a'])],
  };
}

test('edge cases: empty intersection cells omitted, declared empty slices kept, a class absent gives null AUC', () => {
  const t = tiny();
  const got = evaluateClassification({ ...t, threshold: 0.5, intersections: [['lang', 'device']] });
  // fr never appears with device b: that cell is left out.
  assert.deepEqual(
    got.intersections.map((s) => s.value),
    ['lang=de&device=a', 'lang=de&device=b', 'lang=en&device=a', 'lang=en&device=b', 'lang=fr&device=a'],
  );
  assert.equal(got.intersections[0]!.attribute, 'lang&device');
  // lang=de&device=a is one positive row: one class, so AUC and AP are null.
  assert.equal(got.intersections[0]!.auc, null);
  assert.equal(got.intersections[0]!.averagePrecision, null);
  assert.equal(got.overall.attribute, 'overall');
  assert.equal(got.overall.value, 'all');
  assert.equal(got.overall.rates.support, 6);
  close(got.overall.auc, 6 / 9, 'overall AUC'); // positives 0.9, 0.6, 0.2 vs negatives 0.7, 0.4, 0.1: 6 of 9 pairs
  // A declared value without rows stays visible (support 0, null rates) in the plain slices.
  const withUnused: EncodedAttribute = { name: 'lang', codes: t.attributes[0]!.codes, values: [...t.attributes[0]!.values, 'zz'] };
  const e2 = evaluateClassification({ ...t, threshold: 0.5, attributes: [withUnused] });
  const zz = e2.slices.find((s) => s.value === 'zz')!;
  assert.equal(zz.rates.support, 0);
  assert.equal(zz.rates.accuracy.estimate, null);
  assert.equal(zz.auc, null);
  // No attributes: overall only.
  const bare = evaluateClassification({ labels: t.labels, scores: t.scores, threshold: 0.5, attributes: [] });
  assert.deepEqual(bare.slices, []);
  assert.deepEqual(bare.intersections, []);
  assert.deepEqual(bare.overall, got.overall);
  // Empty input.
  const none = evaluateClassification({ labels: new Uint8Array(0), scores: new Float64Array(0), threshold: 0.5, attributes: [encodeAttribute('x', [])] });
  assert.equal(none.overall.rates.support, 0);
  assert.equal(none.overall.auc, null);
});

test('validation: mismatched lengths, bad labels, non-finite scores, bad codes and names throw, naming the problem', () => {
  const t = tiny();
  const base = { ...t, threshold: 0.5 };
  assert.throws(() => evaluateClassification({ ...base, scores: t.scores.subarray(1) }), /length mismatch: scores has 5 rows, labels has 6/);
  assert.throws(
    () => evaluateClassification({ ...base, attributes: [{ ...t.attributes[0]!, codes: t.attributes[0]!.codes.subarray(2) }] }),
    /length mismatch: attribute "lang" has 4 rows, labels has 6/,
  );
  assert.throws(() => evaluateClassification({ ...base, labels: Uint8Array.from([1, 0, 2, 0, 0, 1]) }), /labels\[2\] must be 0 or 1, got 2/);
  assert.throws(() => evaluateClassification({ ...base, scores: Float64Array.from([0.9, 0.4, NaN, 0.7, 0.1, 0.2]) }), /scores\[2\] must be finite, got NaN/);
  assert.throws(() => evaluateClassification({ ...base, scores: Float32Array.from([0.9, 0.4, 0.6, Infinity, 0.1, 0.2]) }), /scores\[3\] must be finite, got Infinity/);
  assert.throws(() => evaluateClassification({ ...base, threshold: NaN }), /threshold must be a number/);
  const badCodes = { name: 'lang', codes: Uint8Array.from([0, 1, 2, 3, 0, 1]), values: ['a', 'b', 'c'] };
  assert.throws(() => evaluateClassification({ ...base, attributes: [badCodes] }), /attribute "lang" has code 3 at row 3, outside 0\.\.2/);
  assert.throws(() => evaluateClassification({ ...base, attributes: [badCodes, t.attributes[1]!] }), /attribute "lang" has code 3 at row 3, outside 0\.\.2/);
  const negative = { name: 'neg', codes: Int32Array.from([0, 0, -1, 0, 0, 0]), values: ['a'] };
  assert.throws(() => evaluateClassification({ ...base, attributes: [negative, t.attributes[1]!] }), /attribute "neg" has code -1 at row 2/);
  assert.throws(() => evaluateClassification({ ...base, attributes: [negative] }), /attribute "neg" has code -1 at row 2/);
  assert.throws(() => evaluateClassification({ ...base, intersections: [['lang', 'nope']] }), /intersection \["lang", "nope"\] names an unknown attribute/);
  assert.throws(() => evaluateClassification({ ...base, intersections: [['lang', 'lang']] }), /intersection of "lang" with itself/);
  assert.throws(() => evaluateClassification({ ...base, attributes: [t.attributes[0]!, t.attributes[0]!] }), /duplicate attribute name "lang"/);

  assert.throws(() => rocAuc([1, 0], [0.5]), /length mismatch: scores has 1 rows, labels has 2/);
  assert.throws(() => averagePrecision([1, 3], [0.5, 0.2]), /labels\[1\] must be 0 or 1, got 3/);
  assert.throws(() => rocAuc([1, 0], [0.5, Infinity]), /scores\[1\] must be finite/);
  assert.throws(() => scoreMetricsByCode([1, 0], [0.5, 0.2], [0, 2], 2), /codes\[1\] = 2 is not a code in 0\.\.1/);
  assert.throws(() => scoreMetricsByCode([1, 0], [0.5, 0.2], [0], 2), /length mismatch: codes has 1 rows, labels has 2/);
  assert.throws(() => scoreMetricsByCode([1, 0], [0.5, 0.2], null, 1, Uint32Array.from([0])), /order has 1 entries, labels has 2/);
  assert.throws(() => scoreMetricsByCode([1, 0], [0.5, 0.2], null, 1, Uint32Array.from([1, 0])), /order is not descending by score at rank 1/);
  assert.throws(() => scoreMetricsByCode([1, 0, 1], [0.5, 0.5, 0.5], null, 1, Uint32Array.from([0, 0, 1])), /order is not a permutation/);
});

test('the slow paths (joint code space too large, codes too wide to pack) agree with the fast ones', () => {
  const rng = new Rng(11);
  const rand = () => rng.next();
  const n = 6000;
  const labels = Uint8Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
  const scores = Float64Array.from(labels, (y) => Math.round((rand() + 0.4 * y) * 200) / 200);
  const col = (k: number): string[] => Array.from({ length: n }, () => `v${Math.floor(rand() * k)}`);
  const small = encodeAttribute('small', col(4));
  const mid = encodeAttribute('mid', col(9));
  // 4 x 1500 joint cells > 4096 (per-attribute counting), label + 2 + 11 bits still pack...
  const wide = encodeAttribute('wide', col(1500));
  // ...but label + 2 + 4 + 11 + 11 + 11 bits > 32 do not (the payload becomes a row index).
  const wide2 = encodeAttribute('wide2', col(1500));
  const wide3 = encodeAttribute('wide3', col(1500));
  const ref = (attr: EncodedAttribute): { rates: ReturnType<typeof rateSetsFromCellArray>; score: ReturnType<typeof scoreMetricsByCode> } => ({
    rates: rateSetsFromCellArray(confusionByCode(labels, scores, 0.5, attr.codes, attr.values.length), attr.values.length),
    score: scoreMetricsByCode(labels, scores, attr.codes, attr.values.length),
  });
  for (const attributes of [[small, mid], [small, wide], [small, mid, wide, wide2, wide3]]) {
    const ev = evaluateClassification({ labels, scores, threshold: 0.5, attributes, intersections: [[attributes[1]!.name, attributes[0]!.name]] });
    for (const attr of attributes) {
      const want = ref(attr);
      ev.slices
        .filter((s) => s.attribute === attr.name)
        .forEach((s, c) => {
          assert.deepEqual(s.rates, want.rates[c], `${attr.name} ${s.value} rates`);
          close(s.auc, want.score[c]!.auc, `${attr.name} ${s.value} auc`);
          close(s.averagePrecision, want.score[c]!.averagePrecision, `${attr.name} ${s.value} ap`);
        });
    }
    const [a, b] = [attributes[1]!, attributes[0]!];
    const crossCodes = Uint32Array.from(a.codes, (ca, i) => ca * b.values.length + b.codes[i]!);
    const nCross = a.values.length * b.values.length;
    const cells = confusionByCode(labels, scores, 0.5, crossCodes, nCross);
    const score = scoreMetricsByCode(labels, scores, crossCodes, nCross);
    const expected = rateSetsFromCellArray(cells, nCross)
      .map((rates, c) => ({ rates, c }))
      .filter((x) => x.rates.support > 0);
    assert.equal(ev.intersections.length, expected.length);
    ev.intersections.forEach((s, k) => {
      const { rates, c } = expected[k]!;
      assert.equal(s.value, `${a.name}=${a.values[Math.floor(c / b.values.length)]}&${b.name}=${b.values[c % b.values.length]}`);
      assert.deepEqual(s.rates, rates);
      close(s.auc, score[c]!.auc, `${s.value} auc`);
      close(s.averagePrecision, score[c]!.averagePrecision, `${s.value} ap`);
    });
  }
});

