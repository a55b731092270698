// The pool-wide bias test against its oracle (test/fixtures/generate_poolbias_oracles.py): exact
// numbers for fixed items (statsmodels' cluster-robust OLS variance, the design-effect Wilson
// interval, the cluster-robust z-test, Holm, the Bonferroni floor), and a re-simulation of the
// oracle's designs (independent and item-clustered errors) with our own generator whose power and
// false-alarm rate must agree with numpy's within Monte-Carlo error. Plus the composition rule and the tally.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { clusteredAccuracy, compositionHolds, poolGoldBias, tallyGold, type CompositionRequirement, type GoldTally, type ItemSums, type PoolSliceAccuracy } from '../../analysis/poolBias';
import { type Interval } from '../../analysis/numerics/intervals';
import { Rng } from '../../analysis/random';
import { assertClose } from './oracle';

/** The oracle writes each slice as poolGoldBias answers it, plus the floor's upper bound it judged. */
type OracleSlice = PoolSliceAccuracy & { floorUpper: number | null };
type OracleItem = { slices: Record<string, string>; labels: number; correct: number };
type Rates = { biasedFlagged: number; anyFlagged: number };

const oracle = JSON.parse(readFileSync(new URL('../fixtures/poolbias_oracle.json', import.meta.url), 'utf8')) as {
  versions: Record<string, string>;
  alpha: number;
  minGold: number;
  minItems: number;
  clustered: { hardShare: number; hardAccuracy: number; easyAccuracy: number };
  fixed: { name: string; items: OracleItem[]; tallies: GoldTally[]; total: ItemSums; minAccuracy: number | null; overall: Interval; tested: number; floorTested: number; slices: OracleSlice[] }[];
  simulations: ({ name: string; itemsPerValue: number[]; overlap: number; errors: 'independent' | 'item-clustered'; baseAccuracy: number; bias: number; sims: number; labelLevel: Rates } & Rates)[];
};

const closeInterval = (a: Interval, e: Interval, what: string) => {
  assertClose(a.estimate, e.estimate, `${what} estimate`);
  assertClose(a.lower, e.lower, `${what} lower`);
  assertClose(a.upper, e.upper, `${what} upper`);
};

/** An oracle case's items as the gold labels goldLabelsOf returns: one row per label, `labels - correct` of them wrong. */
const labelRows = (items: readonly OracleItem[]) =>
  items.flatMap((it, i) => Array.from({ length: it.labels }, (_, k) => ({ item: i, correct: k < it.correct, slices: it.slices })));

test('oracle versions are the pinned ones', () => {
  assert.deepEqual(oracle.versions, { numpy: '2.4.6', scipy: '1.17.1', statsmodels: '0.15.0' });
  assert.deepEqual([oracle.alpha, oracle.minGold, oracle.minItems], [0.01, 20, 10], 'the oracle judged at the defaults');
});

