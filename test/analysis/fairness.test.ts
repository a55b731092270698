import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BootstrapInterval } from '../../analysis/bootstrap';
import { confusionByCode, encodeAttribute } from '../../analysis/confusion';
import { fairnessFromCells, type FairnessOptions, type FairnessReport } from '../../analysis/fairness';
import { assertClose } from './oracle';
import { fairnessRows } from './synthetic';
import { FAIRNESS_GAPS, type FairnessGap } from '../../analysis/fairness';

const METRICS = FAIRNESS_GAPS;
type Metric = FairnessGap;

interface OracleDataset {
  name: string;
  threshold: number;
  groups: string[];
  labels: number[];
  scores: number[];
  group: string[];
  cells: number[];
  fairlearn: Record<Metric, number> & {
    by_group: Record<string, { count: number; selection_rate: number; tpr: number; fpr: number }>;
  };
  fairlearn_bootstrap: Record<Metric, [number, number]> & { n_boot: number; ci_quantiles: number[] };
  stratified_bootstrap: Record<Metric, [number, number]> & { n_boot: number };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/fairness_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  datasets: OracleDataset[];
};

const close = assertClose;

function cellsOf(ds: OracleDataset): Float64Array {
  const attr = encodeAttribute('group', ds.group);
  assert.deepEqual(attr.values, ds.groups);
  const cells = confusionByCode(ds.labels, ds.scores, ds.threshold, attr.codes, attr.values.length);
  assert.deepEqual(Array.from(cells), ds.cells, `${ds.name}: confusion cells`);
  return cells;
}

test(`point values match Fairlearn ${oracle.versions['fairlearn']} (by group and the disparity functions)`, () => {
  assert.ok(oracle.datasets.length >= 5);
  for (const ds of oracle.datasets) {
    const r = fairnessFromCells('group', ds.groups, cellsOf(ds), { B: 10 });
    assert.equal(r.attribute, 'group');
    assert.deepEqual(r.groups.map((g) => g.group), ds.groups);
    for (const g of r.groups) {
      const want = ds.fairlearn.by_group[g.group]!;
      const where = `${ds.name}/${g.group}`;
      assert.equal(g.count, want.count, `${where} count`);
      close(g.selection_rate, want.selection_rate, `${where} selection_rate`);
      const c = ds.cells.slice(4 * ds.groups.indexOf(g.group), 4 * ds.groups.indexOf(g.group) + 4);
      // Fairlearn's TPR / FPR are 0.0 where they are 0/0 (sklearn nan_to_num); we report null.
      if (c[0]! + c[3]! === 0) {
        assert.equal(want.tpr, 0, `${where}: Fairlearn reports TPR 0.0 for a group without positives`);
        assert.equal(g.tpr, null);
      } else close(g.tpr, want.tpr, `${where} tpr`);
      if (c[1]! + c[2]! === 0) {
        assert.equal(want.fpr, 0);
        assert.equal(g.fpr, null);
      } else close(g.fpr, want.fpr, `${where} fpr`);
    }
    for (const m of METRICS) close(r[m].estimate, ds.fairlearn[m], `${ds.name} ${m}`);
  }
});

test("a group without positives: 'zero' is Fairlearn (its TPR counts as 0), 'exclude' leaves it out", () => {
  const ds = oracle.datasets.find((d) => d.name === 'no_positives_5000')!;
  const cells = cellsOf(ds);
  const zero = fairnessFromCells('group', ds.groups, cells, { B: 10 });
  const tprs = Object.values(ds.fairlearn.by_group).map((g) => g.tpr);
  assert.ok(tprs.includes(0));
  close(zero.equal_opportunity_difference.estimate, Math.max(...tprs), 'zero mode: EOpp = largest TPR - 0');
  const excl = fairnessFromCells('group', ds.groups, cells, { B: 200, undefinedRates: 'exclude' });
  const defined = zero.groups.filter((g) => g.tpr !== null).map((g) => g.tpr!);
  assert.equal(defined.length, ds.groups.length - 1);
  close(excl.equal_opportunity_difference.estimate, Math.max(...defined) - Math.min(...defined), 'exclude mode: EOpp over groups with positives');
  close(excl.fpr_difference.estimate, zero.fpr_difference.estimate, 'FPR unaffected');
  close(excl.demographic_parity_difference.estimate, zero.demographic_parity_difference.estimate, 'DP unaffected');
  assert.ok(excl.equal_opportunity_difference.upper! < zero.equal_opportunity_difference.lower!);
  assert.equal(excl.undefined_rates, 'exclude');
});

