import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeAttribute, type EncodedAttribute } from '../../analysis/confusion';
import { abstainBand, chooseThreshold, precisionRecallCurve, prCurvesBySlice, type AbstainBand, type PrCurve, type ThresholdChoice, type ThresholdConstraints, type ThresholdPoint } from '../../analysis/thresholds';
import { errorCost, minimumCostThreshold, type CostPolicy } from '../../analysis/errorCost';
import { thresholdRows } from './synthetic';

interface OracleCurve {
  thresholds: number[];
  precision: number[];
  recall: number[];
}
interface OraclePoint {
  threshold: number;
  recall: number;
  precision: number;
  fpr: number;
  worstSliceFpr: { attribute: string; value: string; fpr: number } | null;
}
interface OracleChoice {
  status: 'met' | 'none';
  chosen: OraclePoint | null;
  closest: (OraclePoint & { violations: string[]; totalViolation: number }) | null;
  candidatesScanned: number;
  skippedSlices: { attribute: string; value: string; negatives: number }[];
}
type OracleErrorCost = ReturnType<typeof errorCost>;
interface OracleDataset {
  name: string;
  labels: number[];
  scores: number[];
  float32?: boolean;
  attributes: { name: string; values: string[]; codes: number[] }[];
  prCurve: OracleCurve;
  prCurvesBySlice: { attribute: string; slices: { value: string; curve: OracleCurve }[] }[];
  choose: { constraints: ThresholdConstraints; expected: OracleChoice }[];
  minimumCost: { cost: CostPolicy; expected: { threshold: number; cost: number } }[];
  errorCost: { cost: CostPolicy; threshold: number; expected: OracleErrorCost }[];
  abstain: { threshold: number; halfWidth: number; expected: AbstainBand }[];
}

