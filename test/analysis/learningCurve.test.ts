import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_VERDICT_THRESHOLDS, RECOMMENDATIONS, learningCurveVerdict, recencyEvidence, type AblationSeed, type CurveFraction } from '../../analysis/learningCurve';
import { fitInversePowerLaw, inversePowerLaw, type InversePowerLawFit, type InversePowerLawFitOk, type LearningCurvePoint } from '../../analysis/powerLaw';
import { pairedTInterval } from '../../analysis/numerics/intervals';
import { assertClose } from './oracle';

interface OracleFit {
  popt: [number, number, number];
  pcov: (number | null)[][];
  perr: [number, number, number] | null;
  ssr: number;
  rmse: number;
  r2: number | null;
  residuals: number[];
  projectedErrorAtDouble: number;
  projectedGainFromDoubling: number;
  projectedGainStandardError: number | null;
  asymptoteGap: number;
  atBound: { a: boolean; b: boolean; cLow: boolean; cHigh: boolean };
}
interface OraclePointSet {
  name: string;
  points: (LearningCurvePoint & { seed?: number })[];
  nonNegativeAsymptote?: boolean;
  expect: 'ok' | string;
  curveFit?: OracleFit;
  curveFitOfMeans?: { popt: [number, number, number] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/learning_curve_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  cBounds: [number, number];
  pointSets: OraclePointSet[];
};

const set = (name: string): OraclePointSet => {
  const s = oracle.pointSets.find((p) => p.name === name);
  assert.ok(s, `point set ${name} in the fixture`);
  return s;
};
const fitOf = (s: OraclePointSet): InversePowerLawFit =>
  fitInversePowerLaw(s.points, { nonNegativeAsymptote: s.nonNegativeAsymptote ?? true, cMin: oracle.cBounds[0], cMax: oracle.cBounds[1] });

/** |actual - expected| <= rel * |expected| (or <= abs when given and larger). */
function relClose(actual: number, expected: number, rel: number, what: string, abs = 0): number {
  const err = Math.abs(actual - expected);
  const tol = Math.max(rel * Math.abs(expected), abs);
  assert.ok(err <= tol, `${what}: expected ${expected}, got ${actual} (rel diff ${err / Math.abs(expected)})`);
  return expected === 0 ? 0 : err / Math.abs(expected);
}

/** Per-n errors of a point set, seeds in order. */
function curveOf(s: OraclePointSet): CurveFraction[] {
  const by = new Map<number, number[]>();
  for (const p of s.points) by.set(p.n, [...(by.get(p.n) ?? []), p.error]);
  return [...by.entries()].map(([n, errors]) => ({ n, errors }));
}

// ---------------------------------------------------------------------------------------------
// Fit against scipy.optimize.curve_fit
// ---------------------------------------------------------------------------------------------

// scipy's trf was run with ftol = xtol = gtol = 1e-15; the well-conditioned sets agree to ~1e-9.
const PARAM_REL = 1e-7;

for (const s of oracle.pointSets.filter((p) => p.expect === 'ok')) {
  test(`fitInversePowerLaw matches scipy curve_fit: ${s.name}`, () => {
    const cf = s.curveFit!;
    const fit = fitOf(s);
    assert.ok(fit.ok, `${s.name}: expected a fit, got ${JSON.stringify(fit)}`);
    const names = ['a', 'b', 'c'] as const;
    names.forEach((k, i) => {
      // trf stays strictly inside the bounds (a ~ 1e-22 where the bound is active); ours is exactly 0.
      if (k === 'a' && cf.atBound.a) {
        assert.equal(fit.a, 0);
        assert.ok(cf.popt[0] < 1e-12);
      } else relClose(fit[k], cf.popt[i]!, PARAM_REL, `${s.name} ${k}`);
      relClose(fit.standardErrors[k], cf.perr![i]!, PARAM_REL, `${s.name} se(${k})`);
      names.forEach((_, j) => relClose(fit.covariance[i]![j]!, cf.pcov[i]![j]!, 1e-6, `${s.name} pcov[${i}][${j}]`));
    });
    assert.equal(fit.asymptoteAtBound, cf.atBound.a);
    relClose(fit.ssr, cf.ssr, 1e-10, `${s.name} ssr`);
    relClose(fit.rmse, cf.rmse, 1e-10, `${s.name} rmse`);
    relClose(fit.r2!, cf.r2!, 1e-10, `${s.name} r2`);
    assert.equal(fit.residuals.length, cf.residuals.length);
    cf.residuals.forEach((r, i) => assertClose(fit.residuals[i]!, r, `${s.name} residual[${i}]`, 1e-9));
    relClose(fit.projectedErrorAtDouble, cf.projectedErrorAtDouble, 1e-9, `${s.name} projectedErrorAtDouble`);
    relClose(fit.projectedGainFromDoubling, cf.projectedGainFromDoubling, PARAM_REL, `${s.name} projectedGainFromDoubling`);
    relClose(fit.projectedGainStandardError, cf.projectedGainStandardError!, 1e-6, `${s.name} projectedGainStandardError`);
    relClose(fit.asymptoteGap, cf.asymptoteGap, PARAM_REL, `${s.name} asymptoteGap`);
    assert.equal(fit.degreesOfFreedom, s.points.length - 3);
    relClose(fit.errorAtMax, inversePowerLaw(fit, fit.nMax), 1e-12, `${s.name} errorAtMax`);
  });
}

test('replicates: all points and per-n means weighted by replicate count give the same parameters', () => {
  for (const name of ['replicates', 'spam', 'clean']) {
    const s = set(name);
    const all = fitOf(s) as InversePowerLawFitOk;
    const means = curveOf(s).map((f) => ({ n: f.n, error: f.errors.reduce((x, y) => x + y, 0) / f.errors.length, weight: f.errors.length }));
    const m = fitInversePowerLaw(means) as InversePowerLawFitOk;
    assert.ok(all.ok && m.ok);
    for (const k of ['a', 'b', 'c'] as const) {
      relClose(m[k], all[k], 1e-9, `${name} ${k}: means vs all points`);
      relClose(m[k], s.curveFitOfMeans!.popt[['a', 'b', 'c'].indexOf(k)]!, PARAM_REL, `${name} ${k}: means vs scipy on means`);
    }
    // ...but not the same standard errors: the all-points fit counts every seed in its residual df.
    assert.equal(all.degreesOfFreedom, s.points.length - 3);
  }
});

test('fitInversePowerLaw refuses the degenerate point sets with the expected reason', () => {
  for (const s of oracle.pointSets.filter((p) => p.expect !== 'ok')) {
    const fit = fitOf(s);
    assert.equal(fit.ok, false, `${s.name} must not fit`);
    if (fit.ok) continue;
    assert.equal(fit.reason, s.expect, `${s.name}: ${fit.detail}`);
    assert.ok(fit.detail.length > 0);
  }
  assert.equal(set('three_sizes').curveFit, undefined);
});

test('refused fits still report the constrained optimum, and it is scipy curve_fit optimum', () => {
  // near_linear (a >= 0): a = 0 and se(c) > c; near_linear_free_a: c on its lower bound.
  for (const name of ['near_linear', 'near_linear_free_a']) {
    const s = set(name);
    const fit = fitOf(s);
    assert.ok(!fit.ok && fit.optimum, name);
    const cf = s.curveFit!;
    relClose(fit.optimum.ssr, cf.ssr, 1e-9, `${name} ssr`);
    relClose(fit.optimum.b, cf.popt[1], 1e-7, `${name} b`);
    relClose(fit.optimum.c, cf.popt[2], 1e-7, `${name} c`);
    relClose(fit.optimum.a, cf.popt[0], 1e-7, `${name} a`, 1e-12);
    relClose(fit.optimum.standardErrors!.c, cf.perr![2], 1e-6, `${name} se(c)`);
  }
  assert.ok(set('near_linear_free_a').curveFit!.atBound.cLow, 'scipy also ends on c = cMin');
  // flat: badly conditioned (se(b) is 77x b), so only the objective is compared tightly.
  const s = set('flat');
  const fit = fitOf(s);
  assert.ok(!fit.ok && fit.reason === 'parameters not identifiable (c unbounded)' && fit.optimum);
  assert.ok(fit.optimum.ssr <= s.curveFit!.ssr * (1 + 1e-12), 'our optimum is at least as good as scipy');
  relClose(fit.optimum.c, s.curveFit!.popt[2], 1e-5, 'flat c');
  relClose(fit.optimum.a, s.curveFit!.popt[0], 1e-6, 'flat a');
  assert.match(fit.detail, /standard error of c/);
});

test('fitInversePowerLaw recovers an exact power law and reports the failure modes', () => {
  const law = { a: 0.02, b: 3, c: 0.7 };
  const exact = [500, 1000, 1500, 2000, 3000, 4000].map((n) => ({ n, error: inversePowerLaw(law, n) }));
  // Exact data: rmse 0, so the standard errors are 0 and identifiability is judged by the exponent only.
  const f = fitInversePowerLaw(exact.map((p, i) => ({ ...p, error: p.error + (i % 2 ? 1e-7 : -1e-7) })));
  assert.ok(f.ok);
  relClose(f.c, 0.7, 1e-3, 'c');
  relClose(f.a, 0.02, 1e-3, 'a');
  assert.equal(fitInversePowerLaw(exact.slice(0, 3)).ok, false);
  const three = fitInversePowerLaw([...exact.slice(0, 3), ...exact.slice(0, 3)]);
  assert.ok(!three.ok && three.reason === 'fewer than 4 distinct sizes' && three.distinctSizes === 3);
  const flat = fitInversePowerLaw(exact.map((p) => ({ n: p.n, error: 0.05 })));
  assert.ok(!flat.ok && flat.reason === 'error does not decrease with n');
  const up = fitInversePowerLaw(exact.map((p) => ({ n: p.n, error: 0.1 - p.error })));
  assert.ok(!up.ok && up.reason === 'error does not decrease with n');
  // A sharper drop than n^-5 can follow: the exponent runs into the upper bound.
  const cliff = fitInversePowerLaw([100, 200, 400, 800, 1600].map((n) => ({ n, error: n === 100 ? 0.5 : 0.05 + n * 1e-9 })));
  assert.ok(!cliff.ok && cliff.reason === 'parameters not identifiable (c unbounded)', JSON.stringify(cliff));
  assert.ok(!cliff.ok && cliff.optimum && cliff.optimum.c === 5);
});

// ---------------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------------

/** Ablation seeds with a planted per-seed effect (with - without). */
const ablation = (effects: number[], base = 0.02): AblationSeed[] =>
  effects.map((d, seed) => ({ seed, withNewest: base + d, withoutNewest: base }));

test('verdict: strong power law (spam-like 0.08 -> 0.02) is improving', () => {
  const v = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: ablation([-0.001, 0.0005, -0.0002]) });
  assert.equal(v.verdict, 'improving', v.reasons.join('\n'));
  assert.equal(v.recommendation, 'collect more data');
  assert.ok(v.evidence.fit.ok);
  assert.deepEqual(v.thresholds, DEFAULT_VERDICT_THRESHOLDS);
  assert.ok(v.evidence.ablation && !v.evidence.ablation.significant);
  assert.ok(v.reasons.some((r) => r.includes('projected to lower error')));
  assert.equal(v.evidence.sizeComparisons.length, 9);
  // The same data with a higher bar is a plateau.
  const strict = learningCurveVerdict({ curve: curveOf(set('spam')), thresholds: { minGainFromDoubling: 0.01 } });
  assert.equal(strict.verdict, 'plateau');
  assert.equal(strict.recommendation, RECOMMENDATIONS.plateau);
  assert.ok(strict.reasons.some((r) => r.includes('no ablation')));
});

