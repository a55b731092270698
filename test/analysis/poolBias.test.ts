// The pool-wide bias test against its oracle (test/fixtures/generate_poolbias_oracles.py): exact
// numbers for fixed tallies (Wilson, Newcombe, Fisher, Holm, the Bonferroni floor), and a
// re-simulation of the oracle's designs with our own generator whose power and false-alarm rate must
// agree with numpy's within Monte-Carlo error. Plus the composition rule and the tally.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compositionHolds, poolGoldBias, tallyGold, type CompositionRequirement, type GoldTally, type PoolSliceAccuracy } from '../../analysis/poolBias';
import { wilsonInterval, type Interval } from '../../analysis/numerics/intervals';
import { Rng } from '../../analysis/random';
import { assertClose } from './oracle';

/** The oracle writes each slice as poolGoldBias answers it, plus the floor's upper bound it judged. */
type OracleSlice = PoolSliceAccuracy & { floorUpper: number | null };

const oracle = JSON.parse(readFileSync(new URL('../fixtures/poolbias_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  alpha: number;
  minGold: number;
  fixed: { name: string; tallies: GoldTally[]; total: { gold: number; correct: number }; minAccuracy: number | null; overall: Interval; tested: number; floorTested: number; slices: OracleSlice[] }[];
  simulations: { name: string; itemsPerValue: number[]; overlap: number; baseAccuracy: number; bias: number; sims: number; biasedFlagged: number; anyFlagged: number }[];
};

const closeInterval = (a: Interval, e: Interval, what: string) => {
  assertClose(a.estimate, e.estimate, `${what} estimate`);
  assertClose(a.lower, e.lower, `${what} lower`);
  assertClose(a.upper, e.upper, `${what} upper`);
};

test('oracle versions are the pinned ones', () => {
  assert.deepEqual(oracle.versions, { numpy: '2.4.6', scipy: '1.17.1', statsmodels: '0.15.0' });
});

test('poolGoldBias: intervals, Fisher p, Holm, flags and the Bonferroni floor match the oracle on fixed tallies', () => {
  for (const c of oracle.fixed) {
    const r = poolGoldBias(c.tallies, c.total, { minAccuracy: c.minAccuracy });
    closeInterval(r.overall, c.overall, `${c.name}: overall`);
    assert.equal(r.tested, c.tested, `${c.name}: tested`);
    assert.equal(r.floorTested, c.floorTested, `${c.name}: floorTested`);
    assert.equal(r.slices.length, c.slices.length);
    r.slices.forEach((s, i) => {
      const e = c.slices[i]!;
      const what = `${c.name}: ${e.slice}=${e.value}`;
      assert.equal(`${s.slice}=${s.value}`, `${e.slice}=${e.value}`, `${what}: order`);
      assert.equal(s.goldLabels, e.goldLabels);
      closeInterval(s.accuracy, e.accuracy, `${what} accuracy`);
      closeInterval(s.rest, e.rest, `${what} rest`);
      closeInterval(s.gap, e.gap, `${what} gap`);
      assertClose(s.p, e.p, `${what} p`);
      assertClose(s.pAdjusted, e.pAdjusted, `${what} Holm p`);
      assert.deepEqual(
        { insufficient: s.insufficient, belowRest: s.belowRest, belowFloor: s.belowFloor, flagged: s.flagged },
        { insufficient: e.insufficient, belowRest: e.belowRest, belowFloor: e.belowFloor, flagged: e.flagged },
        what,
      );
      if (e.floorUpper !== null) assertClose(wilsonInterval(s.correct, s.goldLabels, 1 - 0.05 / r.floorTested).upper, e.floorUpper, `${what} floor bound`);
    });
  }
  // The cases say what they are about.
  const dialect = poolGoldBias(oracle.fixed[0]!.tallies, oracle.fixed[0]!.total);
  assert.deepEqual(
    dialect.slices.filter((s) => s.flagged).map((s) => `${s.slice}=${s.value}`),
    ['dialect=regional'],
  );
  const floor = poolGoldBias(oracle.fixed[1]!.tallies, oracle.fixed[1]!.total, { minAccuracy: 0.85 });
  assert.deepEqual(
    floor.slices.map((s) => [s.value, s.belowRest, s.belowFloor, s.insufficient]),
    [
      ['country_code', true, true, false],
      ['generic', false, false, false],
      ['unknown', false, false, true],
    ],
    'country_code is below the rest and below the floor; 12 gold labels are too few to judge',
  );
  const two = poolGoldBias(oracle.fixed[3]!.tallies, oracle.fixed[3]!.total);
  assert.deepEqual(
    two.slices.map((s) => [s.value, s.pAdjusted! < 0.01, s.flagged]),
    [
      ['en', true, true],
      ['fr', true, false],
    ],
    'the value the pool does better on is significant but not flagged',
  );
});

test('re-simulated with our generator, power and false alarms at the default sizes agree with numpy within Monte-Carlo error', () => {
  const SIMS = 2000;
  const rng = new Rng(20261207);
  for (const d of oracle.simulations) {
    const labels = d.itemsPerValue.map((k) => k * d.overlap);
    const acc = labels.map((_, i) => d.baseAccuracy - (i === 0 ? d.bias : 0));
    let biased = 0;
    let any = 0;
    for (let s = 0; s < SIMS; s++) {
      const tallies = labels.map((n, i) => ({ slice: 's', value: `v${i}`, gold: n, correct: rng.binomial(n, acc[i]!) }));
      const total = { gold: tallies.reduce((a, t) => a + t.gold, 0), correct: tallies.reduce((a, t) => a + t.correct, 0) };
      const flags = poolGoldBias(tallies, total).slices.filter((x) => x.flagged);
      if (flags.some((f) => f.value === 'v0')) biased++;
      if (flags.length > 0) any++;
    }
    for (const [mine, theirs, what] of [
      [biased / SIMS, d.biasedFlagged, 'biased value flagged'],
      [any / SIMS, d.anyFlagged, 'any value flagged'],
    ] as const) {
      const p = (mine + theirs) / 2;
      // Four standard errors of the difference of two independent Monte-Carlo estimates, and a floor for p near 0.
      const tol = 4 * Math.sqrt(Math.max(p * (1 - p), 0.002) * (1 / SIMS + 1 / d.sims));
      assert.ok(Math.abs(mine - theirs) <= tol, `${d.name}, bias ${d.bias}: ${what} ${mine} here vs ${theirs} in numpy (tolerance ${tol.toFixed(4)})`);
    }
  }
  // What the numbers say: at the demo's default (44 gold items) a 15-point pool bias is caught about
  // one time in five; 100 gold items per value catch it almost always; false alarms stay below alpha.
  const at = (name: string, bias: number) => oracle.simulations.find((s) => s.name === name && s.bias === bias)!;
  assert.ok(at('default: 44 gold items over 2 values', 0.15).biasedFlagged < 0.35);
  assert.ok(at('100 gold items per value, 2 values', 0.15).biasedFlagged > 0.95);
  for (const s of oracle.simulations.filter((x) => x.bias === 0)) assert.ok(s.anyFlagged <= oracle.alpha, `${s.name}: false alarms ${s.anyFlagged}`);
});

test('poolGoldBias refuses impossible counts and options', () => {
  assert.throws(() => poolGoldBias([{ slice: 'a', value: 'x', gold: 3, correct: 4 }], { gold: 3, correct: 4 }), /0 <= correct <= gold/);
  assert.throws(() => poolGoldBias([], { gold: 0, correct: 0 }, { alpha: 0 }), /alpha/);
  assert.throws(() => poolGoldBias([], { gold: 0, correct: 0 }, { minAccuracy: 1.5 }), /minAccuracy/);
  const empty = poolGoldBias([], { gold: 0, correct: 0 });
  assert.deepEqual([empty.slices, empty.tested, empty.overall.estimate], [[], 0, null]);
});

test('tallyGold counts every label under each attribute, missing values as unknown; many-valued attributes are left out', () => {
  const rows: { correct: boolean; slices: Record<string, string> }[] = [
    { correct: true, slices: { lang: 'en', tld: 'com' } },
    { correct: false, slices: { lang: 'en' } },
    { correct: true, slices: { lang: 'de', tld: 'de' } },
  ];
  const { tallies, total } = tallyGold(rows);
  assert.deepEqual(total, { gold: 3, correct: 2 });
  assert.deepEqual(tallies, [
    { slice: 'lang', value: 'en', gold: 2, correct: 1 },
    { slice: 'lang', value: 'de', gold: 1, correct: 1 },
    { slice: 'tld', value: 'com', gold: 1, correct: 1 },
    { slice: 'tld', value: 'unknown', gold: 1, correct: 0 },
    { slice: 'tld', value: 'de', gold: 1, correct: 1 },
  ]);
  assert.deepEqual(
    tallyGold(rows, 2).tallies.map((t) => t.slice),
    ['lang', 'lang'],
  );
});

test('compositionHolds: an item of the slice waits for qualifying annotators until min of them labelled it', () => {
  const reqs: CompositionRequirement[] = [{ slice: 'dialect', value: 'regional', attribute: 'speaks', equals: 'regional', min: 2 }];
  const item = { dialect: 'regional' };
  assert.equal(compositionHolds(reqs, item, { speaks: 'standard' }, [1]).length, 1, 'held from a non-qualifying annotator while 1 of 2 qualified');
  assert.equal(compositionHolds(reqs, item, { speaks: 'regional' }, [0]).length, 0, 'a qualifying annotator takes it');
  assert.equal(compositionHolds(reqs, item, {}, [2]).length, 0, 'met: anyone may take it');
  assert.equal(compositionHolds(reqs, { dialect: 'standard' }, {}, [0]).length, 0, 'other slices are not held');
});
