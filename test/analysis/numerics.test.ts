// Every function of analysis/numerics/ against scipy, statsmodels or numpy (test/fixtures/
// numerics_oracle.json, written by test/fixtures/generate_numerics_oracles.py). Relative tolerance
// 1e-9 unless a test says why a function is held tighter or looser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { meanAndVariance, quantileSorted, weightedSlope } from '../../analysis/numerics/descriptive';
import {
  binomialUpperTailHalf,
  chiSquareSf,
  normalCdf,
  normalQuantile,
  normalUpperTail,
  studentTCdf,
  studentTQuantile,
} from '../../analysis/numerics/distributions';
import { newcombeDifference, pairedTInterval, welchTInterval, wilsonInterval } from '../../analysis/numerics/intervals';
import { inverseGram } from '../../analysis/numerics/linalg';
import { brentZero, goldenSection } from '../../analysis/numerics/optimize';
import { argsortDescending, searchSorted } from '../../analysis/numerics/sort';
import {
  logBeta,
  logChoose,
  logGamma,
  regularizedBeta,
  regularizedGammaP,
  regularizedGammaQ,
  stirlingCorrection,
} from '../../analysis/numerics/special';
import { fisherExactTwoSided, holmAdjust, twoProportionZTest } from '../../analysis/numerics/tests';
import { Rng } from '../../analysis/random';

type Num = number | 'Infinity' | '-Infinity';
const num = (v: Num): number => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : v);

interface Oracle {
  versions: Record<string, string>;
  special: {
    stirlingCorrection: { z: number; value: number }[];
    logGamma: { a: number; value: number; exact: number }[];
    logChoose: { n: number; k: number; value: number }[];
    logBeta: { a: number; b: number; value: number; exact: number }[];
    regularizedBeta: { x: number; a: number; b: number; value: number }[];
    regularizedGamma: { a: number; x: number; q: number; p: number; qExact: number; pExact: number }[];
  };
  distributions: {
    normal: { z: number; sf: number; cdf: number }[];
    normalQuantile: { p: number; z: number }[];
    tPpf: { df: number; p: number; t: number }[];
    tCdf: { df: number; t: number; cdf: number }[];
    chiSquareSf: { x: number; df: number; sf: number; exact: number }[];
    binomialUpperTailHalf: { k: number; n: number; sf: number }[];
  };
  optimize: {
    brentZero: { name: string; a: number; b: number; root: number }[];
    goldenSection: { name: string; lo: number; hi: number; x: number; smooth: boolean }[];
  };
  sort: { name: string; scores: Num[]; sortedDescending: Num[]; stableOrder: number[] | null }[];
  searchSorted: { name: string; sorted: number[]; x: number[]; left: number[]; right: number[] }[];
  tests: {
    fisherExactTwoSided: { table: [[number, number], [number, number]]; p: number }[];
    holmAdjust: { p: number[]; adjusted: number[] }[];
    twoProportionZTest: { x1: number; n1: number; x0: number; n0: number; z: number; p: number }[];
  };
  intervals: {
    wilsonInterval: { successes: number; n: number; confidence: number; lower: number; upper: number }[];
    newcombeDifference: { x1: number; n1: number; x2: number; n2: number; confidence: number; lower: number; upper: number }[];
    tIntervals: { x: number[]; y: number[]; confidence: number; paired?: { lower: number; upper: number; df: number }; welch: { lower: number; upper: number; df: number } }[];
  };
  linalg: { name: string; columns: number[][]; inverse: number[][] | null }[];
  descriptive: {
    quantileSorted: { name: string; sorted: number[]; q: number[]; values: number[] }[];
    meanAndVariance: { x: number[]; mean: number; variance: number }[];
    weightedSlope: { x: number[]; y: (number | null)[]; w: number[]; slope: number | null }[];
  };
}

const oracle = JSON.parse(readFileSync(new URL('../fixtures/numerics_oracle.json', import.meta.url), 'utf8')) as Oracle;
const V = oracle.versions;
const REL = 1e-9;

/** |actual - expected| <= rel |expected| + abs; returns the relative error (0 when expected is 0). */
function close(actual: number, expected: number, what: string, rel = REL, abs = 0): number {
  if (expected === actual) return 0;
  const err = Math.abs(actual - expected);
  assert.ok(err <= rel * Math.abs(expected) + abs, `${what}: expected ${expected}, got ${actual} (diff ${actual - expected})`);
  return expected === 0 ? 0 : err / Math.abs(expected);
}
const e2 = (x: number): string => x.toExponential(2);

