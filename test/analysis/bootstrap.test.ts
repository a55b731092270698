import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  aucFromCounts,
  bootstrapAuc,
  bootstrapCells,
  bootstrapCellsMulti,
  jointCells,
  projectJointA,
  projectJointB,
  type BootstrapInterval,
} from '../../analysis/bootstrap';
import { confusionByCode, encodeAttribute } from '../../analysis/confusion';
import { quantileSorted } from '../../analysis/numerics/descriptive';
import { Rng } from '../../analysis/random';

interface OracleDataset {
  name: string;
  threshold: number;
  groups: string[];
  labels: number[];
  scores: number[];
  group: string[];
  cells: number[];
  auc: number;
  fairlearn_bootstrap: { n_boot: number; overall_selection_rate: [number, number] };
  stratified_bootstrap: { n_boot: number; auc: [number, number] };
}
const oracle = JSON.parse(readFileSync(new URL('../fixtures/fairness_oracle.json', import.meta.url), 'utf8')) as {
  datasets: OracleDataset[];
};

const TOL = 1e-9;

// ---------------------------------------------------------------------------------------------
// Monte Carlo tolerance. A bootstrap endpoint is itself random (B finite): two correct
// implementations with different random streams agree only up to its Monte Carlo spread. We
// estimate that spread directly: run our bootstrap with 20 seeds and take the SD of the endpoint.
// The reference endpoint (one draw from the same distribution if the methods agree) minus the mean
// of our 20 then has SD = sd * sqrt(1 + 1/20); we allow 4 of those (+ a 1e-9 floor for endpoints
// that do not vary at all). 4 SD with a 20-seed SD estimate (itself ~16% uncertain) keeps the
// false-alarm rate per comparison well under 1e-3 while still flagging any systematic difference
// bigger than ~4 MC standard errors (for B = 1000 that is a small fraction of the interval width).
// ---------------------------------------------------------------------------------------------
const MC_SEEDS = 20;
function mcTolerance(sd: number): number {
  return Math.max(4 * sd * Math.sqrt(1 + 1 / MC_SEEDS), 1e-9);
}
function meanSd(xs: number[]): { mean: number; sd: number } {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (xs.length - 1);
  return { mean, sd: Math.sqrt(v) };
}
function endpointsOverSeeds(run: (seed: number) => BootstrapInterval, seeds = MC_SEEDS): { lower: { mean: number; sd: number }; upper: { mean: number; sd: number } } {
  const lo: number[] = [];
  const hi: number[] = [];
  for (let k = 0; k < seeds; k++) {
    const r = run(1 + k);
    assert.ok(r.lower !== null && r.upper !== null);
    lo.push(r.lower);
    hi.push(r.upper);
  }
  return { lower: meanSd(lo), upper: meanSd(hi) };
}
function assertWithinMc(ours: { mean: number; sd: number }, reference: number, what: string): void {
  const tol = mcTolerance(ours.sd);
  assert.ok(
    Math.abs(ours.mean - reference) <= tol,
    `${what}: mean over ${MC_SEEDS} seeds ${ours.mean} vs reference ${reference} (|diff| ${Math.abs(ours.mean - reference).toExponential(2)} > tol ${tol.toExponential(2)}, sd ${ours.sd.toExponential(2)})`,
  );
}

function encode(ds: OracleDataset): { codes: ArrayLike<number>; cells: Float64Array } {
  const attr = encodeAttribute('group', ds.group);
  assert.deepEqual(attr.values, ds.groups);
  const cells = confusionByCode(ds.labels, ds.scores, ds.threshold, attr.codes, attr.values.length);
  assert.deepEqual(Array.from(cells), ds.cells, `${ds.name}: cells`);
  return { codes: attr.codes, cells };
}

test('bootstrapAuc: estimate equals sklearn roc_auc_score (ties count 1/2)', () => {
  for (const ds of oracle.datasets) {
    const r = bootstrapAuc(ds.labels, ds.scores, null, 1, { B: 10 });
    assert.ok(r.estimate !== null && Math.abs(r.estimate - ds.auc) <= TOL, `${ds.name}: ${r.estimate} vs ${ds.auc}`);
  }
  assert.equal(aucFromCounts([0, 0], [1, 2]), null);
  assert.equal(aucFromCounts([1], [1]), 0.5);
});

