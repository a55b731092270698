import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../analysis/random';
import {
  buildDesign,
  drawFromDesign,
  drawSample,
  horvitzThompsonMean,
  inclusionProbabilities,
  type CandidatePool,
  type SamplingPlan,
} from '../../analysis/sampling';

const THRESHOLD = 0.5;

/**
 * Synthetic pool: scores skewed low (most traffic is ham) with a blocked tail; 3 slices (country
 * with Zipf-like sizes, lang, device); optional 32-dim sketch. `correct` is whether the model was
 * right on each item, with accuracy strongly depending on the score band (near the threshold ~55%,
 * far ~99%) and a rare country much worse, so an unweighted mean over an uncertainty-heavy sample
 * is clearly biased.
 */
function makePool(n: number, seed: number, withFeatures: boolean): { pool: CandidatePool; correct: Uint8Array } {
  const rng = new Rng(seed);
  const scores = new Float64Array(n);
  const country = new Uint32Array(n);
  const lang = new Uint32Array(n);
  const device = new Uint32Array(n);
  const correct = new Uint8Array(n);
  const countries = ['US', 'DE', 'FR', 'BR', 'IN', 'JP', 'IS', 'NZ'];
  const zipf = [0.4, 0.2, 0.13, 0.1, 0.08, 0.05, 0.03, 0.01];
  const dims = 32;
  const values = withFeatures ? new Float32Array(n * dims) : new Float32Array(0);
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    scores[i] = u < 0.85 ? rng.next() ** 3 * 0.7 : 0.4 + 0.6 * rng.next();
    let c = 0;
    for (let r = rng.next(); c < zipf.length - 1 && r >= zipf[c]!; c++) r -= zipf[c]!;
    country[i] = c;
    lang[i] = rng.nextInt(5);
    device[i] = rng.nextInt(3);
    const dist = Math.abs(scores[i]! - THRESHOLD);
    let p = 0.55 + 0.44 * Math.min(1, dist / 0.25);
    if (c === 6) p -= 0.3; // 'IS': a slice the model is bad at
    correct[i] = rng.next() < p ? 1 : 0;
    if (withFeatures) for (let d = 0; d < dims; d++) values[i * dims + d] = rng.next() - 0.5 + (d === 0 ? scores[i]! : 0);
  }
  const pool: CandidatePool = {
    n,
    scores,
    slices: [
      { name: 'country', codes: country, values: countries },
      { name: 'lang', codes: lang, values: ['en', 'de', 'fr', 'pt', 'ja'] },
      { name: 'device', codes: device, values: ['web', 'ios', 'android'] },
    ],
  };
  if (withFeatures) pool.features = { dims, values };
  return { pool, correct };
}

const basePlan = (over: Partial<SamplingPlan> = {}): SamplingPlan => ({
  budget: 500,
  seed: 7,
  threshold: THRESHOLD,
  sliceFloors: [
    { slice: 'country', value: 'IS', min: 60 },
    { slice: 'lang', value: 'ja', min: 40 },
  ],
  ...over,
});

function checkSample(pool: CandidatePool, plan: SamplingPlan): void {
  const s = drawSample(pool, plan);
  const pi = inclusionProbabilities(pool, plan);
  assert.equal(s.index.length, plan.budget, 'exact budget');
  assert.equal(new Set(s.index).size, plan.budget, 'no duplicates');
  let sumPi = 0;
  for (let i = 0; i < pool.n; i++) {
    assert.ok(pi[i]! > 0 && pi[i]! <= 1, `pi[${i}] = ${pi[i]} not in (0, 1]`);
    sumPi += pi[i]!;
  }
  assert.ok(Math.abs(sumPi - plan.budget) < 1e-6, `sum of pi ${sumPi} != budget ${plan.budget}`);
  for (let t = 0; t < s.index.length; t++) {
    assert.equal(s.inclusionProbability[t], pi[s.index[t]!], `drawn pi matches inclusionProbabilities at ${t}`);
  }
  // Floors: each floor stratum got min(min, N_h), and the drawn items carry the floor's value.
  for (const f of plan.sliceFloors ?? []) {
    const st = s.strata.find((x) => x.name === `floor:${f.slice}=${f.value}`)!;
    assert.ok(st.sampled >= Math.min(f.min, st.size), `floor ${st.name}: ${st.sampled} < min(${f.min}, ${st.size})`);
    const attr = pool.slices.find((a) => a.name === f.slice)!;
    const code = attr.values.indexOf(f.value);
    const drawn = s.index.filter((_, t) => s.stratum[t] === st.name);
    assert.equal(drawn.length, st.sampled);
    for (const i of drawn) assert.equal(attr.codes[i], code);
  }
  // Per-stratum counts in the sample match n_h; allocation breakdown sums to n_h.
  for (const st of s.strata) {
    assert.equal(s.stratum.filter((x) => x === st.name).length, st.sampled, st.name);
    assert.equal(Object.values(st.allocation).reduce((a, b) => a + b, 0), st.sampled, `${st.name} allocation`);
  }
}

