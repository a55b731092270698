/**
 * Learning-curve saturation check: does more data still help?
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness. Its caller is the
 * `storeSaturationReport` activity (activities/saturation.ts), which reads the held-out errors the
 * `saturationCheck` workflow's train-on-nested-subsets activities stored and judges them here.
 *
 * Two parts:
 * - `fitInversePowerLaw` (analysis/powerLaw.ts): error(n) = a + b * n^(-c) by weighted nonlinear least squares under the
 *   bounds b >= 0, cMin <= c <= cMax, and (by default) a >= 0. Variable projection: for a fixed c
 *   the model is linear in (a, b), so the bounded linear problem is solved in closed form and the
 *   remaining profile SSR(c) is minimised over c alone (log-spaced grid, then Brent's root finder
 *   on the exact profile derivative). Standard errors come from the Jacobian exactly as
 *   scipy.optimize.curve_fit computes pcov (absolute_sigma=False).
 * - `learningCurveVerdict`: improving | plateau | degrading with its reasons and evidence, from
 *   Student t intervals over seeds (numerics/intervals.ts).
 */
import { pairedTInterval, welchTInterval, type MeanDifferenceInterval } from './numerics/intervals';
import { fitInversePowerLaw, fmtNum, type InversePowerLawFit, type InversePowerLawOptions } from './powerLaw';

// ---------------------------------------------------------------------------------------------
// Intervals over seeds
// ---------------------------------------------------------------------------------------------

/** Paired by seed position when both sides have the same number of seeds, Welch otherwise. */
function differenceInterval(x: readonly number[], y: readonly number[], confidence: number): MeanDifferenceInterval | null {
  if (x.length === y.length) return pairedTInterval(x.map((v, i) => v - y[i]!), confidence);
  return welchTInterval(x, y, confidence);
}

// ---------------------------------------------------------------------------------------------
// Verdict
// ---------------------------------------------------------------------------------------------

/** Held-out errors of the models trained on one nested subset, one per seed (seed k at index k). */
export interface CurveFraction {
  n: number;
  errors: number[];
}

/** One slice's errors in one ablation seed. */
export interface AblationSlice {
  slice: string;
  withNewest: number;
  withoutNewest: number;
}

/** Per seed: held-out error of the model trained with and without the newest data batch. */
export interface AblationSeed {
  seed?: number | string;
  withNewest: number;
  withoutNewest: number;
  slices?: AblationSlice[];
}

export interface VerdictThresholds {
  /** Smallest projected error reduction from doubling the data that counts as improving. Default 0.002. */
  minGainFromDoubling: number;
  /** The newest batch degrades when the lower bound of (with - without) exceeds this. Default 0. */
  degradeMargin: number;
  /** Two-sided confidence of the t intervals. Default 0.95. */
  confidence: number;
}

export const DEFAULT_VERDICT_THRESHOLDS: Readonly<VerdictThresholds> = Object.freeze({
  minGainFromDoubling: 0.002,
  degradeMargin: 0,
  confidence: 0.95,
});

export interface LearningCurveVerdictInput {
  /** Per training size (any order), the per-seed held-out errors. */
  curve: CurveFraction[];
  /** The fit of the same points; computed from `curve` (every seed a point) when omitted. */
  fit?: InversePowerLawFit;
  fitOptions?: InversePowerLawOptions;
  /** Paired ablation of the newest batch, one entry per seed; null or omitted when not run. */
  ablation?: AblationSeed[] | null;
  thresholds?: Partial<VerdictThresholds>;
}

export type SaturationVerdict = 'improving' | 'plateau' | 'degrading';

export interface IntervalEvidence {
  /** What the difference is, e.g. "error(with newest) - error(without newest)". */
  difference: string;
  interval: MeanDifferenceInterval | null;
  /** True when the interval's lower bound is above the threshold it is held against. */
  significant: boolean;
}

export interface LearningCurveVerdict {
  verdict: SaturationVerdict;
  reasons: string[];
  thresholds: VerdictThresholds;
  recommendation: string;
  evidence: {
    fit: InversePowerLawFit;
    /** error(with newest) - error(without newest), paired over seeds. */
    ablation: IntervalEvidence | null;
    /** Same per slice present in every seed, at the Bonferroni-adjusted confidence. */
    ablationSlices: (IntervalEvidence & { slice: string })[];
    /** error(largest n) - error(smaller n) for every smaller n, at the Bonferroni-adjusted confidence. */
    sizeComparisons: (IntervalEvidence & { smallerN: number; largestN: number })[];
    /** Only when the fit failed: error(previous n) - error(largest n), and its per-doubling rate. */
    fallback: (IntervalEvidence & { previousN: number; largestN: number; gainPerDoubling: number }) | null;
  };
}

