import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { evaluateClassification } from '../../analysis/classification';
import { encodeAttribute } from '../../analysis/confusion';
import { compareWithPrelaunch, type AuditSide, type DriftPolicy } from '../../analysis/drift';
import { populationStabilityIndex, psiBand, scorePsi } from '../../analysis/psi';
import { sliceRatesFromRateSet, weightedErrorRates, type SliceRates } from '../../analysis/weightedRates';
import { chiSquareSf } from '../../analysis/numerics/distributions';
import { newcombeDifference, wilsonInterval } from '../../analysis/numerics/intervals';
import { regularizedGammaQ } from '../../analysis/numerics/special';
import { assertClose } from './oracle';

interface Ci {
  estimate: number;
  lower: number;
  upper: number;
  n: number;
  rows: number;
  weight: number;
}
interface Oracle {
  versions: Record<string, string>;
  epsilon: number;
  chi2_sf: { x: number; df: number; sf: number; exact: number }[];
  gammaincc: { a: number; x: number; q: number; exact: number }[];
  newcombe: { x1: number; n1: number; x2: number; n2: number; confidence: number; estimate: number; lower: number; upper: number }[];
  wilson_effective: {
    name: string;
    values: string[];
    slice: string[];
    labels: number[];
    predictions: number[];
    weights: number[];
    rates: Record<string, { support: number; fpr: Ci | null; fnr: Ci | null; selectionRate: Ci | null }>;
  }[];
  psi_categorical: {
    name: string;
    expected: Record<string, number>;
    actual: Record<string, number>;
    categories: string[];
    psi: number;
    contributions: number[];
    k: number;
    statistic: number;
    p: number | null;
  }[];
  psi_scores: {
    name: string;
    bins: number;
    expected: number[];
    actual: number[];
    edges: number[];
    expected_counts: number[];
    actual_counts: number[];
    psi: number;
    contributions: number[];
    k: number;
    statistic: number;
    p: number | null;
  }[];
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/drift_oracle.json', import.meta.url), 'utf8')) as Oracle;
const V = oracle.versions;

/** |a - b| <= rtol * |b| + atol; returns the relative error for the report. */
function closeRel(actual: number | null, expected: number | null, what: string, rtol: number, atol = 0): number {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null, got ${actual}`);
    return 0;
  }
  assert.ok(actual !== null, `${what}: expected ${expected}, got null`);
  const err = Math.abs(actual - expected);
  assert.ok(err <= rtol * Math.abs(expected) + atol, `${what}: expected ${expected}, got ${actual} (rel ${(err / Math.abs(expected)).toExponential(2)})`);
  return expected === 0 ? err : err / Math.abs(expected);
}

test(`weightedErrorRates matches statsmodels Wilson on the Kish effective n (Hajek estimates, numpy ${V['numpy']})`, (t) => {
  let worst = 0;
  for (const ds of oracle.wilson_effective) {
    const country = encodeAttribute('country', ds.slice);
    assert.deepEqual(country.values, ds.values);
    const r = weightedErrorRates({ labels: ds.labels, predictions: ds.predictions, weights: ds.weights, slices: [country] });
    assert.equal(r.slices.length, ds.values.length);
    for (const s of [r.overall, ...r.slices]) {
      const want = ds.rates[s.attribute === 'overall' ? 'overall' : s.value]!;
      assert.equal(s.support, want.support);
      for (const m of ['fpr', 'fnr', 'selectionRate'] as const) {
        const w = want[m];
        const what = `${ds.name} ${s.value} ${m}`;
        if (w === null) {
          assert.equal(s[m].estimate, null, what);
          continue;
        }
        assert.equal(s[m].rows, w.rows, `${what} rows`);
        for (const [k, v] of [['estimate', w.estimate], ['lower', w.lower], ['upper', w.upper]] as const) {
          assertClose(s[m][k], v, `${what} ${k}`, 1e-12);
          worst = Math.max(worst, Math.abs(s[m][k]! - v));
        }
        closeRel(s[m].n, w.n, `${what} n_eff`, 1e-12);
        closeRel(s[m].weight, w.weight, `${what} sum of weights`, 1e-12);
      }
    }
  }
  t.diagnostic(`${oracle.wilson_effective.length} datasets, max absolute error of estimate/bounds ${worst.toExponential(2)}`);
});

test('with every weight 1 the rates and intervals are exactly the unweighted Wilson ones (evaluateClassification)', () => {
  const ds = oracle.wilson_effective.find((d) => d.name === 'unit_weights_400')!;
  const country = encodeAttribute('country', ds.slice);
  const r = weightedErrorRates({ labels: ds.labels, predictions: ds.predictions, weights: ds.weights, slices: [country] });
  const ev = evaluateClassification({
    labels: Uint8Array.from(ds.labels),
    scores: Float64Array.from(ds.predictions),
    threshold: 0.5,
    attributes: [country],
    withScoreMetrics: false,
  });
  const pairs = [[r.overall, ev.overall] as const, ...r.slices.map((s, k) => [s, ev.slices[k]!] as const)];
  for (const [w, e] of pairs) {
    const plain = sliceRatesFromRateSet(e.attribute, e.value, e.rates);
    assert.equal(w.value, e.value);
    for (const m of ['fpr', 'fnr', 'selectionRate'] as const) {
      const ours = { estimate: w[m].estimate, lower: w[m].lower, upper: w[m].upper, n: w[m].n, events: w[m].events };
      assert.deepEqual(ours, plain[m], `${w.value} ${m}: bitwise equal to the unweighted Wilson interval`);
    }
    assert.equal(w.support, e.rates.support);
  }
  // And to wilsonInterval directly.
  const o = r.overall.fpr;
  assert.deepEqual({ estimate: o.estimate, lower: o.lower, upper: o.upper }, wilsonInterval(o.events, o.rows));
});

test('populationStabilityIndex matches the textbook numpy formula (contributions, statistic, chi2 p-value)', (t) => {
  assert.equal(oracle.epsilon, 1e-4);
  let worstPsi = 0;
  let worstP = 0;
  for (const c of oracle.psi_categorical) {
    // Record and Map inputs give the same result.
    const r = populationStabilityIndex(c.expected, c.actual);
    const m = populationStabilityIndex(new Map(Object.entries(c.expected)), new Map(Object.entries(c.actual)));
    assert.deepEqual(m, r);
    assert.deepEqual(r.categories.map((x) => x.category), c.categories, `${c.name}: union of categories, sorted`);
    worstPsi = Math.max(worstPsi, closeRel(r.psi, c.psi, `${c.name} psi`, 1e-12, 1e-15));
    r.categories.forEach((x, i) => closeRel(x.contribution, c.contributions[i]!, `${c.name} contribution ${x.category}`, 1e-12, 1e-15));
    assert.equal(r.k, c.k, `${c.name} k`);
    assert.equal(r.df, Math.max(c.k - 1, 0));
    closeRel(r.statistic, c.statistic, `${c.name} statistic`, 1e-12, 1e-12);
    worstP = Math.max(worstP, closeRel(r.p, c.p, `${c.name} p`, 1e-10, 1e-300));
    assert.equal(r.band, psiBand(r.psi));
  }
  t.diagnostic(`${oracle.psi_categorical.length} distributions: max relative error PSI ${worstPsi.toExponential(2)}, p ${worstP.toExponential(2)}`);
  const byName = (n: string) => populationStabilityIndex(oracle.psi_categorical.find((c) => c.name === n)!.expected, oracle.psi_categorical.find((c) => c.name === n)!.actual);
  assert.equal(byName('identical').psi, 0);
  assert.equal(byName('identical').p, 1);
  assert.equal(byName('mild').band, 'stable');
  assert.equal(byName('moderate').band, 'moderate');
  assert.equal(byName('significant').band, 'significant');
  // A category new in the window contributes the smoothed term, finite.
  const fresh = byName('new_category').categories.find((x) => x.category === 'pt')!;
  assert.equal(fresh.expected, 0);
  assert.ok(Number.isFinite(fresh.contribution) && fresh.contribution > 0.3);
});

test('scorePsi: numpy quantile edges reproduced to the bit, bin counts and PSI as numpy', (t) => {
  let worst = 0;
  for (const c of oracle.psi_scores) {
    const r = scorePsi(c.expected, c.actual, c.bins);
    assert.deepEqual(r.edges, c.edges, `${c.name}: edges`);
    assert.deepEqual(r.categories.map((x) => x.expectedCount), c.expected_counts, `${c.name}: expected counts`);
    assert.deepEqual(r.categories.map((x) => x.actualCount), c.actual_counts, `${c.name}: actual counts`);
    worst = Math.max(worst, closeRel(r.psi, c.psi, `${c.name} psi`, 1e-12, 1e-15));
    assert.equal(r.k, c.k);
    closeRel(r.p, c.p, `${c.name} p`, 1e-10, 1e-300);
  }
  t.diagnostic(`${oracle.psi_scores.length} score sets, max relative error PSI ${worst.toExponential(2)}`);
  const ties = scorePsi(oracle.psi_scores.find((c) => c.name === 'grid_ties_500')!.expected, [0.1], 10);
  assert.ok(ties.edges.length < 9, 'tied quantiles are merged');
  assert.equal(scorePsi([1, 2, 3, 4], [1, 2, 3, 4], 2).psi, 0);
});

test('psiBand reads the conventional bands', () => {
  assert.equal(psiBand(0), 'stable');
  assert.equal(psiBand(0.0999), 'stable');
  assert.equal(psiBand(0.1), 'moderate');
  assert.equal(psiBand(0.25), 'moderate');
  assert.equal(psiBand(0.2501), 'significant');
});

// ---------------------------------------------------------------------------------------------
// compareWithPrelaunch on constructed audits

interface GroupSpec {
  value: string;
  /** Rows of each cell; weights apply to rows by prediction (stratified review of blocked items). */
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

function rows(groups: GroupSpec[]) {
  const labels: number[] = [];
  const predictions: number[] = [];
  const country: string[] = [];
  for (const g of groups) {
    const push = (y: number, p: number, k: number) => {
      for (let i = 0; i < k; i++) {
        labels.push(y);
        predictions.push(p);
        country.push(g.value);
      }
    };
    push(1, 1, g.tp);
    push(0, 1, g.fp);
    push(0, 0, g.tn);
    push(1, 0, g.fn);
  }
  return { labels, predictions, country };
}

/** Pre-launch: unweighted held-out evaluation. FPR 3%, FNR 10% everywhere; 'is' is thin. */
function prelaunchSide(): AuditSide {
  const spec: GroupSpec[] = ['br', 'de', 'ng', 'us'].map((value) => ({ value, tp: 180, fp: 12, tn: 388, fn: 20 }));
  spec.push({ value: 'is', tp: 3, fp: 0, tn: 8, fn: 1 });
  const r = rows(spec);
  const attr = encodeAttribute('country', r.country);
  const ev = evaluateClassification({ labels: Uint8Array.from(r.labels), scores: Float64Array.from(r.predictions), threshold: 0.5, attributes: [attr], withScoreMetrics: false });
  const slices: SliceRates[] = [ev.overall, ...ev.slices].map((s) => sliceRatesFromRateSet(s.attribute, s.value, s.rates));
  return { slices, attributes: { country: { br: 2500, de: 2500, ng: 2500, us: 2500, is: 60 } } };
}

/**
 * Window: labelled production traffic, blocked items reviewed with pi = 0.5 (w = 2), passed items
 * with pi = 0.2 (w = 5). Rows chosen so the weighted FPR is 2 fp / (2 fp + 5 tn) and FNR
 * 5 fn / (5 fn + 2 tp): 15 fp / 194 tn -> 3%, 10 fn / 225 tp -> 10%.
 */
function windowSide(ngFp: { fp: number; tn: number } | null, mix?: Record<string, number>): AuditSide {
  const spec: GroupSpec[] = ['br', 'de', 'ng', 'us'].map((value) => ({ value, tp: 225, fp: 15, tn: 194, fn: 10 }));
  if (ngFp) Object.assign(spec[2]!, ngFp);
  spec.push({ value: 'is', tp: 2, fp: 0, tn: 5, fn: 1 });
  const r = rows(spec);
  const weights = r.predictions.map((p) => (p === 1 ? 2 : 5));
  const w = weightedErrorRates({ labels: r.labels, predictions: r.predictions, weights, slices: [encodeAttribute('country', r.country)] });
  return { slices: [w.overall, ...w.slices], attributes: { country: mix ?? { br: 1250, de: 1260, ng: 1240, us: 1250, is: 35 } } };
}

const POLICY: DriftPolicy = { maxFprIncrease: 0.05, maxFairnessGap: 0.1, minSupport: 30 };

test('planted disparity: ham from one country blocked far more often -> concept drift and fairness crossed, alert', () => {
  // ng: 2 * 125 / (2 * 125 + 5 * 150) = 25% FPR in the window vs 3% pre-launch.
  const window = windowSide({ fp: 125, tn: 150 });
  const ng = window.slices.find((s) => s.value === 'ng')!;
  assertClose(ng.fpr.estimate, 0.25, 'planted weighted FPR');
  const r = compareWithPrelaunch({ prelaunch: prelaunchSide(), window, policy: POLICY });
  assert.equal(r.alert, true);

  const cd = r.conceptDrift.find((f) => f.slice === 'country=ng' && f.metric === 'fpr')!;
  assert.equal(cd.crossed, true);
  assertClose(cd.difference.estimate, 0.25 - 12 / 400, 'difference window - pre-launch');
  assert.ok(cd.difference.lower! > 0.05 && cd.difference.lower! < cd.difference.estimate!);
  // Newcombe on (effective events, effective n) of the window vs the pre-launch counts.
  assert.deepEqual(cd.difference, newcombeDifference(ng.fpr.events, ng.fpr.n, 12, 400));
  for (const v of ['br', 'de', 'us']) assert.equal(r.conceptDrift.find((f) => f.slice === `country=${v}` && f.metric === 'fpr')!.crossed, false, v);
  assert.equal(r.conceptDrift.filter((f) => f.metric === 'fnr').some((f) => f.crossed), false, 'FNR has no threshold here and did not move');

  const fair = r.fairness.find((f) => f.attribute === 'country' && f.metric === 'fpr_difference')!;
  assert.equal(fair.crossed, true);
  assert.equal(fair.window!.high, 'ng');
  assertClose(fair.prelaunch!.estimate, 0, 'pre-launch gap');
  assertClose(fair.window!.estimate, 0.25 - 0.03, 'window gap');
  assert.equal(fair.window!.groups, 4, "'is' is too thin to enter the gap");

  // Data drift is reported separately: the country mix did not move.
  const dd = r.dataDrift.find((f) => f.attribute === 'country')!;
  assert.equal(dd.crossed, false);
  assert.equal(dd.band, 'stable');
  assert.ok(r.reasons.some((s) => s.startsWith('concept drift: fpr of country=ng')));
  assert.ok(r.reasons.some((s) => s.startsWith('fairness: fpr_difference over country')));
  assert.ok(!r.reasons.some((s) => s.startsWith('data drift')));
});

test('a clean window raises no alert, and thin slices are listed as insufficient, never passed', () => {
  const r = compareWithPrelaunch({ prelaunch: prelaunchSide(), window: windowSide(null), policy: POLICY });
  assert.equal(r.alert, false, r.reasons.join('; '));
  assert.deepEqual(r.reasons, []);
  assert.ok(r.conceptDrift.length > 0 && r.conceptDrift.every((f) => !f.crossed));
  assert.ok(r.fairness.every((f) => !f.crossed));
  assert.ok(r.dataDrift.every((f) => !f.crossed));
  const thin = r.insufficient.filter((f) => f.slice === 'country=is');
  assert.deepEqual(thin.map((f) => f.metric).sort(), ['fnr', 'fpr']);
  assert.ok(thin.every((f) => /< minimum 30/.test(f.detail)), thin.map((f) => f.detail).join('; '));
  assert.ok(!r.conceptDrift.some((f) => f.slice === 'country=is'), 'a thin slice is not judged');
  // Overall and the four populated countries are judged on both error rates.
  assert.equal(r.conceptDrift.length, 2 * 5);
});

test('a slice missing on one side is insufficient; a shifted population is data drift on its own', () => {
  const prelaunch = prelaunchSide();
  const window = windowSide(null, { br: 200, de: 200, ng: 4000, us: 600, is: 35 });
  window.slices = window.slices.filter((s) => s.value !== 'de');
  const r = compareWithPrelaunch({ prelaunch, window, policy: POLICY });
  assert.ok(r.insufficient.some((f) => f.slice === 'country=de' && f.detail === 'absent from the window'));
  const dd = r.dataDrift.find((f) => f.attribute === 'country')!;
  assert.equal(dd.band, 'significant');
  assert.ok(dd.p! < 1e-10);
  assert.equal(dd.crossed, true);
  assert.equal(r.alert, true);
  assert.ok(r.reasons.every((s) => s.startsWith('data drift')), r.reasons.join('; '));

  // A tiny window distribution cannot cross on noise: insufficient below minSupport...
  const tiny = compareWithPrelaunch({ prelaunch, window: { ...windowSide(null), attributes: { country: { ng: 9, us: 1 } } }, policy: POLICY });
  assert.ok(tiny.insufficient.some((f) => f.slice === 'country' && f.metric === 'distribution'));
  // ... and above it a large PSI still needs a small p-value.
  const small = compareWithPrelaunch({
    prelaunch: { slices: prelaunch.slices, attributes: { lang: { en: 20, fr: 20 } } },
    window: { slices: windowSide(null).slices, attributes: { lang: { en: 12, fr: 28 } } },
    policy: { ...POLICY, maxPsi: 0.1 },
  });
  const lang = small.dataDrift.find((f) => f.attribute === 'lang')!;
  assert.ok(lang.psi > 0.1 && lang.p! > 0.01 && !lang.crossed, `psi ${lang.psi}, p ${lang.p}`);
});

test('bad input throws RangeError naming the field', () => {
  const ok = { labels: [0, 1, 0], predictions: [0, 1, 1], weights: [1, 2, 5] };
  assert.throws(() => weightedErrorRates({ ...ok, weights: [1, 0, 5] }), { name: 'RangeError', message: /weights\[1\]/ });
  assert.throws(() => weightedErrorRates({ ...ok, weights: [1, NaN, 5] }), { name: 'RangeError', message: /weights\[1\]/ });
  assert.throws(() => weightedErrorRates({ ...ok, labels: [0, 2, 0] }), { name: 'RangeError', message: /labels\[1\]/ });
  assert.throws(() => weightedErrorRates({ ...ok, predictions: [0, 1] }), { name: 'RangeError', message: /predictions/ });
  assert.throws(
    () => weightedErrorRates({ ...ok, slices: [{ name: 'country', values: ['a'], codes: Uint8Array.from([0, 1, 0]) }] }),
    { name: 'RangeError', message: /slices\["country"\]\.codes\[1\]/ },
  );
  assert.throws(() => populationStabilityIndex({ a: -1, b: 2 }, { a: 1 }), { name: 'RangeError', message: /expected\["a"\]/ });
  assert.throws(() => populationStabilityIndex({ a: 1 }, { a: 0 }), { name: 'RangeError', message: /actual has no mass/ });
  assert.throws(() => populationStabilityIndex({ a: 1 }, { a: 1 }, { epsilon: 0 }), { name: 'RangeError', message: /opts\.epsilon/ });
  assert.throws(() => scorePsi([0.1, 0.2], [NaN], 10), { name: 'RangeError', message: /actualScores\[0\]/ });
  assert.throws(() => scorePsi([0.1, 0.2], [0.3], 1), { name: 'RangeError', message: /bins/ });
  assert.throws(() => scorePsi([], [0.3]), { name: 'RangeError', message: /expectedScores is empty/ });
  assert.throws(() => chiSquareSf(1, 0), { name: 'RangeError', message: /df/ });
  assert.throws(() => regularizedGammaQ(1, -1), { name: 'RangeError', message: /x must be/ });
  const prelaunch = prelaunchSide();
  const window = windowSide(null);
  assert.throws(() => compareWithPrelaunch({ prelaunch, window, policy: { ...POLICY, maxFprIncrease: 1.5 } }), { name: 'RangeError', message: /policy\.maxFprIncrease/ });
  assert.throws(() => compareWithPrelaunch({ prelaunch, window, policy: { ...POLICY, minSupport: 0 } }), { name: 'RangeError', message: /policy\.minSupport/ });
  assert.throws(
    () => compareWithPrelaunch({ prelaunch, window, policy: { ...POLICY, fairnessMetrics: ['accuracy' as 'fpr_difference'] } }),
    { name: 'RangeError', message: /policy\.fairnessMetrics\[0\]/ },
  );
  const broken = { ...window, slices: window.slices.map((s, i) => (i === 0 ? { ...s, fpr: { ...s.fpr, n: -1 } } : s)) };
  assert.throws(() => compareWithPrelaunch({ prelaunch, window: broken, policy: POLICY }), { name: 'RangeError', message: /window\.slices\[0\]\.fpr\.n/ });
  const dup = { ...prelaunch, slices: [...prelaunch.slices, prelaunch.slices[1]!] };
  assert.throws(() => compareWithPrelaunch({ prelaunch: dup, window, policy: POLICY }), { name: 'RangeError', message: /prelaunch\.slices\[\d+\] duplicates/ });
  assert.throws(
    () => compareWithPrelaunch({ prelaunch, window: { ...window, attributes: { country: { us: Infinity } } }, policy: POLICY }),
    { name: 'RangeError', message: /window\.attributes\["country"\]\["us"\]/ },
  );
});