test('bootstrapAuc stratified by group: interval matches a numpy row bootstrap within Monte Carlo error', () => {
  for (const ds of oracle.datasets) {
    const { codes } = encode(ds);
    const ref = ds.stratified_bootstrap.auc;
    const ours = endpointsOverSeeds((seed) => bootstrapAuc(ds.labels, ds.scores, codes, ds.groups.length, { B: ds.stratified_bootstrap.n_boot, seed }));
    assertWithinMc(ours.lower, ref[0], `${ds.name} auc lower`);
    assertWithinMc(ours.upper, ref[1], `${ds.name} auc upper`);
  }
});

test("bootstrapCells with one stratum: overall selection rate interval matches Fairlearn's MetricFrame bootstrap", () => {
  for (const ds of oracle.datasets) {
    const { cells: byGroup } = encode(ds);
    const overall = new Float64Array(4);
    for (let i = 0; i < byGroup.length; i++) overall[i % 4]! += byGroup[i]!;
    const sel = (c: Float64Array): number => (c[0]! + c[1]!) / (c[0]! + c[1]! + c[2]! + c[3]!);
    const point = bootstrapCells(overall, 1, sel, { B: 1 }).estimate!;
    const predicted = ds.scores.filter((s) => s >= ds.threshold).length;
    assert.ok(Math.abs(point - predicted / ds.scores.length) <= TOL);
    const ref = ds.fairlearn_bootstrap.overall_selection_rate;
    const ours = endpointsOverSeeds((seed) => bootstrapCells(overall, 1, sel, { B: ds.fairlearn_bootstrap.n_boot, seed }));
    assertWithinMc(ours.lower, ref[0], `${ds.name} overall selection rate lower`);
    assertWithinMc(ours.upper, ref[1], `${ds.name} overall selection rate upper`);
  }
});

// ---------------------------------------------------------------------------------------------
// Exactness: drawing multinomial counts must give the same interval distribution as drawing rows.
// ---------------------------------------------------------------------------------------------

/** Explicit stratified row bootstrap: draws n_s row indices per stratum, recounts, applies stat. */
function rowBootstrap(
  rowCell: Int32Array,
  rowStratum: Int32Array,
  nStrata: number,
  K: number,
  statistic: (cells: Float64Array) => number | null,
  B: number,
  seed: number,
  confidence = 0.95,
  onValue?: (v: number) => void,
): { lower: number; upper: number } {
  const members: number[][] = Array.from({ length: nStrata }, () => []);
  rowStratum.forEach((s, i) => members[s]!.push(i));
  const rng = new Rng(seed);
  const cells = new Float64Array(nStrata * K);
  const values: number[] = [];
  for (let b = 0; b < B; b++) {
    cells.fill(0);
    for (let s = 0; s < nStrata; s++) {
      const m = members[s]!;
      for (let i = 0; i < m.length; i++) cells[s * K + rowCell[m[rng.nextInt(m.length)]!]!]!++;
    }
    const v = statistic(cells);
    if (v !== null && !Number.isNaN(v)) {
      values.push(v);
      onValue?.(v);
    }
  }
  const sorted = Float64Array.from(values).sort();
  const a = (1 - confidence) / 2;
  return { lower: quantileSorted(sorted, sorted.length, a), upper: quantileSorted(sorted, sorted.length, 1 - a) };
}

/**
 * Two-sample chi-square test of homogeneity on replicate values (the values are discrete: cell
 * counts are integers). Distinct values in ascending order are merged into bins of >= 20 pooled
 * observations. Returns the statistic and its degrees of freedom.
 */