const oracle = JSON.parse(readFileSync(new URL('../fixtures/threshold_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  datasets: OracleDataset[];
};

const TOL = 1e-9;
function close(actual: number | null | undefined, expected: number | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return;
  }
  assert.ok(typeof actual === 'number', `${what}: expected ${expected}, got ${actual}`);
  assert.ok(Math.abs(actual - expected) <= TOL * Math.max(1, Math.abs(expected)), `${what}: expected ${expected}, got ${actual}`);
}

interface Loaded {
  ds: OracleDataset;
  labels: Uint8Array;
  scores: Float64Array | Float32Array;
  attributes: EncodedAttribute[];
}
const load = (ds: OracleDataset): Loaded => ({
  ds,
  labels: Uint8Array.from(ds.labels),
  scores: ds.float32 ? Float32Array.from(ds.scores) : Float64Array.from(ds.scores),
  attributes: ds.attributes.map((a) => ({ name: a.name, values: a.values, codes: Uint8Array.from(a.codes) })),
});
const datasets = oracle.datasets.map(load);
const byName = (name: string): Loaded => {
  const d = datasets.find((x) => x.ds.name === name);
  assert.ok(d, `dataset ${name} in the fixture`);
  return d;
};

function compareCurve(got: PrCurve, want: OracleCurve, where: string): void {
  assert.equal(got.thresholds.length, want.thresholds.length, `${where}: number of thresholds`);
  assert.equal(got.precision.length, want.precision.length, `${where}: precision length`);
  assert.equal(got.recall.length, want.recall.length, `${where}: recall length`);
  want.thresholds.forEach((t, i) => close(got.thresholds[i], t, `${where} thresholds[${i}]`));
  want.precision.forEach((p, i) => close(got.precision[i], p, `${where} precision[${i}]`));
  want.recall.forEach((r, i) => close(got.recall[i], r, `${where} recall[${i}]`));
}

function comparePoint(got: ThresholdPoint, want: OraclePoint, where: string): void {
  close(got.threshold, want.threshold, `${where} threshold`);
  close(got.recall, want.recall, `${where} recall`);
  close(got.precision, want.precision, `${where} precision`);
  close(got.fpr, want.fpr, `${where} fpr`);
  if (want.worstSliceFpr === null) {
    assert.equal(got.worstSliceFpr, null, `${where} worstSliceFpr`);
  } else {
    assert.ok(got.worstSliceFpr, `${where} worstSliceFpr present`);
    assert.equal(got.worstSliceFpr.attribute, want.worstSliceFpr.attribute, `${where} worst slice attribute`);
    assert.equal(got.worstSliceFpr.value, want.worstSliceFpr.value, `${where} worst slice value`);
    close(got.worstSliceFpr.fpr, want.worstSliceFpr.fpr, `${where} worst slice fpr`);
  }
}

function compareChoice(got: ThresholdChoice, want: OracleChoice, where: string): void {
  assert.equal(got.status, want.status, `${where} status`);
  assert.equal(got.candidatesScanned, want.candidatesScanned, `${where} candidatesScanned`);
  assert.deepEqual(got.skippedSlices, want.skippedSlices, `${where} skippedSlices`);
  if (want.chosen === null) assert.equal(got.chosen, null, `${where} chosen`);
  else comparePoint(got.chosen!, want.chosen, `${where} chosen`);
  if (want.closest === null) {
    assert.equal(got.closest, null, `${where} closest`);
  } else {
    assert.ok(got.closest, `${where} closest present`);
    comparePoint(got.closest, want.closest, `${where} closest`);
    close(got.closest.totalViolation, want.closest.totalViolation, `${where} totalViolation`);
    assert.deepEqual(
      got.closest.violations.map((v) => v.slice(0, v.indexOf(':'))),
      want.closest.violations,
      `${where} violated constraints (${got.closest.violations.join('; ')})`,
    );
  }
}

test('the fixture was generated with the pinned sklearn', () => {
  assert.equal(oracle.versions['scikit-learn'], '1.9.1');
  assert.equal(oracle.datasets.length, 6);
  assert.equal(byName('synthetic').ds.labels.length, 2000);
});

test('precisionRecallCurve matches sklearn.metrics.precision_recall_curve', () => {
  for (const { ds, labels, scores } of datasets) {
    compareCurve(precisionRecallCurve(labels, scores), ds.prCurve, ds.name);
    // Plain arrays work too.
    compareCurve(precisionRecallCurve(ds.labels, ds.scores), ds.prCurve, `${ds.name} (plain arrays)`);
  }
});

test('precisionRecallCurve keeps sklearn semantics: every distinct score, increasing, closing (1, 0)', () => {
  const c = precisionRecallCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
  assert.deepEqual(Array.from(c.thresholds), [0.1, 0.35, 0.4, 0.8]);
  assert.deepEqual(Array.from(c.precision), [0.5, 2 / 3, 0.5, 1, 1]);
  assert.deepEqual(Array.from(c.recall), [1, 1, 0.5, 0.5, 0]);
  // No truncation once recall reaches 1 and no drop_intermediate: 4 distinct scores -> 4 thresholds.
  const neg = precisionRecallCurve([0, 0, 0], [0.3, 0.3, 0.1]);
  assert.deepEqual(Array.from(neg.recall), [1, 1, 0]); // no positives: recall 1 (sklearn warns)
  assert.deepEqual(Array.from(neg.precision), [0, 0, 1]);
  // -0 and +0 are one threshold, as numerically equal.
  assert.equal(precisionRecallCurve([0, 1], [-0, 0]).thresholds.length, 1);
});

test('prCurvesBySlice matches sklearn on each slice subset', () => {
  for (const { ds, labels, scores, attributes } of datasets) {
    for (const want of ds.prCurvesBySlice) {
      const attribute = attributes.find((a) => a.name === want.attribute)!;
      const got = prCurvesBySlice(labels, scores, attribute);
      assert.deepEqual(
        got.map((g) => g.value),
        want.slices.map((s) => s.value),
        `${ds.name} ${want.attribute} values`,
      );
      got.forEach((g, i) => compareCurve(g.curve, want.slices[i]!.curve, `${ds.name} ${want.attribute}=${g.value}`));
    }
  }
});

test('prCurvesBySlice downsampling keeps both endpoints and the closing point', () => {
  const { labels, scores, attributes } = byName('synthetic');
  const lang = attributes.find((a) => a.name === 'lang')!;
  const full = prCurvesBySlice(labels, scores, lang);
  const small = prCurvesBySlice(labels, scores, lang, 25);
  assert.equal(small.length, full.length);
  small.forEach(({ value, curve }, s) => {
    const f = full[s]!.curve;
    const m = f.thresholds.length;
    const k = Math.min(25, m);
    assert.equal(curve.thresholds.length, k, `${value}: points`);
    assert.equal(curve.precision.length, k + 1);
    assert.equal(curve.recall.length, k + 1);
    assert.equal(curve.thresholds[0], f.thresholds[0], `${value}: lowest threshold kept`);
    assert.equal(curve.thresholds[k - 1], f.thresholds[m - 1], `${value}: highest threshold kept`);
    assert.equal(curve.precision[k], 1);
    assert.equal(curve.recall[k], 0);
    for (let i = 0; i < k; i++) {
      const j = f.thresholds.indexOf(curve.thresholds[i]!);
      assert.ok(j >= 0, `${value}: kept points are points of the full curve`);
      assert.equal(curve.precision[i], f.precision[j]);
      assert.equal(curve.recall[i], f.recall[j]);
      if (i > 0) assert.ok(curve.thresholds[i]! > curve.thresholds[i - 1]!, `${value}: increasing`);
    }
  });
  // The tiny slice has fewer points than the cap and is returned whole.
  const xx = small.find((s) => s.value === 'xx')!;
  assert.equal(xx.curve.thresholds.length, 5);
  assert.throws(() => prCurvesBySlice(labels, scores, lang, 1), /maxPoints/);
});

test('chooseThreshold matches the brute-force reference (every distinct threshold evaluated naively)', () => {
  let met = 0;
  let none = 0;
  for (const { ds, labels, scores, attributes } of datasets) {
    for (const c of ds.choose) {
      const got = chooseThreshold({ labels, scores, attributes, constraints: c.constraints });
      compareChoice(got, c.expected, `${ds.name} ${JSON.stringify(c.constraints)}`);
      if (got.status === 'met') met++;
      else none++;
    }
  }
  assert.ok(met >= 5 && none >= 5, `both outcomes covered (met ${met}, none ${none})`);
});

test("chooseThreshold: when nothing satisfies, 'none' with the closest threshold and readable violations", () => {
  const { labels, scores, attributes } = byName('synthetic');
  const r = chooseThreshold({ labels, scores, attributes, constraints: { minRecall: 0.99, maxFpr: 0.01, minPrecision: 0.95 } });
  assert.equal(r.status, 'none');
  assert.equal(r.chosen, null);
  assert.ok(r.closest);
  assert.ok(r.closest.totalViolation > 0);
  assert.equal(r.closest.violations.length, 2);
  assert.match(r.closest.violations[0]!, /^minRecall: recall 0\.\d{4} \(\d+\/\d+\) is below 0\.99$/);
  assert.match(r.closest.violations[1]!, /^minPrecision: precision 0\.\d{4} \(\d+\/\d+\) is below 0\.95$/);
  // The closest point honours the constraint it can (FPR <= 1%) rather than one it cannot.
  assert.ok(r.closest.fpr <= 0.01);

  // Hand-checkable: two rows, the negative scored above the positive.
  const tiny = chooseThreshold({
    labels: Uint8Array.from([0, 1]),
    scores: Float64Array.from([0.9, 0.2]),
    constraints: { minRecall: 1, maxFpr: 0.5 },
  });
  // Candidates: 0.9 (recall 0, fpr 1) and 0.2 (recall 1, fpr 1). Violations 1 + 1 = 2 vs 0 + 1 = 1.
  assert.equal(tiny.status, 'none');
  assert.equal(tiny.candidatesScanned, 2);
  assert.equal(tiny.closest!.threshold, 0.2);
  assert.equal(tiny.closest!.totalViolation, 1);
  assert.deepEqual(tiny.closest!.violations, ['maxFpr: FPR 1 (1/1) exceeds 0.5']);

  // Equal violations: the highest recall wins. A zero ceiling counts its excess absolutely.
  const tied = chooseThreshold({
    labels: Uint8Array.from([0, 1, 1, 0]),
    scores: Float64Array.from([0.9, 0.8, 0.7, 0.1]),
    constraints: { maxFpr: 0 },
  });
  assert.equal(tied.status, 'none');
  assert.equal(tied.closest!.threshold, 0.7); // 0.9, 0.8 and 0.7 all have FPR 1/2; 0.7 has recall 1
  assert.equal(tied.closest!.totalViolation, 0.5);
  assert.equal(tied.closest!.recall, 1);
});

test('chooseThreshold ignores slices below minSliceNegatives (and says which)', () => {
  const { labels, scores, attributes } = byName('synthetic');
  const base = { minRecall: 0.6, maxSliceFpr: 0.35 };
  const ignored = chooseThreshold({ labels, scores, attributes, constraints: { ...base, minSliceNegatives: 20 } });
  assert.equal(ignored.status, 'met');
  assert.deepEqual(ignored.skippedSlices, [{ attribute: 'lang', value: 'xx', negatives: 4 }]);
  // The tiny language's FPR is far above the ceiling at the chosen threshold, yet it was not a constraint.
  const xxFpr = (t: number) => [400, 1234, 17, 1999].filter((i) => scores[i]! >= t).length / 4;
  assert.ok(xxFpr(ignored.chosen!.threshold) > 0.35);
  assert.notEqual(ignored.chosen!.worstSliceFpr!.value, 'xx');

  const counted = chooseThreshold({ labels, scores, attributes, constraints: { ...base, minSliceNegatives: 1 } });
  assert.equal(counted.status, 'none');
  assert.deepEqual(counted.skippedSlices, []);

  // A self-contained one: slice 'tiny' has 2 negatives scored above every positive.
  const lab = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const sc = Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.1, 0.2, 0.3, 0.1, 0.2, 0.3, 0.4, 0.5, 0.95, 0.97]);
  const slice = encodeAttribute('segment', ['big', 'big', 'big', 'big', 'big', 'big', 'big', 'big', 'big', 'big', 'big', 'big', 'tiny', 'tiny']);
  const small = chooseThreshold({ labels: lab, scores: sc, attributes: [slice], constraints: { minRecall: 1, maxSliceFpr: 0.1, minSliceNegatives: 5 } });
  assert.equal(small.status, 'met');
  assert.equal(small.chosen!.threshold, 0.6);
  assert.deepEqual(small.chosen!.worstSliceFpr, { attribute: 'segment', value: 'big', fpr: 0 });
  assert.equal(small.chosen!.fpr, 0.2);
  const strict = chooseThreshold({ labels: lab, scores: sc, attributes: [slice], constraints: { minRecall: 1, maxSliceFpr: 0.1, minSliceNegatives: 2 } });
  assert.equal(strict.status, 'none');
  // Every threshold that flags a positive flags both tiny negatives (slice FPR 1, a 9x overshoot);
  // the closest is 0.97: recall 0 (shortfall 1) and tiny FPR 0.5 (shortfall 4), total 5.
  assert.equal(strict.closest!.threshold, 0.97);
  assert.equal(strict.closest!.totalViolation, 5);
  assert.deepEqual(strict.closest!.violations, [
    'minRecall: recall 0 (0/4) is below 1',
    'maxSliceFpr: FPR 0.5000 on segment=tiny (2 negatives) exceeds 0.1',
  ]);
});