// ---------------------------------------------------------------------------------------------
// special.ts

test(`logGamma matches scipy ${V['scipy']} gammaln; stirlingCorrection matches mpmath ${V['mpmath']}`, (t) => {
  let worst = 0;
  for (const c of oracle.special.logGamma) {
    // Near its zeros at 1 and 2 ln Gamma is tiny, so relative error there means nothing: 1e-14 absolute.
    close(logGamma(c.a), c.value, `gammaln(${c.a})`, REL, 1e-14);
    const rel = close(logGamma(c.a), c.exact, `loggamma(${c.a}) vs mpmath`, REL, 1e-14);
    if (Math.abs(c.exact) >= 0.5) worst = Math.max(worst, rel);
  }
  for (const c of oracle.special.stirlingCorrection) close(stirlingCorrection(c.z), c.value, `stirlingCorrection(${c.z})`, 1e-12);
  for (const c of oracle.special.logChoose) close(logChoose(c.n, c.k), c.value, `ln C(${c.n}, ${c.k})`, REL, 1e-14);
  t.diagnostic(`logGamma: ${oracle.special.logGamma.length} points, max relative error vs mpmath ${e2(worst)} where |ln Gamma| >= 0.5`);
  for (const bad of [0, -1, Number.NaN]) {
    assert.throws(() => logGamma(bad), /logGamma: a must be > 0/);
    assert.throws(() => stirlingCorrection(bad), /stirlingCorrection: z must be > 0/);
  }
});

test('logBeta matches scipy betaln, regularizedBeta matches betainc', () => {
  for (const c of oracle.special.logBeta) {
    close(logBeta(c.a, c.b), c.value, `betaln(${c.a}, ${c.b})`, REL, 1e-14);
    // Tighter against the 50-digit value: scipy's betaln itself is ~4e-11 off at (5e5, 1/2).
    close(logBeta(c.a, c.b), c.exact, `ln B(${c.a}, ${c.b}) vs mpmath`, 1e-13, 1e-14);
  }
  assert.equal(logBeta(2.5, 7), logBeta(7, 2.5), 'symmetric');
  for (const c of oracle.special.regularizedBeta) close(regularizedBeta(c.x, c.a, c.b), c.value, `betainc(${c.a}, ${c.b}, ${c.x})`, REL, 1e-300);
  assert.throws(() => logBeta(Number.NaN, 1), /logBeta/);
  assert.throws(() => regularizedBeta(Number.NaN, 1, 1), /regularizedBeta: x/);
  assert.throws(() => regularizedBeta(1.5, 1, 1), /regularizedBeta: x/);
  assert.throws(() => regularizedBeta(0.5, 0, 1), /regularizedBeta: a and b/);
});

test('regularizedGammaQ / P match scipy gammaincc / gammainc and mpmath', (t) => {
  let worst = 0;
  for (const c of oracle.special.regularizedGamma) {
    const q = regularizedGammaQ(c.a, c.x);
    const p = regularizedGammaP(c.a, c.x);
    close(q, c.q, `gammaincc(${c.a}, ${c.x})`, REL, 1e-300);
    close(p, c.p, `gammainc(${c.a}, ${c.x})`, REL, 1e-300);
    // Against the 50-digit values both hold 1e-13 (scipy is ~5e-13 off at a = 1234.5).
    worst = Math.max(worst, close(q, c.qExact, `Q(${c.a}, ${c.x}) vs mpmath`, 1e-13, 1e-300), close(p, c.pExact, `P(${c.a}, ${c.x}) vs mpmath`, 1e-13, 1e-300));
  }
  t.diagnostic(`regularized gamma: ${oracle.special.regularizedGamma.length} points, max relative error vs mpmath ${e2(worst)}`);
  assert.equal(regularizedGammaQ(2, Infinity), 0);
  assert.equal(regularizedGammaP(2, Infinity), 1);
  assert.throws(() => regularizedGammaQ(Number.NaN, 1), /regularizedGammaQ: a/);
  assert.throws(() => regularizedGammaQ(1, Number.NaN), /regularizedGammaQ: x/);
  assert.throws(() => regularizedGammaP(1, -1), /regularizedGammaP: x/);
});