export const RECOMMENDATIONS: Readonly<Record<SaturationVerdict, string>> = Object.freeze({
  improving: 'collect more data',
  plateau: 'change the model or its features, not the data volume',
  degrading: 'curate or relabel the newest batch',
});

function resolveThresholds(t: Partial<VerdictThresholds> | undefined): VerdictThresholds {
  const r = { ...DEFAULT_VERDICT_THRESHOLDS, ...(t ?? {}) };
  if (!(Number.isFinite(r.minGainFromDoubling) && r.minGainFromDoubling >= 0)) {
    throw new RangeError(`learningCurveVerdict: thresholds.minGainFromDoubling must be a finite number >= 0, got ${r.minGainFromDoubling}`);
  }
  if (!(Number.isFinite(r.degradeMargin) && r.degradeMargin >= 0)) {
    throw new RangeError(`learningCurveVerdict: thresholds.degradeMargin must be a finite number >= 0, got ${r.degradeMargin}`);
  }
  if (!(r.confidence > 0 && r.confidence < 1)) throw new RangeError(`learningCurveVerdict: thresholds.confidence must be in (0, 1), got ${r.confidence}`);
  return r;
}

function checkFinite(field: string, v: number): void {
  if (!Number.isFinite(v)) throw new RangeError(`learningCurveVerdict: ${field} must be a finite number, got ${v}`);
}

const fmtInterval = (iv: MeanDifferenceInterval): string =>
  `${fmtNum(iv.mean)} [${fmtNum(iv.lower)}, ${fmtNum(iv.upper)}] (${iv.method} t, df ${fmtNum(iv.df)}, ${fmtNum(iv.confidence * 100)}%)`;

/**
 * The saturation verdict.
 *
 * degrading, checked first, when either
 *   - the newest batch hurts: the paired t interval over seeds of error(with newest) -
 *     error(without newest) has its lower bound above degradeMargin (overall at `confidence`, or
 *     in some slice at the Bonferroni-adjusted confidence 1 - (1 - confidence) / slices), or
 *   - more data hurts: error(largest n) - error(smaller n) has its lower bound above
 *     degradeMargin for some smaller n (paired by seed position when both sizes have the same
 *     seeds, Welch otherwise; Bonferroni over the smaller sizes).
 * Then, with a successful fit: improving when projectedGainFromDoubling >= minGainFromDoubling,
 * plateau otherwise. When the fit failed the reasons say 'insufficient' and the verdict falls back
 * to the last two sizes: improving when error(previous) - error(largest) has a lower bound above 0
 * and its per-doubling rate (mean / log2(n_largest / n_previous)) reaches minGainFromDoubling;
 * plateau otherwise.
 *
 * Intervals are Student t over seeds (with 3 seeds, df = 2: wide, and honest about it), not a
 * bootstrap: with a handful of seeds a bootstrap has only a few distinct resamples and its
 * percentile interval is far too narrow.
 */