test('verdict: planted degrading ablation is degrading, whatever the curve says', () => {
  const v = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: ablation([0.011, 0.009, 0.010]) });
  assert.equal(v.verdict, 'degrading');
  assert.equal(v.recommendation, 'curate or relabel the newest batch');
  const iv = v.evidence.ablation!.interval!;
  assert.equal(iv.method, 'paired');
  assert.equal(iv.df, 2);
  assert.ok(iv.lower > 0);
  assert.ok(v.reasons.some((r) => r.startsWith('the newest batch raises held-out error')));
  // Same effect within the margin: not degrading.
  const lenient = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: ablation([0.011, 0.009, 0.010]), thresholds: { degradeMargin: 0.02 } });
  assert.notEqual(lenient.verdict, 'degrading');
  // A noisy effect of the same mean with df = 2 is not significant.
  const noisy = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: ablation([0.03, -0.01, 0.01]) });
  assert.equal(noisy.verdict, 'improving');
});

test('verdict: one slice hurt by the newest batch is degrading (Bonferroni over slices)', () => {
  const seeds: AblationSeed[] = [0, 1, 2].map((seed) => ({
    seed,
    withNewest: 0.021 + seed * 0.001,
    withoutNewest: 0.021,
    slices: [
      { slice: 'lang=en', withNewest: 0.02, withoutNewest: 0.0205 - seed * 0.0003 },
      { slice: 'lang=de', withNewest: 0.06 + seed * 0.0004, withoutNewest: 0.03 },
      { slice: 'only-in-seed-0', withNewest: seed === 0 ? 1 : 0, withoutNewest: 0 },
    ].filter((s) => seed === 0 || s.slice !== 'only-in-seed-0'),
  }));
  const v = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: seeds });
  assert.equal(v.verdict, 'degrading', v.reasons.join('\n'));
  assert.deepEqual(
    v.evidence.ablationSlices.map((s) => [s.slice, s.significant]),
    [
      ['lang=de', true],
      ['lang=en', false],
    ],
  );
  assertClose(v.evidence.ablationSlices[0]!.interval!.confidence, 1 - 0.05 / 2, 'Bonferroni level');
  assert.ok(v.reasons.some((r) => r.includes('slice lang=de')));
});