// ---------------------------------------------------------------------------------------------
// distributions.ts

test(`normalUpperTail / normalCdf match scipy norm.sf / norm.cdf; normalQuantile matches norm.ppf`, () => {
  // Held at 1e-13 relative far into both tails (scipy's own cdf(-z) and sf(z) differ by 2e-14 at z = 20).
  for (const c of oracle.distributions.normal) {
    close(normalUpperTail(c.z), c.sf, `norm.sf(${c.z})`, 1e-13);
    // scipy's cdf underflows to 0 at z = -38, where the true value (~2.9e-316) is subnormal.
    close(normalCdf(c.z), c.cdf, `norm.cdf(${c.z})`, 1e-13, 1e-300);
  }
  for (const { p, z } of oracle.distributions.normalQuantile) close(normalQuantile(p), z, `norm.ppf(${p})`, 1e-12, 1e-12);
  assert.equal(normalUpperTail(Infinity), 0);
  assert.equal(normalCdf(-Infinity), 0);
  assert.equal(normalQuantile(0), -Infinity);
  assert.equal(normalQuantile(1), Infinity);
  assert.equal(normalQuantile(0.5), 0);
  assert.throws(() => normalUpperTail(Number.NaN), RangeError);
  assert.throws(() => normalCdf(Number.NaN), RangeError);
  assert.throws(() => normalQuantile(1.5), RangeError);
  assert.throws(() => normalQuantile(Number.NaN), RangeError);
});

test('studentTQuantile matches scipy t.ppf (df 1..30, large and fractional df); studentTCdf matches t.cdf', () => {
  for (const df of Array.from({ length: 30 }, (_, i) => i + 1)) {
    for (const p of [0.975, 0.95]) assert.ok(oracle.distributions.tPpf.some((e) => e.df === df && e.p === p), `fixture has df ${df} p ${p}`);
  }
  // df <= 1000: 1e-13. Larger df: the incomplete-beta continued fraction loses digits to cancellation
  // when df / (df + t^2) is within 1/df of 1 (3e-12 at df = 1e6), so 1e-10 there.
  const tol = (df: number) => (df <= 1000 ? 1e-13 : 1e-10);
  for (const e of oracle.distributions.tPpf) close(studentTQuantile(e.p, e.df), e.t, `t.ppf(${e.p}, ${e.df})`, tol(e.df));
  for (const e of oracle.distributions.tCdf) close(studentTCdf(e.t, e.df), e.cdf, `t.cdf(${e.t}, ${e.df})`, tol(e.df));
  assert.equal(studentTQuantile(0, 3), -Infinity);
  assert.equal(studentTQuantile(1, 3), Infinity);
  assert.equal(studentTQuantile(0.5, 3), 0);
  for (const df of [1, 2, 3, 4.5, 9, 29]) {
    // p whose complement 1 - p is exact, so the symmetry can be asserted exactly.
    for (const p of [2 ** -33, 2 ** -10, 0.125, 0.375, 0.75, 1 - 2 ** -30]) {
      const t = studentTQuantile(p, df);
      assert.equal(studentTQuantile(1 - p, df), -t, `symmetry df ${df} p ${p}`);
      const back = studentTCdf(t, df);
      close(p < 0.5 ? back : 1 - back, p < 0.5 ? p : 1 - p, `cdf(ppf(${p}, ${df}))`, 1e-11);
    }
  }
  assert.throws(() => studentTQuantile(0.9, 0), /studentTQuantile: df/);
  assert.throws(() => studentTQuantile(0.9, Infinity), /studentTQuantile: df/);
  assert.throws(() => studentTQuantile(Number.NaN, 3), /studentTQuantile: p/);
  assert.throws(() => studentTQuantile(1.1, 3), /studentTQuantile: p/);
  assert.throws(() => studentTCdf(Number.NaN, 3), /studentTCdf: t/);
});