function twoSampleChiSquare(a: number[], b: number[]): { stat: number; df: number } {
  const na = a.length;
  const nb = b.length;
  const counts = new Map<number, [number, number]>();
  for (const v of a) (counts.get(v) ?? counts.set(v, [0, 0]).get(v)!)[0]++;
  for (const v of b) (counts.get(v) ?? counts.set(v, [0, 0]).get(v)!)[1]++;
  const keys = [...counts.keys()].sort((x, y) => x - y);
  const bins: Array<[number, number]> = [];
  let cur: [number, number] = [0, 0];
  for (const k of keys) {
    const [x, y] = counts.get(k)!;
    cur[0] += x;
    cur[1] += y;
    if (cur[0] + cur[1] >= 20) {
      bins.push(cur);
      cur = [0, 0];
    }
  }
  if (cur[0] + cur[1] > 0) {
    if (bins.length > 0) {
      bins[bins.length - 1]![0] += cur[0];
      bins[bins.length - 1]![1] += cur[1];
    } else bins.push(cur);
  }
  let stat = 0;
  for (const [x, y] of bins) {
    const pooled = (x + y) / (na + nb);
    stat += (x - na * pooled) ** 2 / (na * pooled) + (y - nb * pooled) ** 2 / (nb * pooled);
  }
  return { stat, df: bins.length - 1 };
}

/** Upper critical value of chi-square(df) at tail probability given by z (Wilson-Hilferty). */
function chiSquareCritical(df: number, z: number): number {
  const h = 2 / (9 * df);
  return df * (1 - h + z * Math.sqrt(h)) ** 3;
}

/**
 * Compares counts-bootstrap and row-bootstrap: (1) endpoint mean and SD over R = 200 seeds
 * (B = 400 each), (2) a two-sample chi-square test on 100k replicate values of each (the whole
 * replicate distribution, not just its 2.5% / 97.5% quantiles). Tolerances: mean difference
 * within 4 SE of a difference of two R-seed means; SD ratio within [0.7, 1.43] (for roughly normal
 * endpoints the SD of an R = 200 sample SD is ~5%, so that is > 6 SE; statistics whose endpoint
 * sits on an atom of the replicate distribution, e.g. a rate of exactly 1, have heavy-tailed
 * endpoint spreads and are avoided here); chi-square below its 1e-4 upper critical value.
 */
function assertSameDistribution(
  name: string,
  counts: (seed: number, onValue?: (v: number) => void, B?: number) => { lower: number; upper: number },
  rows: (seed: number, onValue?: (v: number) => void, B?: number) => { lower: number; upper: number },
): void {
  const R = 200;
  const B = 400;
  const c = { lo: [] as number[], hi: [] as number[] };
  const r = { lo: [] as number[], hi: [] as number[] };
  for (let k = 0; k < R; k++) {
    const a = counts(1000 + k, undefined, B);
    const b = rows(5000 + k, undefined, B);
    c.lo.push(a.lower);
    c.hi.push(a.upper);
    r.lo.push(b.lower);
    r.hi.push(b.upper);
  }
  for (const [end, x, y] of [['lower', c.lo, r.lo], ['upper', c.hi, r.hi]] as const) {
    const mx = meanSd(x);
    const my = meanSd(y);
    const se = Math.sqrt((mx.sd ** 2 + my.sd ** 2) / R);
    console.log(`# ${name} ${end}: counts mean ${mx.mean.toFixed(5)} sd ${mx.sd.toFixed(5)} | rows mean ${my.mean.toFixed(5)} sd ${my.sd.toFixed(5)}`);
    assert.ok(Math.abs(mx.mean - my.mean) <= 4 * se + 1e-12, `${name} ${end} mean: ${mx.mean} vs ${my.mean} (se ${se})`);
    if (my.sd > 0) {
      const ratio = mx.sd / my.sd;
      assert.ok(ratio > 0.7 && ratio < 1.43, `${name} ${end} sd ratio ${ratio}`);
    }
  }
  const vc: number[] = [];
  const vr: number[] = [];
  counts(77, (v) => vc.push(v), 100_000);
  rows(78, (v) => vr.push(v), 100_000);
  const { stat, df } = twoSampleChiSquare(vc, vr);
  const crit = chiSquareCritical(df, 3.719);
  console.log(`# ${name}: two-sample chi-square of replicate values ${stat.toFixed(1)} on ${df} df (critical ${crit.toFixed(1)})`);
  assert.ok(stat < crit, `${name}: chi-square ${stat} on ${df} df >= ${crit}`);
}