test('chooseThreshold rejects bad input', () => {
  const labels = Uint8Array.from([0, 1]);
  assert.throws(() => chooseThreshold({ labels, scores: Float64Array.from([0.1, NaN]), constraints: {} }), /finite/);
  assert.throws(() => chooseThreshold({ labels: Uint8Array.from([0, 2]), scores: Float64Array.from([0.1, 0.2]), constraints: {} }), /0 or 1/);
  assert.throws(() => chooseThreshold({ labels, scores: Float64Array.from([0.1]), constraints: {} }), /length mismatch/);
  assert.throws(() => chooseThreshold({ labels, scores: Float64Array.from([0.1, 0.2]), constraints: { maxSliceFpr: 0.1 } }), /attribute/);
  assert.throws(() => chooseThreshold({ labels, scores: Float64Array.from([0.1, 0.2]), constraints: { minRecall: 1.5 } }), /minRecall/);
  const bad: EncodedAttribute = { name: 'x', values: ['a'], codes: Int32Array.from([0, 1]) };
  assert.throws(() => chooseThreshold({ labels, scores: Float64Array.from([0.1, 0.2]), attributes: [bad], constraints: {} }), /code 1/);
});

test('minimumCostThreshold and errorCost match the brute-force reference', () => {
  for (const { ds, labels, scores, attributes } of datasets) {
    for (const c of ds.minimumCost) {
      const got = minimumCostThreshold({ labels, scores, attributes, cost: c.cost });
      const where = `${ds.name} ${JSON.stringify(c.cost)}`;
      close(got.threshold, c.expected.threshold, `${where} threshold`);
      close(got.cost, c.expected.cost, `${where} cost`);
      // Consistent with errorCost at that threshold.
      close(errorCost({ labels, scores, attributes, cost: c.cost, threshold: got.threshold }).total, got.cost, `${where} errorCost`);
    }
    for (const c of ds.errorCost) {
      const got = errorCost({ labels, scores, attributes, cost: c.cost, threshold: c.threshold });
      const where = `${ds.name} t=${c.threshold} ${JSON.stringify(c.cost)}`;
      close(got.total, c.expected.total, `${where} total`);
      close(got.perExample, c.expected.perExample, `${where} perExample`);
      assert.equal(got.falsePositives, c.expected.falsePositives, `${where} falsePositives`);
      assert.equal(got.falseNegatives, c.expected.falseNegatives, `${where} falseNegatives`);
      assert.equal(got.bySlice.length, c.expected.bySlice.length, `${where} slices`);
      got.bySlice.forEach((s, i) => {
        const w = c.expected.bySlice[i]!;
        assert.equal(`${s.attribute}=${s.value}`, `${w.attribute}=${w.value}`);
        close(s.cost, w.cost, `${where} ${s.attribute}=${s.value} cost`);
        close(s.share, w.share, `${where} ${s.attribute}=${s.value} share`);
      });
      for (const a of attributes) {
        const shares = got.bySlice.filter((s) => s.attribute === a.name).reduce((acc, s) => acc + s.share, 0);
        if (got.total > 0) close(shares, 1, `${where} ${a.name} shares sum to 1`);
      }
    }
  }
});