export function learningCurveVerdict(input: LearningCurveVerdictInput): LearningCurveVerdict {
  const thresholds = resolveThresholds(input.thresholds);
  const { confidence, degradeMargin, minGainFromDoubling } = thresholds;
  const curveIn = input.curve;
  if (!Array.isArray(curveIn) || curveIn.length === 0) throw new RangeError('learningCurveVerdict: curve must be a non-empty array');
  curveIn.forEach((f, i) => {
    if (!(Number.isFinite(f.n) && f.n > 0)) throw new RangeError(`learningCurveVerdict: curve[${i}].n must be a finite number > 0, got ${f.n}`);
    if (!Array.isArray(f.errors) || f.errors.length === 0) throw new RangeError(`learningCurveVerdict: curve[${i}].errors must be a non-empty array`);
    f.errors.forEach((e, k) => checkFinite(`curve[${i}].errors[${k}]`, e));
  });
  const seenN = new Set<number>();
  for (const [i, f] of curveIn.entries()) {
    if (seenN.has(f.n)) throw new RangeError(`learningCurveVerdict: curve[${i}].n = ${f.n} appears twice; put every seed of a size in one errors array`);
    seenN.add(f.n);
  }
  const ablation = input.ablation ?? null;
  ablation?.forEach((s, k) => {
    checkFinite(`ablation[${k}].withNewest`, s.withNewest);
    checkFinite(`ablation[${k}].withoutNewest`, s.withoutNewest);
    s.slices?.forEach((sl, j) => {
      checkFinite(`ablation[${k}].slices[${j}].withNewest`, sl.withNewest);
      checkFinite(`ablation[${k}].slices[${j}].withoutNewest`, sl.withoutNewest);
    });
  });

  const curve = [...curveIn].sort((p, q) => p.n - q.n);
  const fit = input.fit ?? fitInversePowerLaw(curve.flatMap((f) => f.errors.map((error) => ({ n: f.n, error }))), input.fitOptions);

  const reasons: string[] = [];
  let degrading = false;

  // 1. Ablation of the newest batch.
  let ablationEvidence: IntervalEvidence | null = null;
  const sliceEvidence: LearningCurveVerdict['evidence']['ablationSlices'] = [];
  if (!ablation || ablation.length === 0) {
    reasons.push('no ablation of the newest batch was supplied');
  } else {
    const iv = pairedTInterval(
      ablation.map((s) => s.withNewest - s.withoutNewest),
      confidence,
    );
    const significant = iv !== null && iv.lower > degradeMargin;
    ablationEvidence = { difference: 'error(with newest batch) - error(without newest batch)', interval: iv, significant };
    if (!iv) reasons.push(`insufficient: ablation has ${ablation.length} seed; a paired interval needs at least 2`);
    else if (significant) {
      degrading = true;
      reasons.push(`the newest batch raises held-out error: with - without = ${fmtInterval(iv)}, lower bound above the margin ${degradeMargin}`);
    } else {
      reasons.push(`the newest batch does not significantly raise held-out error: with - without = ${fmtInterval(iv)}`);
    }
    // Slices present in every seed.
    const names = ablation.map((s) => new Set((s.slices ?? []).map((sl) => sl.slice)));
    const common = [...names[0]!].filter((nm) => names.every((set) => set.has(nm))).sort();
    if (common.length > 0) {
      const sliceConfidence = 1 - (1 - confidence) / common.length;
      for (const nm of common) {
        const diffs = ablation.map((s) => {
          const sl = s.slices!.find((v) => v.slice === nm)!;
          return sl.withNewest - sl.withoutNewest;
        });
        const siv = pairedTInterval(diffs, sliceConfidence);
        // The same difference in every seed (often one held-out row of a small slice flipping) gives a
        // zero-width interval: no evidence of spread, not certainty. Such a slice is left to the
        // row-level McNemar test, which counts the rows.
        const sig = siv !== null && siv.standardError > 0 && siv.lower > degradeMargin;
        sliceEvidence.push({ slice: nm, difference: `error(with newest) - error(without newest) in ${nm}`, interval: siv, significant: sig });
        if (sig) {
          degrading = true;
          reasons.push(`the newest batch raises error in slice ${nm}: ${fmtInterval(siv)} (Bonferroni over ${common.length} slices)`);
        }
      }
    }
  }

  // 2. Largest size against every smaller size.
  const largest = curve[curve.length - 1]!;
  const sizeEvidence: LearningCurveVerdict['evidence']['sizeComparisons'] = [];
  if (curve.length > 1) {
    const sizeConfidence = 1 - (1 - confidence) / (curve.length - 1);
    for (const f of curve.slice(0, -1)) {
      const iv = differenceInterval(largest.errors, f.errors, sizeConfidence);
      const sig = iv !== null && iv.lower > degradeMargin;
      sizeEvidence.push({ smallerN: f.n, largestN: largest.n, difference: `error(n=${largest.n}) - error(n=${f.n})`, interval: iv, significant: sig });
      if (sig) {
        degrading = true;
        reasons.push(`more data raised held-out error: error(n=${largest.n}) - error(n=${f.n}) = ${fmtInterval(iv!)} (Bonferroni over ${curve.length - 1} sizes)`);
      }
    }
  }

  // 3. Improving or plateau.
  let improving = false;
  let fallback: LearningCurveVerdict['evidence']['fallback'] = null;
  if (fit.ok) {
    const g = fit.projectedGainFromDoubling;
    const desc =
      `fit error = ${fmtNum(fit.a)} + ${fmtNum(fit.b)} n^-${fmtNum(fit.c)} (rmse ${fmtNum(fit.rmse)}): ` +
      `doubling to n=${2 * fit.nMax} is projected to lower error by ${fmtNum(g)} (se ${fmtNum(fit.projectedGainStandardError)}), ` +
      `${fmtNum(fit.asymptoteGap)} above the asymptote ${fmtNum(fit.a)}`;
    improving = g >= minGainFromDoubling;
    reasons.push(`${desc}; ${improving ? 'at least' : 'below'} the minimum gain ${minGainFromDoubling}`);
  } else {
    reasons.push(`insufficient: the learning curve could not be fitted (${fit.reason}: ${fit.detail}); falling back to the last two sizes`);
    if (curve.length < 2) {
      reasons.push('insufficient: only one training size, nothing to compare');
    } else {
      const prev = curve[curve.length - 2]!;
      const iv = differenceInterval(prev.errors, largest.errors, confidence);
      const doublings = Math.log2(largest.n / prev.n);
      const gainPerDoubling = iv ? iv.mean / doublings : NaN;
      const sig = iv !== null && iv.lower > 0;
      fallback = { previousN: prev.n, largestN: largest.n, difference: `error(n=${prev.n}) - error(n=${largest.n})`, interval: iv, significant: sig, gainPerDoubling };
      if (!iv) {
        reasons.push(`insufficient: fewer than 2 seeds at n=${prev.n} or n=${largest.n}`);
      } else {
        improving = sig && gainPerDoubling >= minGainFromDoubling;
        reasons.push(
          `last step n=${prev.n} -> ${largest.n}: error fell by ${fmtInterval(iv)}, ${fmtNum(gainPerDoubling)} per doubling; ` +
            (improving ? 'significant and at least' : sig ? 'significant but below' : 'not significant against') +
            ` the minimum gain ${minGainFromDoubling}`,
        );
      }
    }
  }

  const verdict: SaturationVerdict = degrading ? 'degrading' : improving ? 'improving' : 'plateau';
  return {
    verdict,
    reasons,
    thresholds,
    recommendation: RECOMMENDATIONS[verdict],
    evidence: { fit, ablation: ablationEvidence, ablationSlices: sliceEvidence, sizeComparisons: sizeEvidence, fallback },
  };
}