test('chiSquareSf matches scipy chi2.sf and mpmath; binomialUpperTailHalf matches binom.sf(k - 1, n, 1/2)', (t) => {
  // Two references: scipy at 1e-12 (at df in the thousands scipy is itself ~7e-13 off) and mpmath's
  // 50-digit value at 1e-13, down to the smallest normal doubles.
  let worst = 0;
  let worstAt = '';
  for (const c of oracle.distributions.chiSquareSf) {
    const ours = chiSquareSf(c.x, c.df);
    close(ours, c.sf, `chi2.sf(${c.x}, ${c.df})`, 1e-12, 1e-300);
    const rel = close(ours, c.exact, `chi2.sf(${c.x}, ${c.df}) vs mpmath`, 1e-13, 1e-300);
    if (c.exact > 1e-290 && rel > worst) [worst, worstAt] = [rel, `x=${c.x}, df=${c.df}`];
  }
  t.diagnostic(`chi2.sf: ${oracle.distributions.chiSquareSf.length} points, max relative error vs mpmath ${e2(worst)} (${worstAt})`);
  assert.equal(chiSquareSf(0, 3), 1);
  assert.equal(chiSquareSf(-1, 3), 1);
  assert.equal(chiSquareSf(Infinity, 3), 0);
  assert.throws(() => chiSquareSf(Number.NaN, 3), /chiSquareSf: x/);
  assert.throws(() => chiSquareSf(1, 0), /chiSquareSf: df/);
  for (const c of oracle.distributions.binomialUpperTailHalf) close(binomialUpperTailHalf(c.k, c.n), c.sf, `binom.sf(${c.k - 1}, ${c.n}, 0.5)`, REL, 1e-300);
  assert.throws(() => binomialUpperTailHalf(1, -1), RangeError);
  assert.throws(() => binomialUpperTailHalf(Number.NaN, 3), RangeError);
});

// ---------------------------------------------------------------------------------------------
// optimize.ts

const ROOT_FUNCTIONS: Record<string, (x: number) => number> = {
  cos_minus_x: (x) => Math.cos(x) - x,
  cubic: (x) => x ** 3 - 2 * x - 5,
  exp_minus_10: (x) => Math.exp(x) - 10,
  tiny_root: (x) => x - 1e-9,
  steep: (x) => Math.atan(1e6 * (x - 0.3)),
};
const MIN_FUNCTIONS: Record<string, (x: number) => number> = {
  kink: (x) => Math.abs(x - 0.3),
  kink_far: (x) => 2 * Math.abs(x - 4.2) + 1,
  smooth_quadratic: (x) => (x - 2) ** 2 + 1,
  smooth_cosh: (x) => Math.cosh(x - 0.7),
};

test('brentZero matches scipy brentq; goldenSection matches minimize_scalar(method="golden")', () => {
  for (const c of oracle.optimize.brentZero) close(brentZero(ROOT_FUNCTIONS[c.name]!, c.a, c.b), c.root, `root of ${c.name}`, 1e-13);
  for (const c of oracle.optimize.goldenSection) {
    // A smooth minimum is only located to ~sqrt(eps) (f is flat there to rounding), by scipy too:
    // 1e-7 relative for those; a kink (the case the learning-curve fit uses it for) to 1e-12.
    close(goldenSection(MIN_FUNCTIONS[c.name]!, c.lo, c.hi), c.x, `minimum of ${c.name}`, c.smooth ? 1e-7 : 1e-12);
  }
  assert.throws(() => brentZero((x) => x * x + 1, -1, 1), /brentZero: f\(a\) and f\(b\) must have opposite signs/);
  assert.throws(() => brentZero(() => Number.NaN, -1, 1), /brentZero/);
  assert.throws(() => goldenSection((x) => x, 1, 0), /goldenSection/);
  assert.throws(() => goldenSection((x) => x, Number.NaN, 1), /goldenSection/);
});

// ---------------------------------------------------------------------------------------------
// sort.ts

