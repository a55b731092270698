import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  brierInterval,
  brierScore,
  calibrationError,
  calibrationFromCells,
  evaluateCalibration,
  expectedCalibrationError,
  maxCalibrationError,
  reliabilityCurve,
  scoreCells,
  summarizeCells,
  uniformEdges,
  type Binning,
  type ReliabilityCurve,
  type CalibrationSummary,
} from '../../analysis/calibration';
import { encodeAttribute } from '../../analysis/confusion';
import { Rng } from '../../analysis/random';

interface OracleCurve {
  strategy: Binning;
  nBins: number;
  edges: number[];
  bin: number[];
  probTrue: number[];
  probPred: number[];
  counts: number[];
  ece: number;
  mce: number;
}
interface OracleBrier {
  estimate: number;
  standardError: number | null;
  lower: number | null;
  upper: number | null;
}
interface OracleSummary {
  attribute: string;
  value: string;
  support: number;
  positives: number;
  brier: OracleBrier;
  curves: Record<Binning, OracleCurve>;
}
interface OracleDataset {
  name: string;
  note: string;
  labels: number[];
  scores: number[];
  attributes: [string, string[]][];
  overall: OracleSummary & { byBins: OracleCurve[] };
  slices: OracleSummary[];
  intersections: [string, string][];
  intersectionSlices: OracleSummary[];
  bootstrap?: { B: number; repeats: number } & Record<'ece_uniform' | 'ece_quantile' | 'mce_uniform' | 'mce_quantile' | 'brier', { mean: [number, number]; sd: [number, number] }>;
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/calibration_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  sliceBins: number;
  datasets: OracleDataset[];
};

// Relative tolerance for everything computed from the same rows (sums in a different order are
// all that can differ); absolute for values near zero.
const REL = 1e-12;
let largestDeviation = { rel: 0, what: '' };
function close(actual: number | null | undefined, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(typeof actual === 'number', `${what}: expected ${expected}, got ${actual}`);
  const diff = Math.abs(actual - expected);
  const scale = Math.max(Math.abs(expected), 1e-3);
  assert.ok(diff <= REL * scale, `${what}: expected ${expected}, got ${actual} (diff ${diff.toExponential(2)})`);
  if (diff / scale > largestDeviation.rel) largestDeviation = { rel: diff / scale, what };
}
function closeAll(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  actual.forEach((a, i) => close(a, expected[i]!, `${what}[${i}]`));
}

function compareCurve(got: ReliabilityCurve, want: OracleCurve, where: string): void {
  assert.equal(got.strategy, want.strategy);
  assert.equal(got.nBins, want.nBins);
  // Edges and bin membership are exact: the same IEEE operations as numpy.
  assert.deepEqual(got.edges, want.edges, `${where} edges`);
  assert.deepEqual(got.bin, want.bin, `${where} non-empty bins`);
  assert.deepEqual(got.counts, want.counts, `${where} counts`);
  closeAll(got.probTrue, want.probTrue, `${where} prob_true`);
  closeAll(got.probPred, want.probPred, `${where} prob_pred`);
}

function compareSummary(got: CalibrationSummary, want: OracleSummary, where: string): void {
  assert.equal(got.support, want.support, `${where} support`);
  assert.equal(got.positives, want.positives, `${where} positives`);
  for (const st of ['uniform', 'quantile'] as const) {
    compareCurve(got.curves![st], want.curves[st], `${where} ${st}`);
    close(got.ece[st].estimate, want.curves[st].ece, `${where} ece ${st}`);
    close(got.mce[st].estimate, want.curves[st].mce, `${where} mce ${st}`);
  }
  close(got.brier.estimate, want.brier.estimate, `${where} brier`);
  close(got.brierNormal!.estimate, want.brier.estimate, `${where} brierNormal estimate`);
  close(got.brierNormal!.standardError, want.brier.standardError, `${where} brier se`);
  close(got.brierNormal!.lower, want.brier.lower, `${where} brier normal lower`);
  close(got.brierNormal!.upper, want.brier.upper, `${where} brier normal upper`);
}

test('oracle versions are the pinned ones', () => {
  assert.deepEqual(oracle.versions, { numpy: '2.4.6', 'scikit-learn': '1.9.1', scipy: '1.17.1' });
  assert.ok(oracle.datasets.some((d) => d.name === 'spam_heldout'));
});