/** Small 3-stratum data set: 90 / 60 / 40 rows with varied confusion cells. */
function smallData(): { rowCell: Int32Array; rowStratum: Int32Array; labels: number[]; scores: number[]; strata: number[] } {
  const rng = new Rng(2024);
  const sizes = [90, 60, 40];
  const labels: number[] = [];
  const scores: number[] = [];
  const strata: number[] = [];
  sizes.forEach((size, s) => {
    for (let i = 0; i < size; i++) {
      const y = rng.next() < 0.35 + 0.1 * s ? 1 : 0;
      // Scores on a 0.1 grid, shifted up for positives: ties and an informative AUC.
      const score = Math.min(10, Math.max(0, Math.round(1 + 3 * y + rng.next() * 5 - s))) / 10;
      labels.push(y);
      scores.push(score);
      strata.push(s);
    }
  });
  const rowCell = Int32Array.from(labels, (y, i) => {
    const p = scores[i]! >= 0.5;
    return y === 1 ? (p ? 0 : 3) : p ? 1 : 2;
  });
  return { rowCell, rowStratum: Int32Array.from(strata), labels, scores, strata };
}

test('exactness: counts bootstrap and explicit row bootstrap give the same interval distribution (TPR difference)', () => {
  const d = smallData();
  const cells = confusionByCode(d.labels, d.scores, 0.5, d.strata, 3);
  const stat = (c: Float64Array): number | null => {
    const p0 = c[0]! + c[3]!;
    const p2 = c[8]! + c[11]!;
    return p0 === 0 || p2 === 0 ? null : c[0]! / p0 - c[8]! / p2;
  };
  assertSameDistribution(
    'tpr diff',
    (seed, onValue, B) =>
      bootstrapCells(cells, 3, (c) => {
        const v = stat(c);
        if (v !== null) onValue?.(v);
        return v;
      }, { B, seed }) as { lower: number; upper: number },
    (seed, onValue, B) => rowBootstrap(d.rowCell, d.rowStratum, 3, 4, stat, B ?? 400, seed, 0.95, onValue),
  );
});

test('exactness: counts bootstrap of AUC equals a row bootstrap of AUC in distribution', () => {
  const d = smallData();
  const grid = 11; // scores k / 10
  const rowCell = Int32Array.from(d.labels, (y, i) => 2 * Math.round(d.scores[i]! * 10) + y);
  const aucStat = (c: Float64Array): number | null => {
    const pos = new Float64Array(grid);
    const neg = new Float64Array(grid);
    for (let s = 0; s < 3; s++) {
      for (let k = 0; k < grid; k++) {
        neg[k]! += c[s * 2 * grid + 2 * k]!;
        pos[k]! += c[s * 2 * grid + 2 * k + 1]!;
      }
    }
    return aucFromCounts(pos, neg);
  };
  assertSameDistribution(
    'auc',
    (seed, onValue, B) => {
      if (onValue) {
        // bootstrapAuc does not expose replicate values; the same multinomial scheme through
        // bootstrapCells over (score, label) cells does, so use it for the KS part.
        const cells = new Float64Array(3 * 2 * grid);
        rowCell.forEach((c, i) => cells[d.strata[i]! * 2 * grid + c]!++);
        return bootstrapCells(cells, 3, (c) => {
          const v = aucStat(c);
          if (v !== null) onValue(v);
          return v;
        }, { B, seed }) as { lower: number; upper: number };
      }
      return bootstrapAuc(d.labels, d.scores, d.strata, 3, { B, seed }) as { lower: number; upper: number };
    },
    (seed, onValue, B) => rowBootstrap(rowCell, d.rowStratum, 3, 2 * grid, aucStat, B ?? 400, seed, 0.95, onValue),
  );
});

