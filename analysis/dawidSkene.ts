/**
 * Label aggregation: majority vote and Dawid-Skene EM, over the long LabelTable of ./agreement.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code.
 *
 * dawidSkene reproduces crowd-kit 1.4.2 `crowdkit.aggregation.DawidSkene(n_iter, tol)` step for step
 * (see the comments below and test/fixtures/generate_agreement_oracles.py), so its labels agree with
 * crowd-kit and its posteriors to rounding. It works on the long arrays directly: the E-step and
 * M-step are one pass each over the label rows with an inner loop over the K classes (the bound reuses the M-step sums),
 * and all state lives in flat Float64Arrays: 1M labels (200k items x 5 annotators, 2 classes)
 * take ~1.5 s for 52 iterations on one core, with no per-item objects allocated.
 */
import type { LabelTable } from './agreement';

export interface Aggregation {
  /** Aggregated category code per item code. */
  labels: Uint32Array;
  /** Row-major items × categories; row i is the distribution of item i's true label. */
  posteriors: Float64Array;
}

export interface DawidSkeneResult extends Aggregation {
  /**
   * Row-major annotators × K × K: confusion[(a*K + trueClass)*K + observed] = P(annotator a says
   * `observed` | true class). Entries for labels the annotator never gave are 0 (crowd-kit has no
   * row for them).
   */
  confusion: Float64Array;
  /** Class priors (mean posterior), clipped below at 1e-10 as crowd-kit leaves them. */
  priors: Float64Array;
  /** EM iterations run (= crowd-kit's len(loss_history_)). */
  iterations: number;
  /** True when the bound improved by less than `tolerance` before maxIterations. */
  converged: boolean;
  /** Evidence lower bound per label after each iteration (crowd-kit's loss_history_). */
  lossHistory: number[];
}

/** Most probable category per item; ties go to the lowest code (pandas idxmax over sorted columns). */
function argmaxRows(post: Float64Array, I: number, K: number): Uint32Array {
  const labels = new Uint32Array(I);
  for (let i = 0; i < I; i++) {
    let best = 0;
    let bestP = post[i * K]!;
    for (let k = 1; k < K; k++) {
      const p = post[i * K + k]!;
      if (p > bestP) {
        best = k;
        bestP = p;
      }
    }
    labels[i] = best;
  }
  return labels;
}

/**
 * Majority vote: posterior = share of the item's labels in each category, label = most voted
 * category with ties to the lowest code. Matches crowd-kit MajorityVote (no skills).
 */
export function majorityVote(t: LabelTable): Aggregation {
  const I = t.items.length;
  const K = t.categories.length;
  const post = new Float64Array(I * K);
  const total = new Float64Array(I);
  for (let r = 0; r < t.item.length; r++) {
    post[t.item[r]! * K + t.label[r]!]!++;
    total[t.item[r]!]!++;
  }
  for (let i = 0; i < I; i++) {
    const n = total[i]!;
    if (n > 0) for (let k = 0; k < K; k++) post[i * K + k]! /= n;
  }
  return { labels: argmaxRows(post, I, K), posteriors: post };
}

/** crowd-kit's _EPS: floor for error-matrix entries, priors and (in the bound) posteriors. */
const EPS = 1e-10;

/**
 * Dawid-Skene EM (Dawid & Skene 1979), as crowd-kit's DawidSkene.fit without gold or initial errors:
 *
 *  1. posteriors = majority-vote shares; priors = their column means; errors = M-step.
 *  2. Repeat up to maxIterations: E-step; priors = mean posterior; M-step; bound = ELBO / #labels;
 *     stop when bound - previous bound < tolerance (the first iteration compares with -Infinity).
 *
 *  M-step: err[a][obs][c] = sum of posterior[item][c] over a's labels equal to obs, floored at 1e-10,
 *    then divided by its sum over obs. Only (a, obs) pairs that occur are rows in crowd-kit (a
 *    groupby), so only they are floored and summed; we keep an "observed" mask to do the same.
 *  E-step: log2 posterior ∝ log2(max(prior, 1e-10)) + sum over the item's labels of
 *    log2 err[a][obs][·]; rows shifted by their max before exp2 and normalised.
 *  Bound: sum over labels and classes of posterior × (ln err + ln prior) — crowd-kit adds the prior
 *    once per label, not once per item, and we follow it since it decides the stopping step —
 *    plus the entropy of the posteriors floored at 1e-10. crowd-kit floors the posterior frame in
 *    place there, so the returned posteriors are floored too (not renormalised); we do the same.
 */