test('verdict: flat curve is a plateau, with the failed fit marked insufficient', () => {
  const v = learningCurveVerdict({ curve: curveOf(set('flat')), ablation: ablation([0.0005, -0.0004, 0.0001]) });
  assert.equal(v.verdict, 'plateau', v.reasons.join('\n'));
  assert.equal(v.recommendation, 'change the model or its features, not the data volume');
  assert.equal(v.evidence.fit.ok, false);
  assert.ok(v.reasons.some((r) => r.startsWith('insufficient: the learning curve could not be fitted')));
  assert.ok(v.evidence.fallback && !v.evidence.fallback.significant);
  assert.equal(v.evidence.fallback.previousN, 3600);
});

test('verdict: error rising with n is degrading (largest size vs smaller sizes)', () => {
  const v = learningCurveVerdict({ curve: curveOf(set('increasing')) });
  assert.equal(v.verdict, 'degrading', v.reasons.join('\n'));
  assert.ok(v.evidence.sizeComparisons.some((c) => c.significant && c.smallerN === 450));
  assert.ok(v.reasons.some((r) => r.startsWith('more data raised held-out error')));
});

test('verdict: fit failure falls back to the last two sizes (near-linear decrease is improving)', () => {
  const v = learningCurveVerdict({ curve: curveOf(set('near_linear')) });
  assert.equal(v.evidence.fit.ok, false);
  assert.equal(v.verdict, 'improving', v.reasons.join('\n'));
  const fb = v.evidence.fallback!;
  assert.ok(fb.significant && fb.interval!.method === 'paired');
  assertClose(fb.gainPerDoubling, fb.interval!.mean / Math.log2(4500 / 3600), 'gain per doubling', 1e-15);
  // Unequal seed counts: Welch.
  const curve = curveOf(set('near_linear'));
  curve[curve.length - 1]!.errors.push(0.0303);
  const w = learningCurveVerdict({ curve });
  assert.equal(w.evidence.fallback!.interval!.method, 'welch');
});