test('paired comparison: jointCells projections, exactness of the paired bootstrap, and why pairing matters', () => {
  const rng = new Rng(99);
  const n = 120;
  const labels: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  const strata: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.next() < 0.4 ? 1 : 0;
    const shared = rng.next(); // common component: the two models err on the same rows
    labels.push(y);
    a.push(0.6 * (y ? shared + 0.25 : shared - 0.15) + 0.4 * rng.next());
    b.push(0.6 * (y ? shared + 0.2 : shared - 0.1) + 0.4 * rng.next());
    strata.push(i % 2);
  }
  const joint = jointCells(labels, a, b, 0.5, strata, 2);
  assert.equal(joint.length, 32);
  assert.deepEqual(Array.from(projectJointA(joint, 2)), Array.from(confusionByCode(labels, a, 0.5, strata, 2)));
  assert.deepEqual(Array.from(projectJointB(joint, 2)), Array.from(confusionByCode(labels, b, 0.5, strata, 2)));

  const bufA = new Float64Array(8);
  const bufB = new Float64Array(8);
  const accuracy = (c: Float64Array): number => (c[0]! + c[2]! + c[4]! + c[6]!) / c.reduce((s, x) => s + x, 0);
  const diff = (j: Float64Array): number => accuracy(projectJointA(j, 2, bufA)) - accuracy(projectJointB(j, 2, bufB));
  const paired = bootstrapCells(joint, 2, diff, { B: 2000, seed: 5 });
  assert.ok(Math.abs(paired.estimate! - (accuracy(confusionByCode(labels, a, 0.5, strata, 2)) - accuracy(confusionByCode(labels, b, 0.5, strata, 2)))) < 1e-12);

  // Unpaired (wrong for the same rows): each model's cells resampled independently.
  const unpairedCells = new Float64Array(16);
  unpairedCells.set(confusionByCode(labels, a, 0.5, strata, 2), 0);
  unpairedCells.set(confusionByCode(labels, b, 0.5, strata, 2), 8);
  const unpaired = bootstrapCells(unpairedCells, 4, (c) => accuracy(c.subarray(0, 8)) - accuracy(c.subarray(8, 16)), { B: 2000, seed: 5 });
  const wPaired = paired.upper! - paired.lower!;
  const wUnpaired = unpaired.upper! - unpaired.lower!;
  console.log(`# paired accuracy difference: width ${wPaired.toFixed(4)} paired vs ${wUnpaired.toFixed(4)} unpaired`);
  assert.ok(wPaired < 0.8 * wUnpaired, 'correlated models: the paired interval is markedly narrower');

  // And the paired counts bootstrap equals a paired row bootstrap in distribution.
  const rowCell = Int32Array.from({ length: n }, (_, i) => {
    const y = labels[i]!;
    const ca = y === 1 ? (a[i]! >= 0.5 ? 0 : 3) : a[i]! >= 0.5 ? 1 : 2;
    const cb = y === 1 ? (b[i]! >= 0.5 ? 0 : 3) : b[i]! >= 0.5 ? 1 : 2;
    return 4 * ca + cb;
  });
  assertSameDistribution(
    'paired accuracy diff',
    (seed, onValue, B) =>
      bootstrapCells(joint, 2, (j) => {
        const v = diff(j);
        onValue?.(v);
        return v;
      }, { B, seed }) as { lower: number; upper: number },
    (seed, onValue, B) => rowBootstrap(rowCell, Int32Array.from(strata), 2, 16, diff, B ?? 400, seed, 0.95, onValue),
  );
});

test('stratified resampling keeps every stratum total fixed; undefined replicates are dropped and counted', () => {
  // Stratum totals are invariant across replicates.
  const cells = Float64Array.from([5, 3, 10, 2, 0, 0, 0, 0, 1, 0, 6, 0]);
  let checked = 0;
  bootstrapCells(cells, 3, (c) => {
    assert.equal(c[0]! + c[1]! + c[2]! + c[3]!, 20);
    assert.equal(c[4]! + c[5]! + c[6]! + c[7]!, 0);
    assert.equal(c[8]! + c[9]! + c[10]! + c[11]!, 7);
    checked++;
    return 0;
  }, { B: 300 });
  assert.equal(checked, 301); // estimate + 300 replicates

  // Stratum 3 has 1 positive in 7 rows: its TPR is undefined whenever that row is not drawn,
  // probability (6/7)^7 = 0.3399.
  const tpr3 = (c: Float64Array): number | null => (c[8]! + c[11]! === 0 ? null : c[8]! / (c[8]! + c[11]!));
  const r = bootstrapCells(cells, 3, tpr3, { B: 4000, seed: 3 });
  assert.equal(r.estimate, 1);
  assert.equal(r.replicates + r.undefinedReplicates, 4000);
  const expectedUndefined = 4000 * (6 / 7) ** 7;
  assert.ok(Math.abs(r.undefinedReplicates - expectedUndefined) < 5 * Math.sqrt(expectedUndefined), `${r.undefinedReplicates} vs ${expectedUndefined}`);
  assert.equal(r.lower, 1);
  assert.equal(r.upper, 1);

  // Never defined: nulls everywhere, all replicates undefined.
  const none = bootstrapCells(cells, 3, () => null, { B: 50 });
  assert.deepEqual(none, { estimate: null, lower: null, upper: null, replicates: 0, undefinedReplicates: 50 });
});