// ---------------------------------------------------------------------------------------------
// Bootstrap intervals vs references, within Monte Carlo error.
//
// Tolerance: both our interval and the reference are percentile intervals from B = 1000
// replicates, so each endpoint is a random variable with some Monte Carlo SD. We measure that SD
// from our own implementation over 20 seeds (sd_hat) and compare the reference endpoint with the
// mean of our 20 endpoints: if the two methods have the same replicate distribution, the
// difference has SD sd * sqrt(1 + 1/20), and we allow 4 of those (floor 1e-9 for endpoints that
// never vary). Across 5 datasets x 6 metrics x 2 endpoints x 2 modes = 120 comparisons, a 4-SD
// band with an estimated SD keeps false alarms unlikely (the run is seeded, so the outcome is
// fixed anyway) while a systematic error larger than ~4 MC SDs (a few percent of the interval
// width at B = 1000) fails.
// ---------------------------------------------------------------------------------------------
const SEEDS = 20;

function endpointStats(run: (seed: number) => FairnessReport): Record<Metric, { lower: { mean: number; sd: number }; upper: { mean: number; sd: number } }> {
  const acc = Object.fromEntries(METRICS.map((m) => [m, { lo: [] as number[], hi: [] as number[] }])) as Record<Metric, { lo: number[]; hi: number[] }>;
  for (let k = 0; k < SEEDS; k++) {
    const r = run(1 + k);
    for (const m of METRICS) {
      const iv: BootstrapInterval = r[m];
      assert.ok(iv.lower !== null && iv.upper !== null, `${m} interval undefined`);
      assert.equal(iv.undefinedReplicates, 0);
      acc[m].lo.push(iv.lower);
      acc[m].hi.push(iv.upper);
    }
  }
  const ms = (xs: number[]): { mean: number; sd: number } => {
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    return { mean, sd: Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1)) };
  };
  return Object.fromEntries(METRICS.map((m) => [m, { lower: ms(acc[m].lo), upper: ms(acc[m].hi) }])) as ReturnType<typeof endpointStats>;
}

function compareToReference(ds: OracleDataset, reference: Record<Metric, [number, number]>, opts: FairnessOptions, label: string): void {
  const cells = cellsOf(ds);
  const stats = endpointStats((seed) => fairnessFromCells('group', ds.groups, cells, { ...opts, B: 1000, seed }));
  for (const m of METRICS) {
    for (const [end, k] of [['lower', 0], ['upper', 1]] as const) {
      const ours = stats[m][end];
      const ref = reference[m][k];
      const tol = Math.max(4 * ours.sd * Math.sqrt(1 + 1 / SEEDS), 1e-9);
      assert.ok(
        Math.abs(ours.mean - ref) <= tol,
        `${label} ${ds.name} ${m} ${end}: ours ${ours.mean} (sd ${ours.sd.toExponential(2)}) vs ${ref}, |diff| ${Math.abs(ours.mean - ref).toExponential(2)} > ${tol.toExponential(2)}`,
      );
    }
  }
}

test("unstratified mode matches Fairlearn's MetricFrame bootstrap (n_boot=1000, quantiles 0.025/0.975)", () => {
  for (const ds of oracle.datasets) {
    assert.equal(ds.fairlearn_bootstrap.n_boot, 1000);
    assert.deepEqual(ds.fairlearn_bootstrap.ci_quantiles, [0.025, 0.975]);
    compareToReference(ds, ds.fairlearn_bootstrap, { stratified: false }, 'unstratified vs Fairlearn');
  }
});

test('stratified mode (default) matches a group-stratified numpy row bootstrap', () => {
  for (const ds of oracle.datasets) compareToReference(ds, ds.stratified_bootstrap, {}, 'stratified vs numpy');
});

test('report shape, determinism, and the two resampling modes differ as designed', () => {
  const ds = oracle.datasets.find((d) => d.name === 'small_group_1000')!;
  const cells = cellsOf(ds);
  const a = fairnessFromCells('group', ds.groups, cells, { seed: 4 });
  assert.deepEqual(a, fairnessFromCells('group', ds.groups, cells, { seed: 4 }));
  assert.notDeepEqual(a, fairnessFromCells('group', ds.groups, cells, { seed: 5 }));
  assert.equal(a.resampling, 'stratified_by_group');
  assert.equal(a.undefined_rates, 'zero');
  for (const m of METRICS) {
    assert.equal(a[m].replicates + a[m].undefinedReplicates, 1000);
    assert.ok(a[m].lower! <= a[m].upper!);
  }
  const u = fairnessFromCells('group', ds.groups, cells, { seed: 4, stratified: false });
  assert.equal(u.resampling, 'unstratified');
  for (const m of METRICS) assert.equal(u[m].estimate, a[m].estimate);
});