test('verdict: fitted curve with a negligible gain is a plateau', () => {
  const law = { a: 0.05, b: 2, c: 1.5 };
  const curve = [450, 900, 1800, 2700, 3600, 4500].map((n, i) => ({
    n,
    errors: [-1, 0, 1].map((k) => inversePowerLaw(law, n) + k * 1e-5 + ((i * 7) % 3) * 1e-6),
  }));
  const v = learningCurveVerdict({ curve });
  assert.ok(v.evidence.fit.ok, JSON.stringify(v.evidence.fit));
  assert.equal(v.verdict, 'plateau', v.reasons.join('\n'));
  // A fit passed in is used as is.
  const given = learningCurveVerdict({ curve, fit: fitInversePowerLaw(curveOf(set('spam')).flatMap((f) => f.errors.map((error) => ({ n: f.n, error })))) });
  assert.equal(given.verdict, 'improving');
});

test('verdict: single-seed ablation and single size are reported as insufficient', () => {
  const v = learningCurveVerdict({ curve: [{ n: 1000, errors: [0.05, 0.051] }], ablation: ablation([0.01]) });
  assert.equal(v.verdict, 'plateau');
  assert.ok(v.reasons.some((r) => r.includes('ablation has 1 seed')));
  assert.ok(v.reasons.some((r) => r.includes('only one training size')));
});