test(`argsortDescending sorts as numpy ${V['numpy']} (every path: comparison, 64-bit radix with short and long runs, ties)`, () => {
  for (const c of oracle.sort) {
    const scores = Float64Array.from(c.scores.map(num));
    const order = argsortDescending(scores);
    assert.equal(order.length, scores.length);
    const seen = new Uint8Array(scores.length);
    order.forEach((i, r) => {
      assert.equal(seen[i], 0, `${c.name}: row ${i} twice`);
      seen[i] = 1;
      // -0 and +0 tie, so compare with ===, which equates them.
      assert.ok(scores[i] === num(c.sortedDescending[r]!), `${c.name}: rank ${r} holds ${scores[i]}, numpy has ${c.sortedDescending[r]}`);
    });
    if (c.stableOrder) assert.deepEqual([...order], c.stableOrder, `${c.name}: without ties the order is numpy's`);
    // Float32 scores take the 32-bit radix path; values that are exact in float32 must sort the same.
    const f32 = Float32Array.from(scores);
    if (f32.every((v, i) => v === scores[i])) assert.deepEqual([...argsortDescending(f32)].map((i) => f32[i]), [...order].map((i) => scores[i]));
  }
  assert.ok(oracle.sort.some((c) => c.scores.length > 2048 && c.stableOrder === null), 'radix path with ties covered');
  // Properties on every input kind and size around the comparison/radix switch (2048).
  const rng = new Rng(5);
  const rand = () => rng.next();
  for (const n of [0, 1, 7, 2047, 2048, 5000]) {
    for (const kind of ['f64', 'f32', 'array', 'narrow'] as const) {
      const raw = Array.from({ length: n }, (_, i) => (i % 17 === 0 ? 0.25 : i % 23 === 0 ? -0 : (rand() - 0.3) * (i % 5 === 0 ? 1e-300 : 1e3)));
      const values = kind === 'narrow' ? raw.map((v) => 0.5 + v * 1e-15) : raw;
      const scores = kind === 'f32' ? Float32Array.from(values) : kind === 'f64' || kind === 'narrow' ? Float64Array.from(values) : values;
      const order = argsortDescending(scores);
      assert.equal(order.length, n);
      assert.equal(new Set(order).size, n, `${kind} ${n}: a permutation`);
      for (let r = 1; r < n; r++) assert.ok(scores[order[r - 1]!]! >= scores[order[r]!]!, `${kind} ${n}: descending at ${r}`);
    }
  }
  assert.throws(() => argsortDescending([0.1, Number.NaN]), /scores\[1\] is NaN/);
  assert.throws(() => argsortDescending(new Float64Array(3000).fill(0.5).fill(Number.NaN, 2999)), /scores\[2999\] is NaN/);
  assert.throws(() => argsortDescending(new Float32Array(3000).fill(Number.NaN, 10)), /scores\[10\] is NaN/);
});

test('searchSorted matches numpy.searchsorted on both sides, ties and out-of-range values included', () => {
  for (const c of oracle.searchSorted) {
    const f64 = Float64Array.from(c.sorted);
    c.x.forEach((x, j) => {
      assert.equal(searchSorted(c.sorted, x), c.left[j], `${c.name} left ${x}`);
      assert.equal(searchSorted(f64, x, 'left'), c.left[j], `${c.name} left ${x} (Float64Array)`);
      assert.equal(searchSorted(c.sorted, x, 'right'), c.right[j], `${c.name} right ${x}`);
    });
  }
  assert.throws(() => searchSorted([1, 2], Number.NaN), /searchSorted: x is NaN/);
});

// ---------------------------------------------------------------------------------------------
// tests.ts

test(`fisherExactTwoSided matches scipy fisher_exact; holmAdjust matches statsmodels ${V['statsmodels']} multipletests('holm')`, () => {
  for (const c of oracle.tests.fisherExactTwoSided) {
    const [[a, b], [cc, d]] = c.table;
    close(fisherExactTwoSided(a, b, cc, d), c.p, `fisher_exact(${JSON.stringify(c.table)})`, REL, 1e-300);
  }
  assert.throws(() => fisherExactTwoSided(Number.NaN, 1, 1, 1), /fisherExactTwoSided: a/);
  assert.throws(() => fisherExactTwoSided(1, 1.5, 1, 1), /fisherExactTwoSided: b/);
  for (const c of oracle.tests.holmAdjust) {
    const got = holmAdjust(c.p);
    c.adjusted.forEach((v, i) => close(got[i]!, v, `holm(${c.p.join(', ')})[${i}]`));
  }
  assert.deepEqual(holmAdjust([]), []);
  assert.throws(() => holmAdjust([0.1, Number.NaN]), /holmAdjust: p\[1\]/);
});