test('budget, floors, pi in (0, 1], sum pi = budget, drawn pi = inclusionProbabilities (SRS)', () => {
  const { pool } = makePool(20_000, 1, false);
  checkSample(pool, basePlan());
  checkSample(pool, basePlan({ budget: 137, explorationShare: 0.3, uncertaintyShare: 0.7, blockedReviewShare: 0.3 }));
});

test('same checks with a feature sketch (systematic along a random projection)', () => {
  const { pool } = makePool(20_000, 2, true);
  checkSample(pool, basePlan());
  checkSample(pool, basePlan({ budget: 1000, diversityShare: 0.5, uncertaintyShare: 0.3 }));
});

test('floors are capped by stratum size; a census gives pi = 1', () => {
  const { pool } = makePool(5_000, 3, false);
  const nIS = pool.slices[0]!.codes.filter((c) => c === 6).length;
  const plan = basePlan({ budget: 400, sliceFloors: [{ slice: 'country', value: 'IS', min: nIS + 1000 }] });
  const s = drawSample(pool, plan);
  const st = s.strata.find((x) => x.name === 'floor:country=IS')!;
  assert.equal(st.size, nIS);
  assert.equal(st.sampled, nIS);
  checkSample(pool, plan);
  const census = inclusionProbabilities(pool, basePlan({ budget: pool.n }));
  assert.ok(census.every((p) => p === 1));
});

test('horvitzThompsonMean: a census is exact with zero variance', () => {
  const { pool, correct } = makePool(3_000, 4, false);
  const s = drawSample(pool, basePlan({ budget: pool.n }));
  const y = Float64Array.from(s.index, (i) => correct[i]!);
  const est = horvitzThompsonMean(y, s);
  const truth = correct.reduce((a, b) => a + b, 0) / pool.n;
  assert.ok(Math.abs(est.estimate - truth) < 1e-12);
  assert.equal(est.variance, 0);
  assert.equal(est.uncovered, 0);
});

function simulate(withFeatures: boolean, seeds: number): { truth: number; ht: Float64Array; naive: Float64Array; covered: number } {
  const { pool, correct } = makePool(20_000, 11, withFeatures);
  const design = buildDesign(pool, basePlan({ budget: 400 }));
  const truth = correct.reduce((a, b) => a + b, 0) / pool.n;
  const ht = new Float64Array(seeds);
  const naive = new Float64Array(seeds);
  let covered = 0;
  for (let r = 0; r < seeds; r++) {
    const s = drawFromDesign(design, 1000 + r);
    const y = Float64Array.from(s.index, (i) => correct[i]!);
    const est = horvitzThompsonMean(y, s);
    ht[r] = est.estimate;
    naive[r] = y.reduce((a, b) => a + b, 0) / y.length;
    if (est.lower <= truth && truth <= est.upper) covered++;
  }
  return { truth, ht, naive, covered };
}

const meanSd = (x: Float64Array): { mean: number; sd: number } => {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const sd = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1));
  return { mean, sd };
};

test('unbiased by simulation (2,000 seeds, SRS): HT mean within MC error, naive biased, coverage ~95%', () => {
  const seeds = 2000;
  const { truth, ht, naive, covered } = simulate(false, seeds);
  const h = meanSd(ht);
  const nv = meanSd(naive);
  const mcse = h.sd / Math.sqrt(seeds);
  const coverage = covered / seeds;
  console.log(
    `SRS: truth ${truth.toFixed(4)}  HT mean ${h.mean.toFixed(4)} (MC se ${mcse.toFixed(4)}, sd ${h.sd.toFixed(4)})  naive mean ${nv.mean.toFixed(4)}  coverage ${coverage.toFixed(3)}`,
  );
  assert.ok(Math.abs(h.mean - truth) < 4 * mcse, `HT bias ${h.mean - truth} vs MC se ${mcse}`);
  assert.ok(Math.abs(nv.mean - truth) > 20 * mcse, `naive should be biased: ${nv.mean} vs ${truth}`);
  assert.ok(coverage >= 0.92 && coverage <= 0.98, `coverage ${coverage}`);
});