// ---------------------------------------------------------------------------------------------
// Bad input and purity
// ---------------------------------------------------------------------------------------------

test('bad input throws RangeError naming the field', () => {
  const good = [100, 200, 400, 800].map((n) => ({ n, error: 1 / Math.sqrt(n) }));
  const bad: [() => unknown, RegExp][] = [
    [() => fitInversePowerLaw([]), /fitInversePowerLaw: points must be a non-empty array/],
    [() => fitInversePowerLaw([...good, { n: 1600, error: Number.NaN }]), /points\[4\]\.error/],
    [() => fitInversePowerLaw([{ n: -5, error: 0.1 }, ...good]), /points\[0\]\.n/],
    [() => fitInversePowerLaw([{ n: 0, error: 0.1 }, ...good]), /points\[0\]\.n/],
    [() => fitInversePowerLaw([{ n: Number.NaN, error: 0.1 }, ...good]), /points\[0\]\.n/],
    [() => fitInversePowerLaw([...good, { n: 1600, error: 0.01, weight: 0 }]), /points\[4\]\.weight/],
    [() => fitInversePowerLaw(good, { cMin: 0 }), /opts\.cMin/],
    [() => fitInversePowerLaw(good, { cMax: 0.001 }), /opts\.cMax/],
    [() => learningCurveVerdict({ curve: [] }), /learningCurveVerdict: curve must be a non-empty array/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1, Number.NaN] }] }), /curve\[0\]\.errors\[1\]/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }, { n: -1, errors: [0.1] }] }), /curve\[1\]\.n/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [] }] }), /curve\[0\]\.errors/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }, { n: 100, errors: [0.2] }] }), /curve\[1\]\.n = 100 appears twice/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }], ablation: [{ withNewest: Number.NaN, withoutNewest: 0.1 }] }), /ablation\[0\]\.withNewest/],
    [
      () =>
        learningCurveVerdict({
          curve: [{ n: 100, errors: [0.1] }],
          ablation: [{ withNewest: 0.1, withoutNewest: 0.1, slices: [{ slice: 'x', withNewest: 0.1, withoutNewest: Infinity }] }],
        }),
      /ablation\[0\]\.slices\[0\]\.withoutNewest/,
    ],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }], thresholds: { confidence: 1 } }), /thresholds\.confidence/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }], thresholds: { minGainFromDoubling: -1 } }), /thresholds\.minGainFromDoubling/],
    [() => learningCurveVerdict({ curve: [{ n: 100, errors: [0.1] }], thresholds: { degradeMargin: Number.NaN } }), /thresholds\.degradeMargin/],
    [() => pairedTInterval([Number.NaN, 1]), /differences\[0\]/],
    [() => pairedTInterval([1, 2], 0), /confidence/],
  ];
  for (const [fn, re] of bad) assert.throws(fn, (e: unknown) => e instanceof RangeError && re.test(e.message), `expected RangeError ${re}`);
});