// ---------------------------------------------------------------------------------------------
// Does data go stale? Newest N vs oldest N
// ---------------------------------------------------------------------------------------------

/** Per seed: held-out error of the model trained on the newest N dated training examples and on the oldest N. */
export interface RecencySeed {
  seed: number;
  newest: number;
  oldest: number;
}

export interface RecencyEvidence {
  /** Training examples each side trained on (the same N both sides). */
  trainSize: number;
  perSeed: RecencySeed[];
  /** error(oldest N) - error(newest N), paired over seeds (Welch if the seeds differ): positive means newer data is worth more. */
  interval: IntervalEvidence;
  finding: 'newer_worth_more' | 'older_worth_more' | 'no_evidence';
  summary: string;
}

/**
 * The profile-decay question: is newer data worth more than older data of the same size? The paired t
 * interval over seeds of error(oldest N) - error(newest N), the same machinery as the ablation: newer
 * data is worth more when its lower bound is above 0, older when its upper bound is below 0; otherwise
 * there is no evidence that data goes stale. Null with fewer than two seeds on a side.
 */
export function recencyEvidence(perSeed: RecencySeed[], trainSize: number, confidence = DEFAULT_VERDICT_THRESHOLDS.confidence): RecencyEvidence | null {
  if (perSeed.length < 2) return null;
  for (const s of perSeed) {
    checkFinite('recency newest error', s.newest);
    checkFinite('recency oldest error', s.oldest);
  }
  const iv = differenceInterval(
    perSeed.map((s) => s.oldest),
    perSeed.map((s) => s.newest),
    confidence,
  );
  const newer = iv !== null && iv.lower > 0;
  const older = iv !== null && iv.upper < 0;
  const finding = newer ? 'newer_worth_more' : older ? 'older_worth_more' : 'no_evidence';
  const shown = iv ? fmtInterval(iv) : 'n/a (no variation over seeds)';
  const summary =
    finding === 'newer_worth_more'
      ? `newer data is worth more: trained on the newest ${trainSize} vs the oldest ${trainSize} examples, held-out error is lower by ${shown}: the old data has gone stale`
      : finding === 'older_worth_more'
        ? `older data is worth more: trained on the oldest ${trainSize} vs the newest ${trainSize} examples, held-out error is lower by ${fmtInterval({ ...iv!, mean: -iv!.mean, lower: -iv!.upper, upper: -iv!.lower })}: the newest data may be noisier or mislabelled`
        : `no evidence data goes stale: error(oldest ${trainSize}) - error(newest ${trainSize}) = ${shown}`;
  return { trainSize, perSeed, interval: { difference: 'error(oldest N) - error(newest N)', interval: iv, significant: newer }, finding, summary };
}