test("reliabilityCurve equals sklearn's calibration_curve (uniform and quantile, 1 to 15 bins); ECE, MCE from its bins", () => {
  for (const ds of oracle.datasets) {
    for (const want of ds.overall.byBins) {
      const where = `${ds.name} ${want.strategy} ${want.nBins} bins`;
      const opts = { bins: want.nBins, strategy: want.strategy };
      compareCurve(reliabilityCurve(ds.labels, ds.scores, opts), want, where);
      const err = calibrationError(ds.labels, ds.scores, opts)!;
      close(err.ece, want.ece, `${where} ece`);
      close(err.mce, want.mce, `${where} mce`);
      close(expectedCalibrationError(ds.labels, ds.scores, opts), want.ece, `${where} expectedCalibrationError`);
      close(maxCalibrationError(ds.labels, ds.scores, opts), want.mce, `${where} maxCalibrationError`);
    }
  }
});

test("brierScore equals sklearn's brier_score_loss; the closed-form standard error equals numpy's", () => {
  for (const ds of oracle.datasets) {
    close(brierScore(ds.labels, ds.scores), ds.overall.brier.estimate, `${ds.name} brier`);
    const iv = brierInterval(ds.labels, ds.scores)!;
    close(iv.standardError, ds.overall.brier.standardError, `${ds.name} brier se`);
    close(iv.lower, ds.overall.brier.lower, `${ds.name} brier lower`);
    close(iv.upper, ds.overall.brier.upper, `${ds.name} brier upper`);
  }
});

test('evaluateCalibration: overall, every slice (one-class, 1-row and 2-row slices included) and intersection cell match the oracle', () => {
  for (const ds of oracle.datasets) {
    const attributes = ds.attributes.map(([name, values]) => encodeAttribute(name, values));
    const ev = evaluateCalibration({ labels: ds.labels, scores: ds.scores, attributes, intersections: ds.intersections, options: { bins: oracle.sliceBins, B: 20 } });
    assert.equal(ev.bins, oracle.sliceBins);
    assert.equal(ev.overall.attribute, 'overall');
    compareSummary(ev.overall, ds.overall, `${ds.name} overall`);
    assert.equal(ev.slices.length, ds.slices.length, `${ds.name} slice count`);
    ev.slices.forEach((got, k) => {
      const want = ds.slices[k]!;
      assert.equal(got.attribute, want.attribute);
      assert.equal(got.value, want.value);
      compareSummary(got, want, `${ds.name} ${want.attribute}=${want.value}`);
    });
    assert.equal(ev.intersections.length, ds.intersectionSlices.length, `${ds.name} intersection cell count`);
    ev.intersections.forEach((got, k) => {
      const want = ds.intersectionSlices[k]!;
      assert.equal(got.attribute, want.attribute);
      assert.equal(got.value, want.value);
      compareSummary(got, want, `${ds.name} ${want.value}`);
    });
  }
  assert.ok(oracle.datasets.reduce((n, d) => n + d.intersectionSlices.length, 0) >= 10);
  // The planted miscalibration is visible: overconfident east, calibrated west.
  const over = oracle.datasets.find((d) => d.name === 'overconfident')!;
  const east = over.slices.find((s) => s.value === 'east')!;
  const west = over.slices.find((s) => s.value === 'west')!;
  assert.ok(east.curves.uniform.ece > 2 * west.curves.uniform.ece);
});

test('heavy ties: scores equal to a uniform edge fall in the lower bin, as numpy searchsorted(side=left)', () => {
  const edges = uniformEdges(10);
  assert.equal(edges[3], 0.30000000000000004);
  assert.equal(edges[10], 1);
  // 0.3 < edge 3 and 3 * 0.1 == edge 3: both in bin 2; 0 in bin 0, 1 in bin 9.
  const c = reliabilityCurve([0, 1, 1, 0, 1], [0.3, 3 * 0.1, 0.30000000000000004 + 1e-16, 0, 1], { bins: 10, strategy: 'uniform' });
  assert.deepEqual(c.bin, [0, 2, 3, 9]);
  assert.deepEqual(c.counts, [1, 2, 1, 1]);
});