test('analysis/learningCurve.ts and powerLaw.ts are pure: no Node built-ins, clock or Math.random', () => {
  const expected: Record<string, string[]> = {
    'learningCurve.ts': ['./numerics/intervals', './powerLaw'],
    'powerLaw.ts': ['./numerics/optimize', './numerics/linalg'],
  };
  for (const [file, imports] of Object.entries(expected)) {
    const src = readFileSync(new URL(`../../analysis/${file}`, import.meta.url), 'utf8');
    assert.deepEqual([...src.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]), imports, file);
    assert.doesNotMatch(src, /Math\.random|Date\.now|new Date|performance\.now|process\./, file);
  }
});

test('verdict: the same slice difference in every seed (one row flipping) is no evidence: a zero-width interval is not significant', () => {
  // The demo met this: one of 286 HTML held-out e-mails wrong with the newest batch in all three seeds.
  const seeds: AblationSeed[] = [0, 1, 2].map((seed) => ({
    seed,
    withNewest: 0.03 - seed * 0.002,
    withoutNewest: 0.035,
    slices: [{ slice: 'format=html', withNewest: 0.01399, withoutNewest: 0.01049 }],
  }));
  const v = learningCurveVerdict({ curve: curveOf(set('spam')), ablation: seeds });
  const html = v.evidence.ablationSlices.find((s) => s.slice === 'format=html')!;
  assert.equal(html.interval!.standardError, 0);
  assert.equal(html.interval!.lower, html.interval!.upper);
  assert.equal(html.significant, false);
  assert.notEqual(v.verdict, 'degrading', v.reasons.join('\n'));
});

test('recency: error(oldest N) - error(newest N) paired over seeds; newer worth more, older worth more, or no evidence that data goes stale', () => {
  const stale = recencyEvidence(
    [
      { seed: 1, newest: 0.05, oldest: 0.09 },
      { seed: 2, newest: 0.052, oldest: 0.095 },
      { seed: 3, newest: 0.049, oldest: 0.088 },
    ],
    400,
  )!;
  // The same interval the ablation uses: a paired t over the seeds' differences.
  const iv = pairedTInterval([0.09 - 0.05, 0.095 - 0.052, 0.088 - 0.049], DEFAULT_VERDICT_THRESHOLDS.confidence)!;
  assertClose(stale.interval.interval!.mean, iv.mean, 'mean', 1e-12);
  assertClose(stale.interval.interval!.lower, iv.lower, 'lower', 1e-12);
  assert.equal(stale.interval.interval!.method, 'paired');
  assert.equal(stale.finding, 'newer_worth_more');
  assert.equal(stale.interval.significant, true);
  assert.match(stale.summary, /^newer data is worth more: trained on the newest 400 vs the oldest 400 examples, held-out error is lower by 0\.04/);
  const same = recencyEvidence(
    [
      { seed: 1, newest: 0.05, oldest: 0.051 },
      { seed: 2, newest: 0.052, oldest: 0.05 },
      { seed: 3, newest: 0.049, oldest: 0.05 },
    ],
    400,
  )!;
  assert.equal(same.finding, 'no_evidence');
  assert.match(same.summary, /^no evidence data goes stale: error\(oldest 400\) - error\(newest 400\) = /);
  const older = recencyEvidence(
    [
      { seed: 1, newest: 0.09, oldest: 0.05 },
      { seed: 2, newest: 0.095, oldest: 0.052 },
      { seed: 3, newest: 0.088, oldest: 0.049 },
    ],
    400,
  )!;
  assert.equal(older.finding, 'older_worth_more');
  assert.equal(older.interval.significant, false);
  assert.equal(recencyEvidence([{ seed: 1, newest: 0.1, oldest: 0.2 }], 10), null);
  assert.throws(() => recencyEvidence([{ seed: 1, newest: Number.NaN, oldest: 0.2 }, { seed: 2, newest: 0.1, oldest: 0.2 }], 10), RangeError);
});