test('strataPerGroup: sub-strata (group x label) are summed for the metrics and resampled separately', () => {
  const ds = oracle.datasets.find((d) => d.name === 'fpr_3x_2000')!;
  const attr = encodeAttribute('group', ds.group);
  const G = attr.values.length;
  // code = group * 2 + label: each group's positives and negatives become separate strata.
  const codes = Int32Array.from(attr.codes, (g, i) => g * 2 + ds.labels[i]!);
  const split = confusionByCode(ds.labels, ds.scores, ds.threshold, codes, 2 * G);
  const bySub = fairnessFromCells('group', ds.groups, split, { strataPerGroup: 2, seed: 3 });
  const plain = fairnessFromCells('group', ds.groups, cellsOf(ds), { seed: 3 });
  assert.deepEqual(bySub.groups, plain.groups);
  for (const m of METRICS) close(bySub[m].estimate, plain[m].estimate, m);
  // With each group's class sizes fixed, TPR and FPR only vary through the predictions; the
  // selection rate loses the label-mix variance, so its interval gets narrower.
  const w = (iv: BootstrapInterval): number => iv.upper! - iv.lower!;
  assert.ok(w(bySub.demographic_parity_difference) < w(plain.demographic_parity_difference));
  assert.throws(() => fairnessFromCells('group', ds.groups, split, { strataPerGroup: 3 }), RangeError);
});

test('edge cases: empty group, a single group, all selection rates zero', () => {
  // Group "b" has no rows: absent from the aggregates (as in Fairlearn), all-null rates.
  const cells = Float64Array.from([10, 5, 30, 5, 0, 0, 0, 0, 4, 6, 20, 10]);
  const r = fairnessFromCells('g', ['a', 'b', 'c'], cells, { B: 200 });
  assert.deepEqual(r.groups[1], { group: 'b', count: 0, selection_rate: null, tpr: null, fpr: null });
  close(r.demographic_parity_difference.estimate, 15 / 50 - 10 / 40, 'dpd without the empty group');
  close(r.demographic_parity_ratio.estimate, 10 / 40 / (15 / 50), 'dpr');
  close(r.equal_opportunity_difference.estimate, 10 / 15 - 4 / 14, 'eopp');
  close(r.fpr_difference.estimate, 6 / 26 - 5 / 35, 'fpr diff');
  close(r.equalized_odds_difference.estimate, Math.max(10 / 15 - 4 / 14, 6 / 26 - 5 / 35), 'eodds');

  // One group: every difference is 0 and the ratio 1.
  const one = fairnessFromCells('g', ['only'], Float64Array.from([3, 2, 4, 1]), { B: 50 });
  assert.equal(one.demographic_parity_difference.estimate, 0);
  assert.equal(one.demographic_parity_ratio.estimate, 1);
  assert.equal(one.equalized_odds_difference.upper, 0);

  // Nothing selected anywhere: ratio 0/0 is undefined (NaN in Fairlearn) -> null; difference 0.
  const none = fairnessFromCells('g', ['a', 'b'], Float64Array.from([0, 0, 7, 3, 0, 0, 5, 5]), { B: 50 });
  assert.equal(none.demographic_parity_ratio.estimate, null);
  assert.equal(none.demographic_parity_ratio.undefinedReplicates, 50);
  assert.equal(none.demographic_parity_difference.estimate, 0);

  assert.throws(() => fairnessFromCells('g', ['a', 'b'], Float64Array.from([1, 2, 3, 4]), {}), RangeError);
  assert.throws(() => fairnessFromCells('g', ['a'], Float64Array.from([1, 2, 3, 4.5]), {}), RangeError);
});

test('20 groups, B = 1000, both modes: the bootstrap works on the 80 cells, whatever the row count', () => {
  // Its timing on 1M rows is in bench/units.bench.ts. Here: 100k rows; the counts are all the
  // bootstrap ever sees, so the same cells scaled up give the same point estimates.
  const G = 20;
  const { labels, scores, codes, values } = fairnessRows(100_000, G);
  const cells = confusionByCode(labels, scores, 0.5, codes, G);
  assert.equal(cells.length, 4 * G);
  const s = fairnessFromCells('g', values, cells, { B: 1000 });
  const u = fairnessFromCells('g', values, cells, { B: 1000, stratified: false });
  const tenfold = fairnessFromCells('g', values, cells.map((c) => 10 * c), { B: 1000 });
  for (const r of [s, u]) {
    const e = r.equalized_odds_difference;
    assert.equal(e.replicates + e.undefinedReplicates, 1000);
    assert.ok(e.lower! <= e.estimate! && e.estimate! <= e.upper!, `${r.resampling}: ${JSON.stringify(e)}`);
  }
  assert.equal(u.equalized_odds_difference.estimate, s.equalized_odds_difference.estimate);
  assertClose(tenfold.equalized_odds_difference.estimate, s.equalized_odds_difference.estimate, 'same shares, ten times the rows', 1e-15);
  assert.ok(tenfold.equalized_odds_difference.upper! - tenfold.equalized_odds_difference.lower! < s.equalized_odds_difference.upper! - s.equalized_odds_difference.lower!);
});