test('calibrationFromCells with zero and resampled counts equals the row functions on the expanded rows', () => {
  const ds = oracle.datasets.find((d) => d.name === 'heavy_ties')!;
  const cells = scoreCells(ds.labels, ds.scores);
  const rng = new Rng(7);
  for (let rep = 0; rep < 30; rep++) {
    const count = Float64Array.from(cells.count, (c) => (rng.nextInt(3) === 0 ? 0 : rng.nextInt(2 * c + 1)));
    const labels: number[] = [];
    const scores: number[] = [];
    count.forEach((c, j) => {
      for (let k = 0; k < c; k++) {
        labels.push(cells.label[j]!);
        scores.push(cells.score[j]!);
      }
    });
    if (labels.length === 0) continue;
    for (const strategy of ['uniform', 'quantile'] as const) {
      for (const bins of [1, 4, 10]) {
        const a = calibrationFromCells(cells, count, { bins, strategy })!;
        const b = calibrationError(labels, scores, { bins, strategy })!;
        assert.ok(Math.abs(a.ece - b.ece) <= 1e-15 && Math.abs(a.mce - b.mce) <= 1e-15, `rep ${rep} ${strategy} ${bins}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  }
});

// Monte Carlo comparison with a numpy row bootstrap. Both sides' endpoints are random (B finite,
// different random streams), so we compare MEANS of endpoints: ours over 20 seeds, numpy's over
// its 20 repeats (stored with their sd). If the two bootstraps have the same distribution (the
// claim: multinomial cell counts are exact in distribution) the difference of the means has SD
// sqrt(sd_ours^2 / 20 + sd_numpy^2 / 20); we allow 5 of those. A single endpoint against a single
// reference draw (bootstrap.test.ts's check) proved fragile here: one numpy draw sat 2 SD out
// while our 20-seed SD estimate came out low, so averaged references are used instead.
test('bootstrap intervals of ECE (both binnings), MCE and Brier match a numpy row bootstrap within Monte Carlo error', () => {
  const SEEDS = 20;
  const stats = [
    ['ece_uniform', (s: CalibrationSummary) => s.ece.uniform],
    ['ece_quantile', (s: CalibrationSummary) => s.ece.quantile],
    ['mce_uniform', (s: CalibrationSummary) => s.mce.uniform],
    ['mce_quantile', (s: CalibrationSummary) => s.mce.quantile],
    ['brier', (s: CalibrationSummary) => s.brier],
  ] as const;
  let checked = 0;
  let worst = { z: 0, what: '' };
  for (const ds of oracle.datasets) {
    const ref = ds.bootstrap;
    if (!ref) continue;
    const cells = scoreCells(ds.labels, ds.scores);
    const runs = Array.from({ length: SEEDS }, (_, k) => summarizeCells(cells, oracle.sliceBins, { B: ref.B, seed: 1 + k }));
    for (const [name, pick] of stats) {
      for (const end of [0, 1] as const) {
        const xs = runs.map((r) => {
          const iv = pick(r);
          assert.equal(iv.replicates, ref.B);
          return end === 0 ? iv.lower! : iv.upper!;
        });
        const mean = xs.reduce((s, x) => s + x, 0) / SEEDS;
        const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (SEEDS - 1));
        const refMean = ref[name].mean[end];
        const refSd = ref[name].sd[end];
        const se = Math.sqrt((sd * sd) / SEEDS + (refSd * refSd) / ref.repeats);
        const tol = Math.max(5 * se, 1e-9);
        if (se > 0 && Math.abs(mean - refMean) / se > worst.z) worst = { z: Math.abs(mean - refMean) / se, what: `${ds.name} ${name} ${end === 0 ? 'lower' : 'upper'}` };
        assert.ok(
          Math.abs(mean - refMean) <= tol,
          `${ds.name} ${name} ${end === 0 ? 'lower' : 'upper'}: ours ${mean} (sd ${sd.toExponential(2)}) vs numpy ${refMean} (sd ${refSd.toExponential(2)}), tol ${tol.toExponential(2)}`,
        );
        checked++;
      }
    }
  }
  assert.equal(checked, 3 * 5 * 2);
  console.log(`bootstrap vs numpy: largest |difference of mean endpoints| = ${worst.z.toFixed(2)} standard errors (${worst.what})`);
});

test('bootstrap: seeded and deterministic; the estimate is the point value; empty slices are null', () => {
  const ds = oracle.datasets.find((d) => d.name === 'spam_heldout')!;
  const cells = scoreCells(ds.labels, ds.scores);
  const a = summarizeCells(cells, 10, { B: 200, seed: 5 });
  const b = summarizeCells(cells, 10, { B: 200, seed: 5 });
  const c = summarizeCells(cells, 10, { B: 200, seed: 6 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.ece.uniform, c.ece.uniform);
  for (const iv of [a.ece.uniform, a.ece.quantile, a.mce.uniform, a.mce.quantile, a.brier]) {
    assert.ok(iv.lower! <= iv.upper!);
    assert.equal(iv.replicates, 200);
    assert.equal(iv.undefinedReplicates, 0);
  }
  assert.ok(a.brier.lower! <= a.brier.estimate! && a.brier.estimate! <= a.brier.upper!);
  close(a.ece.uniform.estimate, ds.overall.curves.uniform.ece, 'spam ece');
  // A declared slice value with no rows: nulls, no curve.
  const attr = { name: 'g', values: ['a', 'empty'], codes: new Uint8Array(ds.labels.length) };
  const ev = evaluateCalibration({ labels: ds.labels, scores: ds.scores, attributes: [attr], options: { B: 10 } });
  const empty = ev.slices[1]!;
  assert.equal(empty.support, 0);
  assert.equal(empty.ece.uniform.estimate, null);
  assert.equal(empty.brier.upper, null);
  assert.equal(empty.curves, null);
  assert.equal(empty.brierNormal, null);
  // A single row: point values, no closed-form interval.
  const one = brierInterval([1], [0.8])!;
  close(one.estimate, (1 - 0.8) ** 2, 'one-row brier');
  assert.equal(one.standardError, null);
});

test('bad input is refused with a clear error', () => {
  const opts = { bins: 10, strategy: 'uniform' } as const;
  assert.throws(() => reliabilityCurve([0, 1], [0.5], opts), /length mismatch: scores has 1 rows, labels has 2/);
  assert.throws(() => brierScore([0, 1, 1], [0.5, 0.2]), /length mismatch/);
  assert.throws(() => reliabilityCurve([0, 1], [0.5, 1.5], opts), /scores\[1\] must be a probability in \[0, 1\], got 1.5/);
  assert.throws(() => calibrationError([0, 1], [-0.1, 0.5], opts), /scores\[0\] must be a probability in \[0, 1\], got -0.1/);
  assert.throws(() => brierScore([0, 1], [Number.NaN, 0.5]), /scores\[0\] must be a probability in \[0, 1\], got NaN/);
  assert.throws(() => expectedCalibrationError([0, 1], [0.2, Number.POSITIVE_INFINITY], opts), /scores\[1\] must be a probability/);
  assert.throws(() => brierScore([0, 2], [0.1, 0.5]), /labels\[1\] must be 0 or 1, got 2/);
  assert.throws(() => reliabilityCurve([0, 1], [0.1, 0.5], { bins: 0, strategy: 'uniform' }), /bins must be an integer >= 1, got 0/);
  assert.throws(() => reliabilityCurve([0, 1], [0.1, 0.5], { bins: 2.5, strategy: 'quantile' }), /bins must be an integer >= 1, got 2.5/);
  assert.throws(() => reliabilityCurve([0, 1], [0.1, 0.5], { bins: 5, strategy: 'equal' as Binning }), /strategy must be 'uniform' or 'quantile'/);
  assert.throws(() => reliabilityCurve([], [], opts), /no rows/);
  assert.equal(expectedCalibrationError([], [], opts), null);
  assert.equal(brierScore([], []), null);
  assert.throws(() => evaluateCalibration({ labels: [0, 1], scores: [0.1, 0.2], attributes: [], options: { bins: -1 } }), /bins must be an integer >= 1/);
  const g = encodeAttribute('g', ['a', 'b']);
  assert.throws(() => evaluateCalibration({ labels: [0, 1], scores: [0.1, 0.2], attributes: [g, g] }), /duplicate attribute name "g"/);
  assert.throws(() => evaluateCalibration({ labels: [0, 1], scores: [0.1, 0.2], attributes: [g], intersections: [['g', 'k']] }), /names an unknown attribute/);
  assert.throws(() => evaluateCalibration({ labels: [0, 1], scores: [0.1, 0.2], attributes: [g], intersections: [['g', 'g']] }), /with itself/);
  assert.throws(() => evaluateCalibration({ labels: [0, 1, 1], scores: [0.1, 0.2, 0.3], attributes: [g] }), /attribute "g" has 2 rows, labels has 3/);
  assert.throws(
    () => evaluateCalibration({ labels: [0, 1], scores: [0.1, 0.2], attributes: [{ name: 'h', values: ['x'], codes: new Uint8Array([0, 3]) }] }),
    /attribute "h" has code 3 at row 1, outside 0..0/,
  );
});

test('largest deviation from the oracle (reported)', () => {
  assert.ok(largestDeviation.rel <= REL);
  console.log(`largest relative deviation from sklearn/numpy: ${largestDeviation.rel.toExponential(2)} (${largestDeviation.what})`);
});