export function dawidSkene(
  t: LabelTable,
  opts: { maxIterations?: number; tolerance?: number } = {},
): DawidSkeneResult {
  const maxIterations = opts.maxIterations ?? 100;
  const tolerance = opts.tolerance ?? 1e-5;
  const I = t.items.length;
  const K = t.categories.length;
  const A = t.annotators.length;
  const N = t.item.length;
  const { item, annotator, label } = t;

  // Row -> (annotator, observed label) cell, so the hot loops index one flat array.
  const cellOf = new Uint32Array(N);
  const observed = new Uint8Array(A * K);
  for (let r = 0; r < N; r++) {
    const cell = annotator[r]! * K + label[r]!;
    cellOf[r] = cell;
    observed[cell] = 1;
  }

  // Two posterior buffers swapped each iteration, so the loop allocates nothing.
  let post: Float64Array = majorityVote(t).posteriors;
  let spare: Float64Array = new Float64Array(I * K);
  const priors = new Float64Array(K);
  // err[(a*K + obs)*K + c]: the K true-class values of one (annotator, observed) cell are contiguous.
  const err = new Float64Array(A * K * K);
  // Unfloored, unnormalised M-step sums: sum of posterior[item][c] over the rows of a cell.
  const raw = new Float64Array(A * K * K);
  const colSum = new Float64Array(A * K);
  const logTerm = new Float64Array(A * K * K);

  const lossHistory: number[] = [];
  let converged = false;
  if (N > 0) {
    meanPriors(post, priors, I, K);
    mStep(post, raw, err, colSum, observed, cellOf, item, A, K);
    let loss = -Infinity;
    for (let it = 0; it < maxIterations; it++) {
      eStep(spare, priors, err, logTerm, cellOf, item, I, K);
      [post, spare] = [spare, post];
      meanPriors(post, priors, I, K);
      mStep(post, raw, err, colSum, observed, cellOf, item, A, K);
      const next = boundPerLabel(post, priors, raw, err, N, K);
      lossHistory.push(next);
      if (next - loss < tolerance) {
        converged = true;
        break;
      }
      loss = next;
    }
  }

  // Transpose to the public layout: row = true class, column = observed label.
  const confusion = new Float64Array(A * K * K);
  for (let a = 0; a < A; a++) {
    for (let obs = 0; obs < K; obs++) {
      if (!observed[a * K + obs]) continue;
      for (let c = 0; c < K; c++) confusion[(a * K + c) * K + obs] = err[(a * K + obs) * K + c]!;
    }
  }
  return {
    labels: argmaxRows(post, I, K),
    posteriors: post,
    confusion,
    priors,
    iterations: lossHistory.length,
    converged,
    lossHistory,
  };
}

// The EM steps are top-level functions over typed-array arguments (not closures over the
// reassigned posterior buffer) because V8 optimises those loops far better: ~2.5x on 1M labels.

function meanPriors(post: Float64Array, priors: Float64Array, I: number, K: number): void {
  priors.fill(0);
  for (let i = 0; i < I; i++) for (let c = 0; c < K; c++) priors[c]! += post[i * K + c]!;
  for (let c = 0; c < K; c++) priors[c]! /= I;
}