test('determinism and argument checks', () => {
  const cells = Float64Array.from([30, 5, 50, 15, 10, 10, 70, 10]);
  const stat = (c: Float64Array): number => c[0]! / (c[0]! + c[3]!) - c[4]! / (c[4]! + c[7]!);
  assert.deepEqual(bootstrapCells(cells, 2, stat, { seed: 8 }), bootstrapCells(cells, 2, stat, { seed: 8 }));
  assert.notDeepEqual(bootstrapCells(cells, 2, stat, { seed: 8 }), bootstrapCells(cells, 2, stat, { seed: 9 }));
  const multi = bootstrapCellsMulti(cells, 2, 2, (c, out) => {
    out[0] = stat(c);
  }, { seed: 8 });
  assert.deepEqual(multi[0], bootstrapCells(cells, 2, stat, { seed: 8 }));
  assert.equal(multi[1]!.undefinedReplicates, 1000); // left NaN = undefined
  assert.throws(() => bootstrapCells(Float64Array.from([1.5, 2, 3, 4]), 1, stat), RangeError);
  assert.throws(() => bootstrapCells(cells, 3, stat), RangeError);
  assert.throws(() => bootstrapCells(cells, 2, stat, { B: 0 }), RangeError);
  assert.throws(() => bootstrapCells(cells, 2, stat, { confidence: 1 }), RangeError);
  assert.throws(() => bootstrapAuc([0, 2], [0.1, 0.2], null, 1), RangeError);
  assert.throws(() => bootstrapAuc([0, 1], [0.1, Number.NaN], null, 1), RangeError);
  assert.throws(() => jointCells([0, 1], [0.1], [0.2, 0.3], 0.5, null, 1), RangeError);
});

test('B = 1000 on 100k rows in 20 strata: both bootstraps resample counts, never rows', () => {
  // Timings on 1M rows are in bench/evaluation.bench.ts. The work counter here: the replicates
  // drawn (B, each over the 80 cells or the distinct (score, label, stratum) cells), not the rows.
  const n = 100_000;
  const S = 20;
  const rng = new Rng(1234);
  const labels = new Uint8Array(n);
  const scores = new Float64Array(n);
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const s = rng.nextInt(S);
    const y = rng.next() < 0.2 + 0.02 * s ? 1 : 0;
    codes[i] = s;
    labels[i] = y;
    scores[i] = Math.round(Math.min(1, Math.max(0, 0.35 + 0.3 * y + 0.35 * (rng.next() - 0.5) * 2)) * 100) / 100;
  }
  const cells = confusionByCode(labels, scores, 0.5, codes, S);
  const accRange = (c: Float64Array): number => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let s = 0; s < S; s++) {
      const o = 4 * s;
      const acc = (c[o]! + c[o + 2]!) / (c[o]! + c[o + 1]! + c[o + 2]! + c[o + 3]!);
      if (acc < lo) lo = acc;
      if (acc > hi) hi = acc;
    }
    return hi - lo;
  };
  let cellsSeen = 0;
  const r = bootstrapCells(cells, S, (c) => {
    cellsSeen += c.length;
    return accRange(c);
  }, { B: 1000, seed: 1 });
  // One call on the original counts, then one per replicate, each over the 4 x 20 cells.
  assert.equal(cellsSeen, 1001 * 4 * S);
  assert.equal(r.replicates, 1000);
  assert.ok(r.lower! <= r.estimate! && r.estimate! <= r.upper!);
  const auc = bootstrapAuc(labels, scores, codes, S, { B: 1000, seed: 1 });
  assert.equal(auc.replicates, 1000);
  assert.ok(auc.lower! < auc.estimate! && auc.estimate! < auc.upper!);
});