test('twoProportionZTest matches statsmodels proportions_ztest(alternative="larger")', () => {
  for (const c of oracle.tests.twoProportionZTest) {
    const got = twoProportionZTest(c.x1, c.n1, c.x0, c.n0);
    close(got.z!, c.z, `z ${c.x1}/${c.n1} vs ${c.x0}/${c.n0}`);
    close(got.p!, c.p, `p ${c.x1}/${c.n1} vs ${c.x0}/${c.n0}`);
  }
  assert.deepEqual(twoProportionZTest(0, 0, 1, 2), { z: null, p: null });
  assert.deepEqual(twoProportionZTest(0, 10, 0, 20), { z: null, p: null }, 'pooled rate 0: no variance');
  assert.throws(() => twoProportionZTest(Number.NaN, 10, 1, 10), /twoProportionZTest: x1/);
});

// ---------------------------------------------------------------------------------------------
// intervals.ts

test(`wilsonInterval matches statsmodels proportion_confint(method="wilson")`, () => {
  for (const c of oracle.intervals.wilsonInterval) {
    const got = c.confidence === 0.95 ? wilsonInterval(c.successes, c.n) : wilsonInterval(c.successes, c.n, c.confidence);
    const what = `${c.successes}/${c.n} @ ${c.confidence}`;
    assert.equal(got.estimate, c.successes / c.n, `${what} estimate`);
    close(got.lower!, c.lower, `${what} lower`, REL, 1e-15);
    close(got.upper!, c.upper, `${what} upper`, REL, 1e-15);
  }
  assert.deepEqual(wilsonInterval(0, 0), { estimate: null, lower: null, upper: null });
  // 0/n and n/n are clipped to [0, 1] exactly, as statsmodels does.
  assert.equal(wilsonInterval(0, 25).lower, 0);
  assert.equal(wilsonInterval(25, 25).upper, 1);
  for (const [s, n, conf] of [[-1, 10, 0.95], [11, 10, 0.95], [1, -1, 0.95], [1, Number.NaN, 0.95], [Number.NaN, 10, 0.95], [1, 10, 0], [1, 10, 1], [1, 10, 95]]) {
    assert.throws(() => wilsonInterval(s!, n!, conf), RangeError, `wilsonInterval(${s}, ${n}, ${conf})`);
  }
});

test('newcombeDifference matches statsmodels confint_proportions_2indep(method="newcomb", compare="diff")', () => {
  for (const c of oracle.intervals.newcombeDifference) {
    const got = newcombeDifference(c.x1, c.n1, c.x2, c.n2, c.confidence);
    const what = `${c.x1}/${c.n1} - ${c.x2}/${c.n2} @ ${c.confidence}`;
    assert.equal(got.estimate, c.x1 / c.n1 - c.x2 / c.n2, `${what} estimate`);
    close(got.lower!, c.lower, `${what} lower`, REL, 1e-15);
    close(got.upper!, c.upper, `${what} upper`, REL, 1e-15);
  }
  assert.deepEqual(newcombeDifference(0, 0, 1, 2), { estimate: null, lower: null, upper: null });
  assert.throws(() => newcombeDifference(Number.NaN, 10, 1, 10), /wilsonInterval/);
});

test('pairedTInterval / welchTInterval match scipy ttest_rel / ttest_ind(equal_var=False) confidence intervals', () => {
  for (const e of oracle.intervals.tIntervals) {
    if (e.paired) {
      const iv = pairedTInterval(e.x.map((v, i) => v - e.y[i]!), e.confidence)!;
      close(iv.lower, e.paired.lower, 'paired lower', 1e-12, 1e-15);
      close(iv.upper, e.paired.upper, 'paired upper', 1e-12, 1e-15);
      assert.equal(iv.df, e.paired.df);
    }
    const w = welchTInterval(e.x, e.y, e.confidence)!;
    close(w.lower, e.welch.lower, 'welch lower', 1e-12, 1e-15);
    close(w.upper, e.welch.upper, 'welch upper', 1e-12, 1e-15);
    close(w.df, e.welch.df, 'welch df', 1e-12);
  }
  // Hand check: 3 seeds, df 2: t(0.975, 2) = sqrt(2 * 0.95^2 / (4 * 0.025 * 0.975)) = sqrt(1.805 / 0.0975).
  const iv = pairedTInterval([0.01, 0.02, 0.03])!;
  const t2 = Math.sqrt(1.805 / 0.0975);
  close(iv.tCritical, t2, 't(0.975, 2)', 1e-14);
  close(iv.lower, 0.02 - (t2 * 0.01) / Math.sqrt(3), 'lower', 1e-14, 1e-15);
  assert.equal(pairedTInterval([0.01]), null);
  assert.equal(welchTInterval([0.01], [0.02, 0.03]), null);
  const same = pairedTInterval([0.01, 0.01, 0.01])!;
  assert.equal(same.lower, same.upper, 'identical differences: the interval is the point');
  assert.throws(() => pairedTInterval([0.01, Number.NaN]), /pairedTInterval: differences\[1\]/);
  assert.throws(() => welchTInterval([0.01, 0.02], [Number.NaN, 0.02]), /welchTInterval: y\[0\]/);
  assert.throws(() => pairedTInterval([0.01, 0.02], 1), /pairedTInterval: confidence/);
});

