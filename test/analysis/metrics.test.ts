import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Interval } from '../../analysis/numerics/intervals';
import { evaluateClassification } from '../../analysis/classification';
import { encodeAttribute } from '../../analysis/confusion';
import { metricSetFromCounts, type MetricSet } from '../../analysis/metrics';
import { assertClose } from './oracle';

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

const close = assertClose;

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

test('the evaluation engine matches sklearn + statsmodels on the skeleton oracle datasets', () => {
  assert.ok(oracle.datasets.length >= 5);
  for (const ds of oracle.datasets) {
    const attributes = Object.keys(ds.sliceAttributes)
      .sort()
      .map((name) => encodeAttribute(name, ds.sliceAttributes[name]!));
    const got = evaluateClassification({ labels: Uint8Array.from(ds.labels), scores: Float64Array.from(ds.scores), threshold: ds.threshold, attributes });
    assert.equal(got.threshold, ds.expected.threshold);
    compareMetricSet(got.overall.rates, ds.expected.overall, `${ds.name} overall`);
    const slices = got.slices.filter((s) => s.rates.support > 0);
    assert.deepEqual(
      slices.map((s) => `${s.attribute}=${s.value}`),
      ds.expected.slices.map((s) => `${s.attribute}=${s.value}`),
      `${ds.name} slice order`,
    );
    slices.forEach((s, i) => compareMetricSet(s.rates, ds.expected.slices[i]!.metrics, `${ds.name} ${s.attribute}=${s.value}`));
  }
});

test('the oracle covers undefined precision/recall in a slice', () => {
  const hasNull = oracle.datasets.some((ds) => ds.expected.slices.some((s) => s.metrics.precision.estimate === null));
  assert.ok(hasNull);
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