test('errorCost refuses a multiplier for an attribute it was not given', () => {
  assert.throws(
    () =>
      errorCost({
        labels: [0, 1],
        scores: [0.4, 0.6],
        threshold: 0.5,
        cost: { falsePositiveCost: 1, falseNegativeCost: 1, sliceMultipliers: [{ attribute: 'kind', value: 'hard_ham', falsePositive: 2 }] },
      }),
    /unknown attribute "kind"/,
  );
});

test('abstainBand matches the reference', () => {
  for (const { ds, labels, scores } of datasets) {
    for (const c of ds.abstain) {
      const got = abstainBand({ labels, scores, threshold: c.threshold, halfWidth: c.halfWidth });
      const where = `${ds.name} t=${c.threshold} h=${c.halfWidth}`;
      close(got.lower, c.expected.lower, `${where} lower`);
      close(got.upper, c.expected.upper, `${where} upper`);
      close(got.coverage, c.expected.coverage, `${where} coverage`);
      assert.equal(got.deferred, c.expected.deferred, `${where} deferred`);
      close(got.errorRateOutside, c.expected.errorRateOutside, `${where} errorRateOutside`);
      close(got.errorRateAll, c.expected.errorRateAll, `${where} errorRateAll`);
    }
  }
  // Half-open band: a score equal to the upper edge is decided, one equal to the lower edge deferred.
  const b = abstainBand({ labels: [0, 1, 1], scores: [0.25, 0.75, 0.5], threshold: 0.5, halfWidth: 0.25 });
  assert.deepEqual(b, { lower: 0.25, upper: 0.75, coverage: 1 / 3, deferred: 2, errorRateOutside: 0, errorRateAll: 0 });
});

test('one sweep: every distinct score is a candidate once, however many rows share it', () => {
  // The work counter: candidates scanned equals the distinct scores (one sorted sweep), not rows x
  // candidates. Deterministic LCG data, 200k rows on a 1e-5 score grid; the 1M-row timing is in
  // bench/units.bench.ts.
  const n = 200_000;
  const { labels, scores, attributes } = thresholdRows(n);
  const r = chooseThreshold({ labels, scores, attributes, constraints: { minRecall: 0.9, maxSliceFpr: 0.5 } });
  assert.equal(r.status, 'met');
  const distinct = new Set(scores).size;
  assert.ok(distinct < n / 2, 'rows share scores');
  assert.equal(r.candidatesScanned, distinct);
});
