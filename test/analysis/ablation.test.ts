import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ablationRowTest } from '../../analysis/ablation';
import { binomialUpperTailHalf } from '../../analysis/numerics/distributions';
import { holmAdjust } from '../../analysis/numerics/tests';

test('ablationRowTest: errors added on one slice are found there, pooled over seeds', () => {
  // 200 rows: rows 0..39 are slice a=x, the rest a=y. With the batch, rows 0..29 go wrong in every seed;
  // elsewhere the two models swap a few errors either way.
  const slice = Array.from({ length: 200 }, (_, i) => (i < 40 ? 'x' : 'y'));
  const noise = [50, 60, 70, 80];
  const seeds = [0, 1, 2].map((s) => ({
    wrongWith: [...Array.from({ length: 30 }, (_, i) => i), noise[s]!, 150],
    wrongWithout: [noise[s + 1]!, 150, 151],
  }));
  const r = ablationRowTest(seeds, { a: slice });
  assert.equal(r.overall.worse, 93);
  assert.equal(r.overall.better, 6);
  assert.equal(r.overall.p, binomialUpperTailHalf(93, 99));
  assert.equal(r.overall.significant, true);
  const x = r.slices.find((t) => t.slice === 'a=x')!;
  const y = r.slices.find((t) => t.slice === 'a=y');
  assert.equal(x.worse, 90);
  assert.equal(x.better, 0);
  assert.equal(x.significant, true);
  assert.equal(x.errorRateIncrease, 90 / (40 * 3));
  assert.equal(r.slices[0]!.slice, 'a=x');
  assert.equal(y, undefined, 'a=y has 9 discordant rows (3 worse, 6 better): too few to name');
  assert.deepEqual([x.p], holmAdjust([binomialUpperTailHalf(90, 90)]));
});

test('ablationRowTest: no effect, no flag; thin slices are not named', () => {
  const seeds = [0, 1].map(() => ({ wrongWith: [1, 2, 3], wrongWithout: [1, 2, 4] }));
  const r = ablationRowTest(seeds, { a: ['p', 'p', 'p', 'q', 'q'] });
  assert.equal(r.overall.significant, false);
  assert.deepEqual(r.slices, [], 'fewer than 10 discordant rows in every slice');
  assert.throws(() => ablationRowTest([], {}), RangeError);
});