test('poolGoldBias: tallies, cluster-robust intervals and z-test, Holm, flags and the Bonferroni floor match the oracle on fixed items', () => {
  for (const c of oracle.fixed) {
    const { tallies, total } = tallyGold(labelRows(c.items));
    assert.deepEqual(tallies, c.tallies, `${c.name}: tallies`);
    assert.deepEqual(total, c.total, `${c.name}: total`);
    const r = poolGoldBias(tallies, total, { minAccuracy: c.minAccuracy });
    closeInterval(r.overall, c.overall, `${c.name}: overall`);
    assert.equal(r.tested, c.tested, `${c.name}: tested`);
    assert.equal(r.floorTested, c.floorTested, `${c.name}: floorTested`);
    assert.equal(r.goldItems, c.items.length);
    assert.equal(r.slices.length, c.slices.length);
    r.slices.forEach((s, i) => {
      const e = c.slices[i]!;
      const what = `${c.name}: ${e.slice}=${e.value}`;
      assert.equal(`${s.slice}=${s.value}`, `${e.slice}=${e.value}`, `${what}: order`);
      assert.deepEqual([s.goldLabels, s.correct, s.items], [e.goldLabels, e.correct, e.items], what);
      assertClose(s.designEffect, e.designEffect, `${what} design effect`);
      closeInterval(s.accuracy, e.accuracy, `${what} accuracy`);
      closeInterval(s.rest, e.rest, `${what} rest`);
      closeInterval(s.gap, e.gap, `${what} gap`);
      assertClose(s.z, e.z, `${what} z`);
      assertClose(s.p, e.p, `${what} p`);
      assertClose(s.pAdjusted, e.pAdjusted, `${what} Holm p`);
      assert.deepEqual(
        { insufficient: s.insufficient, belowRest: s.belowRest, belowFloor: s.belowFloor, flagged: s.flagged },
        { insufficient: e.insufficient, belowRest: e.belowRest, belowFloor: e.belowFloor, flagged: e.flagged },
        what,
      );
      if (e.floorUpper !== null) {
        const sums = tallies.find((t) => t.slice === s.slice && t.value === s.value)!;
        assertClose(clusteredAccuracy(sums, 1 - 0.05 / r.floorTested).interval.upper, e.floorUpper, `${what} floor bound`);
      }
    });
  }
  // The cases say what they are about.
  const run = (i: number) => {
    const c = oracle.fixed[i]!;
    const { tallies, total } = tallyGold(labelRows(c.items));
    return poolGoldBias(tallies, total, { minAccuracy: c.minAccuracy });
  };
  assert.deepEqual(
    run(0).slices.filter((s) => s.flagged).map((s) => `${s.slice}=${s.value}`),
    ['dialect=regional'],
  );
  assert.ok(run(0).slices.find((s) => s.value === 'regional')!.designEffect! > 1.3, 'the regional items are misread item by item: labels of one item go together');
  assert.deepEqual(
    run(1).slices.map((s) => [s.value, s.belowRest, s.belowFloor, s.insufficient]),
    [
      ['country_code', true, true, false],
      ['generic', false, false, false],
      ['unknown', false, false, true],
    ],
    'country_code is below the rest and below the floor; 6 gold items are too few to judge',
  );
  assert.deepEqual(
    run(2).slices.map((s) => [s.value, s.p, s.z, s.accuracy.lower! < 1, s.flagged]),
    [
      ['de', 1, null, true, false],
      ['en', 1, null, true, false],
    ],
    'a perfect pool: no gap, no variance, and still an interval below 1',
  );
  assert.deepEqual(
    run(3).slices.map((s) => [s.value, s.pAdjusted! < 0.01, s.flagged]),
    [
      ['en', true, true],
      ['fr', true, false],
    ],
    'the value the pool does better on is significant but not flagged',
  );
  const single = run(4).slices.find((s) => s.value === 'fr')!;
  assert.deepEqual([single.items, single.goldLabels, single.flagged], [10, 29, true], 'ten items, one of them with twenty labels, count as ten clusters');
});

test('re-simulated with our generator, power and false alarms at the default sizes agree with numpy within Monte-Carlo error', () => {
  const SIMS = 2000;
  const rng = new Rng(20261207);
  const { hardShare, hardAccuracy, easyAccuracy } = oracle.clustered;
  for (const d of oracle.simulations) {
    let biased = 0;
    let any = 0;
    for (let s = 0; s < SIMS; s++) {
      const zero = (value: string): GoldTally => ({ slice: 's', value, items: 0, gold: 0, correct: 0, goldSq: 0, correctSq: 0, goldCorrect: 0 });
      const tallies = d.itemsPerValue.map((_, v) => zero(`v${v}`));
      const total: ItemSums = zero('all');
      d.itemsPerValue.forEach((k, v) => {
        for (let i = 0; i < k; i++) {
          const base = d.errors === 'independent' ? d.baseAccuracy : rng.next() < hardShare ? hardAccuracy : easyAccuracy;
          const n = d.overlap;
          const c = rng.binomial(n, base - (v === 0 ? d.bias : 0));
          for (const t of [tallies[v]!, total]) {
            t.items++;
            t.gold += n;
            t.correct += c;
            t.goldSq += n * n;
            t.correctSq += c * c;
            t.goldCorrect += n * c;
          }
        }
      });
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
      assert.ok(Math.abs(mine - theirs) <= tol, `${d.name}, ${d.errors}, bias ${d.bias}: ${what} ${mine} here vs ${theirs} in numpy (tolerance ${tol.toFixed(4)})`);
    }
  }
  // What the numbers say. With errors clustered on items the label-level test it replaces raised
  // false alarms above alpha at every size; the item-level one holds alpha under both error models.
  const at = (name: string, errors: string, bias: number) => oracle.simulations.find((s) => s.name === name && s.errors === errors && s.bias === bias)!;
  for (const s of oracle.simulations.filter((x) => x.bias === 0)) {
    assert.ok(s.anyFlagged <= oracle.alpha, `${s.name}, ${s.errors}: false alarms ${s.anyFlagged}`);
    if (s.errors === 'item-clustered') assert.ok(s.labelLevel.anyFlagged > oracle.alpha, `${s.name}: the label-level test's false alarms ${s.labelLevel.anyFlagged}`);
  }
  // At the demo's default (44 gold items) a 15-point pool bias is caught about one time in four;
  // 100 gold items per value catch it almost always, item-clustered or not.
  assert.ok(at('default: 44 gold items over 2 values', 'item-clustered', 0.15).biasedFlagged < 0.35);
  assert.ok(at('100 gold items per value, 2 values', 'item-clustered', 0.15).biasedFlagged > 0.85);
  assert.ok(at('100 gold items per value, 2 values', 'independent', 0.15).biasedFlagged > 0.95);
});

