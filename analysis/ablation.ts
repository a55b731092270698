/**
 * Does a batch of training data make the model worse? The newest-batch ablation compares models
 * trained with and without the batch, paired by seed, on the SAME held-out rows. Besides the t
 * interval over seeds (see learningCurve.ts; with 3 seeds it is wide), this module uses the row-level
 * pairing: on each row and seed, the with-batch model is wrong where the without-batch model is right
 * (b) or the reverse (c). Summed over seeds, the one-sided exact McNemar test (binomial, b of b + c at
 * 1/2) asks whether the batch adds errors beyond chance; per slice the same test, Holm-adjusted across
 * slices, names where.
 *
 * Pure: no I/O, no clock.
 */
import { binomialUpperTailHalf } from './numerics/distributions';
import { holmAdjust } from './numerics/tests';

export const ABLATION_ALPHA = 0.01;
/** A slice needs this many discordant rows (b + c) before it can be named. */
export const ABLATION_MIN_DISCORDANT = 10;

export interface AblationRowsSeed {
  /** Held-out row indices the with-batch model got wrong. */
  wrongWith: readonly number[];
  /** Held-out row indices the without-batch model got wrong. */
  wrongWithout: readonly number[];
}

export interface McNemarResult {
  /** Rows × seeds wrong with the batch and right without it. */
  worse: number;
  /** Rows × seeds right with the batch and wrong without it. */
  better: number;
  /** One-sided exact p of worse >= observed under no effect. */
  p: number;
}

export interface AblationRowTest {
  overall: McNemarResult & { significant: boolean };
  /**
   * Per slice value: significant ones first, then by the rise in error rate (excess errors per row and
   * seed), so a small slice the batch wrecked outranks a large one it dented; `p` Holm-adjusted.
   */
  slices: (McNemarResult & { slice: string; rows: number; excessErrors: number; errorRateIncrease: number; significant: boolean })[];
  alpha: number;
  rule: string;
}

function mcnemar(seeds: readonly AblationRowsSeed[], keep: (row: number) => boolean): McNemarResult {
  let worse = 0;
  let better = 0;
  for (const s of seeds) {
    const without = new Set(s.wrongWithout.filter(keep));
    const withSet = new Set(s.wrongWith.filter(keep));
    for (const r of withSet) if (!without.has(r)) worse++;
    for (const r of without) if (!withSet.has(r)) better++;
  }
  return { worse, better, p: binomialUpperTailHalf(worse, worse + better) };
}

/**
 * @param seeds per seed, the wrong rows of both models (same held-out rows, same indexing)
 * @param sliceOfRow per slice attribute, the value of every held-out row
 */
export function ablationRowTest(seeds: readonly AblationRowsSeed[], sliceOfRow: Record<string, readonly string[]>, alpha = ABLATION_ALPHA): AblationRowTest {
  if (seeds.length === 0) throw new RangeError('ablationRowTest: seeds must not be empty');
  const overall = mcnemar(seeds, () => true);
  const candidates: { slice: string; rows: Set<number> }[] = [];
  for (const [attribute, values] of Object.entries(sliceOfRow).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const byValue = new Map<string, Set<number>>();
    values.forEach((v, row) => {
      const set = byValue.get(v) ?? new Set<number>();
      set.add(row);
      byValue.set(v, set);
    });
    for (const [value, rows] of [...byValue.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) candidates.push({ slice: `${attribute}=${value}`, rows });
  }
  const tested = candidates
    .map((c) => ({ slice: c.slice, rows: c.rows.size, ...mcnemar(seeds, (r) => c.rows.has(r)) }))
    .filter((t) => t.worse + t.better >= ABLATION_MIN_DISCORDANT);
  const adjusted = holmAdjust(tested.map((t) => t.p));
  const slices = tested
    .map((t, i) => ({
      ...t,
      p: adjusted[i]!,
      excessErrors: t.worse - t.better,
      errorRateIncrease: (t.worse - t.better) / (t.rows * seeds.length),
      significant: adjusted[i]! < alpha && t.worse > t.better,
    }))
    .sort((a, b) => Number(b.significant) - Number(a.significant) || b.errorRateIncrease - a.errorRateIncrease || (a.slice < b.slice ? -1 : 1));
  return {
    overall: { ...overall, significant: overall.p < alpha && overall.worse > overall.better },
    slices,
    alpha,
    rule: `one-sided exact McNemar over held-out rows pooled across seeds (errors added vs removed by the batch), p < ${alpha}; slices with >= ${ABLATION_MIN_DISCORDANT} discordant rows, Holm-adjusted`,
  };
}