test('unbiased by simulation (1,000 seeds, systematic with features)', () => {
  const seeds = 1000;
  const { truth, ht, covered } = simulate(true, seeds);
  const h = meanSd(ht);
  const mcse = h.sd / Math.sqrt(seeds);
  console.log(`systematic: truth ${truth.toFixed(4)}  HT mean ${h.mean.toFixed(4)} (MC se ${mcse.toFixed(4)})  coverage ${(covered / seeds).toFixed(3)}`);
  assert.ok(Math.abs(h.mean - truth) < 4 * mcse, `HT bias ${h.mean - truth} vs MC se ${mcse}`);
  assert.ok(covered / seeds >= 0.9, `coverage ${covered / seeds}`);
});

test('empirical inclusion frequencies match pi item by item (SRS and systematic)', () => {
  for (const withFeatures of [false, true]) {
    const { pool } = makePool(300, 12, withFeatures);
    const plan = basePlan({ budget: 40, sliceFloors: [{ slice: 'country', value: 'JP', min: 5 }] });
    const design = buildDesign(pool, plan);
    const pi = inclusionProbabilities(pool, plan);
    const draws = 4000;
    const hits = new Float64Array(pool.n);
    for (let r = 0; r < draws; r++) for (const i of drawFromDesign(design, r).index) hits[i]!++;
    let chi2 = 0;
    let worst = 0;
    for (let i = 0; i < pool.n; i++) {
      const p = pi[i]!;
      if (p === 1) {
        assert.equal(hits[i], draws);
        continue;
      }
      const z = (hits[i]! - draws * p) / Math.sqrt(draws * p * (1 - p));
      chi2 += z * z;
      worst = Math.max(worst, Math.abs(z));
    }
    console.log(`${withFeatures ? 'systematic' : 'SRS'}: 300 items, max |z| ${worst.toFixed(2)}, sum z^2 ${chi2.toFixed(0)} (~300 expected)`);
    assert.ok(worst < 5, `max |z| ${worst}`);
    assert.ok(chi2 < 300 + 6 * Math.sqrt(600), `sum z^2 ${chi2}`);
  }
});

test('deterministic per seed', () => {
  for (const withFeatures of [false, true]) {
    const { pool } = makePool(10_000, 5, withFeatures);
    const a = drawSample(pool, basePlan());
    const b = drawSample(pool, basePlan());
    const c = drawSample(pool, basePlan({ seed: 8 }));
    assert.deepEqual(a.index, b.index);
    assert.deepEqual(a.stratum, b.stratum);
    assert.deepEqual(a.inclusionProbability, b.inclusionProbability);
    assert.notDeepEqual(a.index, c.index);
  }
});

test('bad plans throw naming the field', () => {
  const { pool } = makePool(1_000, 6, true);
  const bad: [Partial<SamplingPlan>, RegExp][] = [
    [{ budget: -1 }, /budget/],
    [{ budget: 2.5 }, /budget/],
    [{ budget: 1001 }, /budget.*exceeds/],
    [{ explorationShare: 1.5 }, /explorationShare/],
    [{ uncertaintyShare: -0.1 }, /uncertaintyShare/],
    [{ diversityShare: 2 }, /diversityShare/],
    [{ blockedReviewShare: NaN }, /blockedReviewShare/],
    [{ uncertaintyShare: 0.6, blockedReviewShare: 0.3, diversityShare: 0.2 }, /uncertaintyShare \+ plan.diversityShare \+ plan.blockedReviewShare/],
    [{ sliceFloors: [{ slice: 'planet', value: 'mars', min: 1 }] }, /sliceFloors\[0\]\.slice/],
    [{ sliceFloors: [{ slice: 'lang', value: 'en', min: -3 }] }, /sliceFloors\[0\]\.min/],
    [{ budget: 10, sliceFloors: [{ slice: 'lang', value: 'en', min: 50 }] }, /sliceFloors.*budget/],
    [{ seed: 0.5 }, /seed/],
    [{ threshold: NaN }, /threshold/],
  ];
  for (const [over, re] of bad) assert.throws(() => drawSample(pool, basePlan(over)), re, JSON.stringify(over));
});

test('1,000 from a 100k pool with 3 slices and a 32-dim sketch (its 1M timing is bench/sampling.bench.ts)', () => {
  const { pool } = makePool(100_000, 9, true);
  const s = drawSample(pool, basePlan({ budget: 1000 }));
  assert.equal(s.index.length, 1000);
  assert.equal(new Set(s.index).size, 1000, 'no item drawn twice');
});