test('poolGoldBias refuses impossible counts and options', () => {
  const sums = (items: number, gold: number, correct: number): ItemSums => ({ items, gold, correct, goldSq: gold, correctSq: correct, goldCorrect: correct });
  assert.throws(() => poolGoldBias([{ slice: 'a', value: 'x', ...sums(3, 3, 4) }], sums(3, 3, 4)), /0 <= correct <= gold/);
  assert.throws(() => poolGoldBias([{ slice: 'a', value: 'x', ...sums(4, 3, 2) }], sums(3, 3, 2)), /items <= gold/);
  assert.throws(() => poolGoldBias([], sums(0, 0, 0), { alpha: 0 }), /alpha/);
  assert.throws(() => poolGoldBias([], sums(0, 0, 0), { minItems: 1 }), /minItems/);
  assert.throws(() => poolGoldBias([], sums(0, 0, 0), { minAccuracy: 1.5 }), /minAccuracy/);
  const empty = poolGoldBias([], sums(0, 0, 0));
  assert.deepEqual([empty.slices, empty.tested, empty.overall.estimate], [[], 0, null]);
});

test('tallyGold sums labels per item, then items under each attribute, missing values as unknown; many-valued attributes are left out', () => {
  const rows: { item: number; correct: boolean; slices: Record<string, string> }[] = [
    { item: 1, correct: true, slices: { lang: 'en', tld: 'com' } },
    { item: 1, correct: false, slices: { lang: 'en', tld: 'com' } },
    { item: 1, correct: true, slices: { lang: 'en', tld: 'com' } },
    { item: 2, correct: false, slices: { lang: 'en' } },
    { item: 3, correct: true, slices: { lang: 'de', tld: 'de' } },
  ];
  const { tallies, total } = tallyGold(rows);
  assert.deepEqual(total, { items: 3, gold: 5, correct: 3, goldSq: 11, correctSq: 5, goldCorrect: 7 });
  assert.deepEqual(tallies, [
    { slice: 'lang', value: 'en', items: 2, gold: 4, correct: 2, goldSq: 10, correctSq: 4, goldCorrect: 6 },
    { slice: 'lang', value: 'de', items: 1, gold: 1, correct: 1, goldSq: 1, correctSq: 1, goldCorrect: 1 },
    { slice: 'tld', value: 'com', items: 1, gold: 3, correct: 2, goldSq: 9, correctSq: 4, goldCorrect: 6 },
    { slice: 'tld', value: 'unknown', items: 1, gold: 1, correct: 0, goldSq: 1, correctSq: 0, goldCorrect: 0 },
    { slice: 'tld', value: 'de', items: 1, gold: 1, correct: 1, goldSq: 1, correctSq: 1, goldCorrect: 1 },
  ]);
  assert.deepEqual(
    tallyGold(rows, 2).tallies.map((t) => t.slice),
    ['lang', 'lang'],
  );
});

test('clusteredAccuracy: one label per item is Wilson at N (G-1)/G; items that agree within count as items, not labels', () => {
  // 40 items of one label, 30 right: design effect G/(G-1).
  const single: ItemSums = { items: 40, gold: 40, correct: 30, goldSq: 40, correctSq: 30, goldCorrect: 30 };
  assertClose(clusteredAccuracy(single).designEffect, 40 / 39, 'design effect of single labels');
  // 20 items of 3 labels each, all 3 right on 15 and all wrong on 5: labels move together, design effect ~3.
  const together: ItemSums = { items: 20, gold: 60, correct: 45, goldSq: 180, correctSq: 15 * 9, goldCorrect: 15 * 9 };
  assertClose(clusteredAccuracy(together).designEffect, 3 * (20 / 19), 'design effect of unanimous items');
  const w = clusteredAccuracy(together).interval;
  const asLabels = clusteredAccuracy({ ...together, correctSq: 45, goldCorrect: 45, goldSq: 60, items: 60 }).interval;
  assert.ok(w.upper! - w.lower! > 1.6 * (asLabels.upper! - asLabels.lower!), 'unanimous items give a wider interval than independent labels');
});

test('compositionHolds: an item of the slice waits for qualifying annotators until min of them labelled it', () => {
  const reqs: CompositionRequirement[] = [{ slice: 'dialect', value: 'regional', attribute: 'speaks', equals: 'regional', min: 2 }];
  const item = { dialect: 'regional' };
  assert.equal(compositionHolds(reqs, item, { speaks: 'standard' }, [1]).length, 1, 'held from a non-qualifying annotator while 1 of 2 qualified');
  assert.equal(compositionHolds(reqs, item, { speaks: 'regional' }, [0]).length, 0, 'a qualifying annotator takes it');
  assert.equal(compositionHolds(reqs, item, {}, [2]).length, 0, 'met: anyone may take it');
  assert.equal(compositionHolds(reqs, { dialect: 'standard' }, {}, [0]).length, 0, 'other slices are not held');
});