function mStep(
  post: Float64Array,
  raw: Float64Array,
  err: Float64Array,
  colSum: Float64Array,
  observed: Uint8Array,
  cellOf: Uint32Array,
  item: Uint32Array,
  A: number,
  K: number,
): void {
  raw.fill(0);
  const N = cellOf.length;
  for (let r = 0; r < N; r++) {
    const e = cellOf[r]! * K;
    const p = item[r]! * K;
    for (let c = 0; c < K; c++) raw[e + c]! += post[p + c]!;
  }
  err.set(raw);
  colSum.fill(0);
  for (let a = 0; a < A; a++) {
    for (let obs = 0; obs < K; obs++) {
      if (!observed[a * K + obs]) continue;
      const e = (a * K + obs) * K;
      for (let c = 0; c < K; c++) {
        if (err[e + c]! < EPS) err[e + c] = EPS;
        colSum[a * K + c]! += err[e + c]!;
      }
    }
  }
  for (let a = 0; a < A; a++) {
    for (let obs = 0; obs < K; obs++) {
      if (!observed[a * K + obs]) continue;
      const e = (a * K + obs) * K;
      for (let c = 0; c < K; c++) err[e + c]! /= colSum[a * K + c]!;
    }
  }
}

/** Writes the new posteriors into `next` (every entry is overwritten). */
function eStep(
  next: Float64Array,
  priors: Float64Array,
  err: Float64Array,
  logTerm: Float64Array,
  cellOf: Uint32Array,
  item: Uint32Array,
  I: number,
  K: number,
): void {
  // log2 of the priors once per class, not once per item (transcendentals dominate the cost).
  const logPrior = new Float64Array(K);
  for (let c = 0; c < K; c++) {
    if (priors[c]! < EPS) priors[c] = EPS;
    logPrior[c] = Math.log2(priors[c]!);
  }
  for (let i = 0; i < I; i++) for (let c = 0; c < K; c++) next[i * K + c] = logPrior[c]!;
  for (let j = 0; j < err.length; j++) logTerm[j] = err[j]! > 0 ? Math.log2(err[j]!) : 0;
  const N = cellOf.length;
  for (let r = 0; r < N; r++) {
    const e = cellOf[r]! * K;
    const p = item[r]! * K;
    for (let c = 0; c < K; c++) next[p + c]! += logTerm[e + c]!;
  }
  for (let i = 0; i < I; i++) {
    const p = i * K;
    let max = -Infinity;
    for (let c = 0; c < K; c++) if (next[p + c]! > max) max = next[p + c]!;
    let sum = 0;
    for (let c = 0; c < K; c++) {
      const v = Math.exp((next[p + c]! - max) * Math.LN2); // = 2^x; exp is ~3x faster than pow in V8
      next[p + c] = v;
      sum += v;
    }
    for (let c = 0; c < K; c++) next[p + c]! /= sum;
  }
}

/**
 * ELBO per label; floors priors and posteriors at 1e-10 in place, as crowd-kit does.
 * The joint term sum over rows r, classes c of post[item(r)][c] * (ln err[cell(r)][c] + ln prior[c])
 * is regrouped by cell: sum over cells, c of raw[cell][c] * (...), where raw is the M-step's sum of
 * the same (unfloored) posteriors over the cell's rows. Same value up to summation order, and it
 * saves a full pass over the rows per iteration.
 */
function boundPerLabel(
  post: Float64Array,
  priors: Float64Array,
  raw: Float64Array,
  err: Float64Array,
  N: number,
  K: number,
): number {
  for (let c = 0; c < K; c++) if (priors[c]! < EPS) priors[c] = EPS;
  let joint = 0;
  for (let j = 0; j < err.length; j++) {
    if (err[j]! > 0) joint += raw[j]! * (Math.log(err[j]!) + Math.log(priors[j % K]!));
  }
  let entropy = 0;
  for (let j = 0; j < post.length; j++) {
    if (post[j]! < EPS) post[j] = EPS;
    entropy -= Math.log(post[j]!) * post[j]!;
  }
  return (joint + entropy) / N;
}
