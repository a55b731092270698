import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Interval } from '../../analysis/intervals';
import { evaluatePredictions, metricSetFromCounts, type MetricSet } from '../../analysis/metrics';

interface OracleMetricSet {
  support: number;
  positives: number;
  negatives: number;
  counts: { tp: number; fp: number; tn: number; fn: number };
  sklearn: Record<'accuracy' | 'precision' | 'recall' | 'fpr', number | null>;
  accuracy: Interval;
  precision: Interval;
  recall: Interval;
  fpr: Interval;
}
interface OracleDataset {
  name: string;
  threshold: number;
  labels: number[];
  scores: number[];
  sliceAttributes: Record<string, string[]>;
  expected: { threshold: number; overall: OracleMetricSet; slices: { attribute: string; value: string; metrics: OracleMetricSet }[] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/metrics_oracle.json', import.meta.url), 'utf8')) as {
  datasets: OracleDataset[];
};

const TOL = 1e-9;
function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  assert.ok(Math.abs(actual - expected) <= TOL, `${what}: expected ${expected}, got ${actual}`);
}

const METRICS = ['accuracy', 'precision', 'recall', 'fpr'] as const;
function compareMetricSet(got: MetricSet, want: OracleMetricSet, where: string): void {
  assert.equal(got.support, want.support, `${where} support`);
  assert.equal(got.positives, want.positives, `${where} positives`);
  assert.equal(got.negatives, want.negatives, `${where} negatives`);
  assert.deepEqual(got.counts, want.counts, `${where} counts`);
  for (const m of METRICS) {
    close(got[m].estimate, want.sklearn[m], `${where} ${m} vs sklearn`);
    close(got[m].estimate, want[m].estimate, `${where} ${m} estimate`);
    close(got[m].lower, want[m].lower, `${where} ${m} lower`);
    close(got[m].upper, want[m].upper, `${where} ${m} upper`);
  }
}

test('evaluatePredictions matches sklearn + statsmodels on the oracle datasets', () => {
  assert.ok(oracle.datasets.length >= 5);
  for (const ds of oracle.datasets) {
    const got = evaluatePredictions({
      labels: ds.labels,
      scores: Float64Array.from(ds.scores),
      threshold: ds.threshold,
      sliceAttributes: ds.sliceAttributes,
    });
    assert.equal(got.threshold, ds.expected.threshold);
    compareMetricSet(got.overall, ds.expected.overall, `${ds.name} overall`);
    assert.deepEqual(
      got.slices.map((s) => `${s.attribute}=${s.value}`),
      ds.expected.slices.map((s) => `${s.attribute}=${s.value}`),
      `${ds.name} slice order`,
    );
    got.slices.forEach((s, i) => compareMetricSet(s.metrics, ds.expected.slices[i]!.metrics, `${ds.name} ${s.attribute}=${s.value}`));
  }
});

test('the oracle covers undefined precision/recall in a slice', () => {
  const hasNull = oracle.datasets.some((ds) => ds.expected.slices.some((s) => s.metrics.precision.estimate === null));
  assert.ok(hasNull);
});

test('threshold defaults to 0.5 and score == threshold predicts 1', () => {
  const r = evaluatePredictions({ labels: [1, 0, 1, 0], scores: [0.5, 0.5, 0.49, 0.1] });
  assert.equal(r.threshold, 0.5);
  assert.deepEqual(r.overall.counts, { tp: 1, fp: 1, tn: 1, fn: 1 });
  assert.deepEqual(r.slices, []);
});

test('slices are sorted by attribute then value', () => {
  const r = evaluatePredictions({
    labels: [0, 1, 0, 1],
    scores: [0.1, 0.9, 0.8, 0.2],
    sliceAttributes: { z: ['b', 'a', 'b', 'a'], a: ['y', 'x', 'Y', 'x'] },
  });
  assert.deepEqual(
    r.slices.map((s) => [s.attribute, s.value, s.metrics.support]),
    [['a', 'Y', 1], ['a', 'x', 2], ['a', 'y', 1], ['z', 'a', 2], ['z', 'b', 2]],
  );
});

test('empty input gives zero counts and null intervals', () => {
  const r = evaluatePredictions({ labels: [], scores: [] });
  assert.equal(r.overall.support, 0);
  for (const m of METRICS) assert.deepEqual(r.overall[m], { estimate: null, lower: null, upper: null });
});

test('metricSetFromCounts: n = 0 gives nulls; zero denominators give nulls', () => {
  const empty = metricSetFromCounts({ tp: 0, fp: 0, tn: 0, fn: 0 });
  for (const m of METRICS) assert.deepEqual(empty[m], { estimate: null, lower: null, upper: null });
  const noPos = metricSetFromCounts({ tp: 0, fp: 0, tn: 10, fn: 0 });
  assert.equal(noPos.recall.estimate, null);
  assert.equal(noPos.precision.estimate, null);
  assert.equal(noPos.fpr.estimate, 0);
  assert.equal(noPos.accuracy.estimate, 1);
  const m = metricSetFromCounts({ tp: 8, fp: 2, tn: 85, fn: 5 });
  assert.equal(m.support, 100);
  assert.equal(m.positives, 13);
  assert.equal(m.negatives, 87);
  assert.equal(m.precision.estimate, 0.8);
  assert.equal(m.recall.estimate, 8 / 13);
  assert.equal(m.fpr.estimate, 2 / 87);
  assert.equal(m.accuracy.estimate, 0.93);
  const wider = metricSetFromCounts({ tp: 8, fp: 2, tn: 85, fn: 5 }, 0.99);
  assert.ok(wider.fpr.upper! > m.fpr.upper!);
  assert.throws(() => metricSetFromCounts({ tp: -1, fp: 0, tn: 0, fn: 0 }), RangeError);
  assert.throws(() => metricSetFromCounts({ tp: 1.5, fp: 0, tn: 0, fn: 0 }), RangeError);
});

test('mismatched lengths throw, naming the mismatch', () => {
  assert.throws(() => evaluatePredictions({ labels: [0, 1, 1], scores: [0.1, 0.2] }), /scores has 2 rows, labels has 3/);
  assert.throws(
    () => evaluatePredictions({ labels: [0, 1], scores: [0.1, 0.2], sliceAttributes: { lang: ['en'] } }),
    /sliceAttributes\["lang"\] has 1 rows, labels has 2/,
  );
});

test('bad labels and NaN scores throw', () => {
  assert.throws(() => evaluatePredictions({ labels: [0, 2], scores: [0.1, 0.2] }), /labels\[1\] must be 0 or 1/);
  assert.throws(() => evaluatePredictions({ labels: [0, 1], scores: [0.1, Number.NaN] }), /scores\[1\] is NaN/);
});