// ---------------------------------------------------------------------------------------------
// linalg.ts

test('inverseGram matches numpy (pinv(J) pinv(J)^T), badly scaled columns included; rank-deficient J gives null', () => {
  for (const c of oracle.linalg) {
    const got = inverseGram(c.columns.map((col) => Float64Array.from(col)));
    if (c.inverse === null) {
      assert.equal(got, null, `${c.name}: rank-deficient`);
      continue;
    }
    assert.ok(got, `${c.name}: full rank`);
    // Entries relative to sqrt(inv_ii inv_jj), the scale of a covariance entry.
    c.inverse.forEach((row, i) =>
      row.forEach((v, j) => close(got[i]![j]!, v, `${c.name} [${i}][${j}]`, 0, 1e-9 * Math.sqrt(c.inverse![i]![i]! * c.inverse![j]![j]!))),
    );
  }
  assert.equal(inverseGram([new Float64Array([0, 0, 0])]), null, 'a zero column');
  assert.equal(inverseGram([new Float64Array([1, Number.NaN, 0])]), null, 'a NaN column');
  assert.throws(() => inverseGram([new Float64Array(2), new Float64Array(2), new Float64Array(2)]), /inverseGram: need p >= 1 columns/);
  assert.throws(() => inverseGram([]), /inverseGram/);
});

// ---------------------------------------------------------------------------------------------
// descriptive.ts

test('quantileSorted is numpy.quantile(method="linear") to the bit; meanAndVariance and weightedSlope match numpy / statsmodels WLS', () => {
  for (const c of oracle.descriptive.quantileSorted) {
    c.q.forEach((q, j) => assert.equal(quantileSorted(c.sorted, c.sorted.length, q), c.values[j], `${c.name} q=${q}`));
  }
  assert.equal(quantileSorted([1, 2, 4], 1, 0.7), 1, 'only the first `length` values count');
  assert.throws(() => quantileSorted([], 0, 0.5), /empty/);
  assert.throws(() => quantileSorted([1, 2], 2, Number.NaN), /quantileSorted: q/);
  assert.throws(() => quantileSorted([1, 2], 2, 1.5), /quantileSorted: q/);
  for (const c of oracle.descriptive.meanAndVariance) {
    const got = meanAndVariance(c.x);
    close(got.mean, c.mean, 'mean', 1e-15);
    close(got.variance, c.variance, 'variance', 1e-12);
  }
  assert.ok(Number.isNaN(meanAndVariance([1]).variance), 'one value: no variance');
  for (const c of oracle.descriptive.weightedSlope) {
    const got = weightedSlope(c.x, c.y, c.w);
    if (c.slope === null) assert.equal(got, null);
    else close(got!, c.slope, `slope of ${JSON.stringify(c.y)}`, 1e-12, 1e-15);
  }
  assert.throws(() => weightedSlope([0, Number.NaN], [1, 2], [1, 1]), /weightedSlope: x\[1\]/);
  assert.throws(() => weightedSlope([0, 1], [1, 2], [1, Number.NaN]), /weightedSlope: w\[1\]/);
});

// ---------------------------------------------------------------------------------------------

test('analysis/numerics is pure: imports only its own modules (no Node built-ins, no I/O), no clock or Math.random', () => {
  const dir = new URL('../../analysis/numerics/', import.meta.url);
  for (const file of readdirSync(dir)) {
    const src = readFileSync(new URL(file, dir), 'utf8');
    for (const m of src.matchAll(/^import .* from '([^']+)';$/gm)) assert.match(m[1]!, /^\.\/[a-z]+$/i, `${file} imports ${m[1]}`);
    assert.doesNotMatch(src, /Date\.now|new Date|Math\.random|process\./, file);
  }
});
