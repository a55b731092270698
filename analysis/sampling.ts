/**
 * Sampling production traffic for annotation under a budget, with KNOWN inclusion probabilities,
 * and the Horvitz-Thompson estimate of a population mean (e.g. production accuracy) from the
 * labelled sample.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no Math.random (randomness comes
 * from analysis/random.ts's seeded Rng), so it is safe to import from Temporal workflow code.
 *
 * ## The design (stratified, fixed allocation; pi_i = n_h / N_h exactly)
 *
 * 1. Strata: the pool is partitioned into disjoint strata by a deterministic function of the pool
 *    and the plan (never of the seed), first match wins:
 *    a. `floor:<slice>=<value>` for each plan.sliceFloors entry, in plan order;
 *    b. `blocked:<slice>=<value>` items the model blocked (score >= threshold), one stratum per
 *       value of the FIRST slice attribute (just `blocked` when the pool has no slices);
 *    c. `uncertainty:0|1|2` the remaining items (score < threshold) nearest the threshold:
 *       d = threshold - score at most the 5%, 15% and 35% quantiles of d over those items;
 *    d. `remainder` everything else (including NaN scores).
 * 2. Allocation n_h (deterministic, sum n_h = budget exactly, n_h <= N_h), in this order:
 *    a. floors: min(min, N_h) to each floor stratum (their total must fit the budget);
 *    b. at least one unit to every non-empty stratum while budget lasts (so every pi_i > 0
 *       whenever budget >= number of non-empty strata);
 *    c. of what is left (B0): E = round(explorationShare * B0) in proportion to N_h over all strata
 *       (the "uniform over the pool" component, realised as proportional allocation);
 *    d. of the rest R = B0 - E: floor(blockedReviewShare * R) to the blocked strata in proportion
 *       to sqrt(N_h) (a compromise that lifts small slices); floor(uncertaintyShare * R) to the
 *       uncertainty bands with weights 0.5 / 0.3 / 0.2 (nearest first, so per-item rates fall with
 *       distance); floor(diversityShare * R) (only when features are given) in proportion to N_h
 *       over all strata; the rest to `remainder`;
 *    e. anything a component could not place (its strata full) is spread in proportion to spare
 *       capacity N_h - n_h over all strata.
 *    Every proportional step is largest-remainder rounding with caps, ties to the lower stratum id.
 * 3. Draw: within stratum h, n_h of the N_h members without replacement:
 *    - without features: simple random sampling (Floyd's algorithm), so pi_i = n_h / N_h;
 *    - with features: systematic sampling along a 1-D ordering of the stratum by a seeded random
 *      Gaussian projection of the sketch: step k = N_h / n_h, start u ~ U[0, k), take positions
 *      floor(u + j k), j < n_h. Since k >= 1 each position is hit at most once, and position p is
 *      hit iff u lands in a set of measure 1 modulo k, so pi_i = 1 / k = n_h / N_h for EVERY
 *      ordering (exact up to double rounding); the ordering only spreads the draws over the
 *      feature space (implicit stratification).
 * Hence pi_i = n_h / N_h for every candidate, computable for the whole pool without drawing
 * (inclusionProbabilities), and sum_i pi_i = sum_h n_h = budget.
 */
import { normalQuantile } from './numerics/distributions';
import { Rng } from './random';

export interface CandidatePool {
  n: number;
  /** Model score per candidate. */
  scores: Float64Array;
  /** Optional n × dims hashed feature sketch (row-major). */
  features?: { dims: number; values: Float32Array };
  slices: { name: string; codes: Uint32Array; values: string[] }[];
}

export interface SamplingPlan {
  budget: number;
  seed: number;
  /** Decision threshold: score >= threshold means blocked. */
  threshold: number;
  /** Default 0.10: allocated in proportion to stratum size (uniform over the pool). */
  explorationShare?: number;
  /** Default 0.5 of the rest: uncertainty bands near the threshold. */
  uncertaintyShare?: number;
  /** Long-tail quotas, e.g. slices the last evaluation found insufficient or untested. */
  sliceFloors?: { slice: string; value: string; min: number }[];
  /** Default 0.2 of the rest when features are given: spread over the feature space. */
  diversityShare?: number;
  /** Default 0.1 of the rest: review of items the model blocked, stratified by the first slice. */
  blockedReviewShare?: number;
}

/** One stratum of the design: its size N_h, sample size n_h and where n_h came from. */
export interface StratumSummary {
  name: string;
  size: number;
  sampled: number;
  /** Units of n_h by allocation step (sums to sampled). */
  allocation: { floor: number; minimum: number; exploration: number; blocked: number; uncertainty: number; diversity: number; remainder: number; spill: number };
}

export interface Sample {
  /** Pool indices, grouped by stratum (design order), ascending within a stratum. */
  index: Uint32Array;
  /** Name of the stratum that picked each item (see the module comment). */
  stratum: string[];
  /** pi_i = n_h / N_h of each drawn item. */
  inclusionProbability: Float64Array;
  /** Per-stratum N_h and n_h: what horvitzThompsonMean needs for the variance. */
  strata: StratumSummary[];
  /** Pool size N. */
  populationSize: number;
}

/** The deterministic part of the design (strata and allocation); reusable across seeds. */
export interface SamplingDesign {
  n: number;
  strata: StratumSummary[];
  /** Stratum id of every candidate. */
  stratumOf: Uint16Array;
  /** Candidates grouped by stratum (CSR): members[offsets[h] .. offsets[h+1]) ascending. */
  offsets: Uint32Array;
  members: Uint32Array;
  features?: { dims: number; values: Float32Array };
}

const DEFAULT_EXPLORATION = 0.1;
const DEFAULT_UNCERTAINTY = 0.5;
const DEFAULT_DIVERSITY = 0.2;
const DEFAULT_BLOCKED = 0.1;
/** Cumulative quantiles of the distance to the threshold bounding the uncertainty bands. */
const BAND_QUANTILES = [0.05, 0.15, 0.35];
/** Share of the uncertainty budget per band, nearest first. */
const BAND_WEIGHTS = [0.5, 0.3, 0.2];
const MAX_STRATA = 65535;

type Component = keyof StratumSummary['allocation'];

function share(value: number | undefined, fallback: number, field: string): number {
  const v = value ?? fallback;
  if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new RangeError(`sampling: plan.${field} must be in [0, 1], got ${v}`);
  return v;
}

function validatePool(pool: CandidatePool): void {
  const n = pool.n;
  if (!(Number.isSafeInteger(n) && n >= 0 && n < 2 ** 32)) throw new RangeError(`sampling: pool.n must be an integer in [0, 2^32), got ${n}`);
  if (pool.scores.length !== n) throw new RangeError(`sampling: pool.scores has ${pool.scores.length} entries, pool.n is ${n}`);
  for (const s of pool.slices) {
    if (s.codes.length !== n) throw new RangeError(`sampling: pool.slices[${s.name}].codes has ${s.codes.length} entries, pool.n is ${n}`);
  }
  if (pool.features) {
    const { dims, values } = pool.features;
    if (!(Number.isSafeInteger(dims) && dims >= 1)) throw new RangeError(`sampling: pool.features.dims must be a positive integer, got ${dims}`);
    if (values.length !== n * dims) throw new RangeError(`sampling: pool.features.values has ${values.length} entries, expected n × dims = ${n * dims}`);
  }
}

/**
 * Largest-remainder allocation of `amount` units over `targets` in proportion to weight(h), capped
 * by spare capacity size - alloc; repeats while units are left and some target has room (each
 * round places at least min(left, targets with room) units, so it terminates). Returns what could
 * not be placed.
 */
function allocate(
  amount: number,
  targets: number[],
  weight: (h: number) => number,
  strata: StratumSummary[],
  component: Component,
): number {
  let left = amount;
  while (left > 0) {
    const active = targets.filter((h) => strata[h]!.size > strata[h]!.sampled && weight(h) > 0);
    if (active.length === 0) break;
    let total = 0;
    for (const h of active) total += weight(h);
    const frac: { h: number; f: number }[] = [];
    let given = 0;
    for (const h of active) {
      const st = strata[h]!;
      const q = (left * weight(h)) / total;
      const room = st.size - st.sampled;
      const base = Math.min(Math.floor(q), room);
      st.sampled += base;
      st.allocation[component] += base;
      given += base;
      if (base < room) frac.push({ h, f: q - Math.floor(q) });
    }
    left -= given;
    // Largest fractional parts first; ties to the lower stratum id (stable, deterministic).
    frac.sort((a, b) => b.f - a.f || a.h - b.h);
    for (const { h } of frac) {
      if (left === 0) break;
      const st = strata[h]!;
      st.sampled += 1;
      st.allocation[component] += 1;
      left -= 1;
    }
  }
  return left;
}

/**
 * Strata and allocation for (pool, plan): everything about the design except the random draw.
 * Validates the plan; throws RangeError naming the offending field.
 */
export function buildDesign(pool: CandidatePool, plan: SamplingPlan): SamplingDesign {
  validatePool(pool);
  const n = pool.n;
  const budget = plan.budget;
  if (!(Number.isSafeInteger(budget) && budget >= 0)) throw new RangeError(`sampling: plan.budget must be a non-negative integer, got ${budget}`);
  if (budget > n) throw new RangeError(`sampling: plan.budget (${budget}) exceeds the pool size (${n})`);
  if (!Number.isSafeInteger(plan.seed)) throw new RangeError(`sampling: plan.seed must be a safe integer, got ${plan.seed}`);
  if (!Number.isFinite(plan.threshold)) throw new RangeError(`sampling: plan.threshold must be finite, got ${plan.threshold}`);
  const exploration = share(plan.explorationShare, DEFAULT_EXPLORATION, 'explorationShare');
  const uncertainty = share(plan.uncertaintyShare, DEFAULT_UNCERTAINTY, 'uncertaintyShare');
  const diversityShare = share(plan.diversityShare, DEFAULT_DIVERSITY, 'diversityShare');
  const diversity = pool.features ? diversityShare : 0; // no sketch: nothing to spread over
  const blocked = share(plan.blockedReviewShare, DEFAULT_BLOCKED, 'blockedReviewShare');
  if (uncertainty + diversity + blocked > 1 + 1e-12) {
    throw new RangeError(`sampling: plan.uncertaintyShare + plan.diversityShare + plan.blockedReviewShare must be <= 1, got ${uncertainty + diversity + blocked}`);
  }

  // Floors: (attribute index, code) pairs; a value absent from the attribute's dictionary gives an
  // empty stratum (floor capped at 0) rather than an error: it is simply not in the pool.
  const floors = plan.sliceFloors ?? [];
  const floorAttr = new Int32Array(floors.length);
  const floorCode = new Int32Array(floors.length);
  floors.forEach((f, j) => {
    const a = pool.slices.findIndex((s) => s.name === f.slice);
    if (a < 0) throw new RangeError(`sampling: plan.sliceFloors[${j}].slice '${f.slice}' is not a slice of the pool`);
    if (!(Number.isSafeInteger(f.min) && f.min >= 0)) throw new RangeError(`sampling: plan.sliceFloors[${j}].min must be a non-negative integer, got ${f.min}`);
    floorAttr[j] = a;
    floorCode[j] = pool.slices[a]!.values.indexOf(f.value);
  });

  const names: string[] = floors.map((f) => `floor:${f.slice}=${f.value}`);
  const blockedAttr = pool.slices[0];
  const blockedBase = names.length;
  if (blockedAttr) for (const v of blockedAttr.values) names.push(`blocked:${blockedAttr.name}=${v}`);
  else names.push('blocked');
  const bandBase = names.length;
  for (let b = 0; b < BAND_QUANTILES.length; b++) names.push(`uncertainty:${b}`);
  const remainderId = names.length;
  names.push('remainder');
  if (names.length > MAX_STRATA) throw new RangeError(`sampling: too many strata (${names.length}); the first slice has too many values`);

  // Pass 1: floors and blocked; mark the rest (UNASSIGNED) and collect their distances.
  const UNASSIGNED = 0xffff;
  const stratumOf = new Uint16Array(n);
  const scores = pool.scores;
  const threshold = plan.threshold;
  const blockedCodes = blockedAttr?.codes;
  const nBlockedValues = blockedAttr ? blockedAttr.values.length : 1;
  const attrCodes = pool.slices.map((s) => s.codes);
  let nOpen = 0;
  for (let i = 0; i < n; i++) {
    let h = UNASSIGNED;
    for (let j = 0; j < floors.length; j++) {
      if (attrCodes[floorAttr[j]!]![i] === floorCode[j]) {
        h = j;
        break;
      }
    }
    if (h === UNASSIGNED && scores[i]! >= threshold) {
      const c = blockedCodes ? blockedCodes[i]! : 0;
      if (c >= nBlockedValues) throw new RangeError(`sampling: pool.slices[${blockedAttr!.name}].codes[${i}] = ${c} is not a valid code`);
      h = blockedBase + c;
    }
    stratumOf[i] = h;
    if (h === UNASSIGNED) nOpen++;
  }
  // Band cut-offs: quantiles of d = threshold - score over the open items (a sorted typed-array
  // copy: native numeric sort, NaN last, so NaN scores never fall in a band).
  const dist = new Float64Array(nOpen);
  for (let i = 0, k = 0; i < n; i++) if (stratumOf[i] === UNASSIGNED) dist[k++] = threshold - scores[i]!;
  dist.sort();
  const cut = BAND_QUANTILES.map((q) => (nOpen === 0 ? -Infinity : dist[Math.max(0, Math.ceil(q * nOpen) - 1)]!));
  const nBands = cut.length;
  for (let i = 0; i < n; i++) {
    if (stratumOf[i] !== UNASSIGNED) continue;
    const d = threshold - scores[i]!;
    let h = remainderId;
    for (let b = 0; b < nBands; b++) {
      if (d <= cut[b]!) {
        h = bandBase + b;
        break;
      }
    }
    stratumOf[i] = h;
  }

  // CSR grouping by counting sort (ascending pool index within each stratum).
  const H = names.length;
  const offsets = new Uint32Array(H + 1);
  for (let i = 0; i < n; i++) offsets[stratumOf[i]! + 1]!++;
  for (let h = 0; h < H; h++) offsets[h + 1]! += offsets[h]!;
  const members = new Uint32Array(n);
  const cursor = offsets.slice(0, H);
  for (let i = 0; i < n; i++) members[cursor[stratumOf[i]!]!++] = i;

  const strata: StratumSummary[] = names.map((name, h) => ({
    name,
    size: offsets[h + 1]! - offsets[h]!,
    sampled: 0,
    allocation: { floor: 0, minimum: 0, exploration: 0, blocked: 0, uncertainty: 0, diversity: 0, remainder: 0, spill: 0 },
  }));

  // Allocation (module comment, step 2).
  let used = 0;
  floors.forEach((f, j) => {
    const st = strata[j]!;
    const give = Math.min(f.min, st.size);
    st.sampled = give;
    st.allocation.floor = give;
    used += give;
  });
  if (used > budget) throw new RangeError(`sampling: plan.sliceFloors need ${used} items (after capping by stratum size), more than plan.budget (${budget})`);
  for (const st of strata) {
    if (used >= budget) break;
    if (st.size > 0 && st.sampled === 0) {
      st.sampled = 1;
      st.allocation.minimum = 1;
      used++;
    }
  }
  const b0 = budget - used;
  const all = strata.map((_, h) => h);
  const size = (h: number): number => strata[h]!.size;
  const e = Math.round(exploration * b0);
  const rest = b0 - e;
  // Floors (not rounding) so the three never exceed `rest` together; `remainder` takes the slack.
  const nb = Math.floor(blocked * rest + 1e-9);
  const nu = Math.floor(uncertainty * rest + 1e-9);
  const nd = Math.floor(diversity * rest + 1e-9);
  const nr = Math.max(0, rest - nb - nu - nd);
  let spill = 0;
  spill += allocate(e, all, size, strata, 'exploration');
  const blockedIds = all.slice(blockedBase, blockedBase + (blockedAttr ? nBlockedValues : 1));
  spill += allocate(nb, blockedIds, (h) => Math.sqrt(size(h)), strata, 'blocked');
  const bandIds = all.slice(bandBase, bandBase + nBands);
  spill += allocate(nu, bandIds, (h) => BAND_WEIGHTS[h - bandBase]!, strata, 'uncertainty');
  spill += allocate(nd, all, size, strata, 'diversity');
  spill += allocate(nr, [remainderId], () => 1, strata, 'remainder');
  const lost = allocate(spill, all, (h) => strata[h]!.size - strata[h]!.sampled, strata, 'spill');
  if (lost !== 0) throw new Error(`sampling: internal error, ${lost} units of budget could not be placed`);

  return pool.features ? { n, strata, stratumOf, offsets, members, features: pool.features } : { n, strata, stratumOf, offsets, members };
}

/** pi_i = n_h / N_h for every candidate of the pool (module comment); sums to the budget. */
export function inclusionProbabilities(pool: CandidatePool, plan: SamplingPlan): Float64Array {
  return designInclusionProbabilities(buildDesign(pool, plan));
}

/** pi_i for every candidate of an already-built design. */
export function designInclusionProbabilities(design: SamplingDesign): Float64Array {
  const rate = design.strata.map((s) => (s.size === 0 ? 0 : s.sampled / s.size));
  const pi = new Float64Array(design.n);
  for (let i = 0; i < design.n; i++) pi[i] = rate[design.stratumOf[i]!]!;
  return pi;
}

/** Draw the sample for (pool, plan); deterministic per plan.seed. */
export function drawSample(pool: CandidatePool, plan: SamplingPlan): Sample {
  return drawFromDesign(buildDesign(pool, plan), plan.seed);
}

/**
 * One seeded draw from a built design (so simulations can redraw without rebuilding the strata).
 * Does not mutate the design.
 */
export function drawFromDesign(design: SamplingDesign, seed: number): Sample {
  const rng = new Rng(seed);
  const { strata, offsets } = design;
  const budget = strata.reduce((s, st) => s + st.sampled, 0);
  const index = new Uint32Array(budget);
  const stratum: string[] = new Array<string>(budget);
  const pi = new Float64Array(budget);
  const ordered = design.features ? projectionOrder(design, rng) : design.members;
  let out = 0;
  for (let h = 0; h < strata.length; h++) {
    const st = strata[h]!;
    const N = st.size;
    const m = st.sampled;
    if (m === 0) continue;
    const base = offsets[h]!;
    const start = out;
    if (m === N) {
      for (let p = 0; p < N; p++) index[out++] = ordered[base + p]!;
    } else if (design.features) {
      // Systematic along the projection order: positions floor(u + j k), k = N / m >= 1.
      const k = N / m;
      const u = rng.next() * k;
      for (let j = 0; j < m; j++) {
        const p = Math.min(N - 1, Math.floor(u + j * k)); // min: guards double rounding at the top
        index[out++] = ordered[base + p]!;
      }
    } else {
      // Floyd's algorithm: a uniform m-subset of positions in O(m) draws and memory.
      const chosen = new Set<number>();
      for (let t = N - m; t < N; t++) {
        const r = rng.nextInt(t + 1);
        chosen.add(chosen.has(r) ? t : r);
      }
      for (const p of chosen) index[out++] = ordered[base + p]!;
    }
    index.subarray(start, out).sort();
    const rate = m / N;
    for (let t = start; t < out; t++) {
      stratum[t] = st.name;
      pi[t] = rate;
    }
  }
  return {
    index,
    stratum,
    inclusionProbability: pi,
    strata: strata.map((s) => ({ ...s, allocation: { ...s.allocation } })),
    populationSize: design.n,
  };
}

/**
 * Members grouped by stratum as in design.members, but ordered within each stratum by a seeded
 * random Gaussian projection of the sketch. Argsort without a comparator: each key packs the
 * projection quantised to (53 - indexBits) bits above the pool index, so one native Float64Array
 * sort orders them (ties in the quantised value broken by index, which only affects the
 * ordering, never pi). A stable counting pass then regroups by stratum.
 */
function projectionOrder(design: SamplingDesign, rng: Rng): Uint32Array {
  const { n, stratumOf, offsets } = design;
  const { dims, values } = design.features!;
  const w = new Float64Array(dims);
  for (let d = 0; d < dims; d++) {
    // Box-Muller: an isotropic direction, so no hashed coordinate is favoured.
    const u1 = 1 - rng.next();
    w[d] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng.next());
  }
  const proj = new Float64Array(n);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0, o = 0; i < n; i++, o += dims) {
    let s = 0;
    for (let d = 0; d < dims; d++) s += w[d]! * values[o + d]!;
    if (!Number.isFinite(s)) s = 0; // a corrupt sketch row still gets a place in the order
    proj[i] = s;
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
  const scale = 2 ** indexBits;
  const levels = 2 ** (53 - indexBits) - 1;
  const span = hi > lo ? hi - lo : 1;
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = Math.floor(((proj[i]! - lo) / span) * levels) * scale + i;
  keys.sort();
  const ordered = new Uint32Array(n);
  const cursor = offsets.slice(0, offsets.length - 1);
  for (let r = 0; r < n; r++) {
    const i = keys[r]! % scale;
    ordered[cursor[stratumOf[i]!]!++] = i;
  }
  return ordered;
}

export interface HorvitzThompsonEstimate {
  /** (1/N) sum_i y_i / pi_i over the sample. */
  estimate: number;
  /** Estimated variance of the estimate (stratified SRS with finite-population correction). */
  variance: number;
  standardError: number;
  /** Normal interval estimate ± z se; clipped to [0, 1] when every y is in [0, 1]. */
  lower: number;
  upper: number;
  /** Labelled items used. */
  n: number;
  /** Population size N the mean is over. */
  populationSize: number;
  /** Candidates in strata with n_h = 0 (pi = 0): not covered by the estimate; 0 in any sane plan. */
  uncovered: number;
}

/**
 * Horvitz-Thompson estimate of the population mean of y (e.g. production accuracy with y_i = 1
 * when the model was right on labelled item i) from a stratified sample drawn by drawSample.
 *
 * @param y value per SAMPLED item, aligned with sample.index (length = sample.index.length).
 * @param sample the Sample (its `strata` give N_h and n_h for the variance).
 * @param populationSize N, the pool size (default sample.populationSize).
 * @param confidence two-sided level of the normal interval (default 0.95).
 *
 * Estimate: (1/N) sum_i y_i / pi_i = sum_h (N_h / N) ybar_h, unbiased whenever every candidate has
 * pi > 0. Variance: sum_h (N_h/N)^2 (1 - n_h/N_h) s_h^2 / n_h, the exact unbiased estimator under
 * stratified SRS; under the systematic within-stratum draw (features given) it is the usual
 * approximation (typically conservative, the ordering acting as implicit stratification). A
 * stratum with n_h = 1 has no s_h^2: 1/4 is used when y is in [0, 1] (the largest possible
 * variance of such a variable), otherwise the largest s_h^2 of the other strata.
 */
export function horvitzThompsonMean(
  y: ArrayLike<number>,
  sample: Sample,
  populationSize: number = sample.populationSize,
  confidence = 0.95,
): HorvitzThompsonEstimate {
  const m = sample.index.length;
  if (y.length !== m) throw new RangeError(`horvitzThompsonMean: y has ${y.length} values, the sample has ${m} items`);
  if (!(populationSize > 0)) throw new RangeError(`horvitzThompsonMean: populationSize must be > 0, got ${populationSize}`);
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`horvitzThompsonMean: confidence must be in (0, 1), got ${confidence}`);
  const id = new Map<string, number>();
  sample.strata.forEach((s, h) => id.set(s.name, h));
  const H = sample.strata.length;
  const sum = new Float64Array(H);
  const sumSq = new Float64Array(H);
  const count = new Float64Array(H);
  let total = 0;
  let unit = true;
  for (let t = 0; t < m; t++) {
    const v = y[t]!;
    if (!Number.isFinite(v)) throw new RangeError(`horvitzThompsonMean: y[${t}] must be finite, got ${v}`);
    if (v < 0 || v > 1) unit = false;
    const h = id.get(sample.stratum[t]!);
    if (h === undefined) throw new RangeError(`horvitzThompsonMean: sample.stratum[${t}] '${sample.stratum[t]}' is not in sample.strata`);
    total += v / sample.inclusionProbability[t]!;
    sum[h]! += v;
    sumSq[h]! += v * v;
    count[h]! += 1;
  }
  const estimate = total / populationSize;
  // Within-stratum sample variances (two-pass would be more accurate; y here is 0/1 or bounded,
  // where the one-pass form loses nothing measurable at these n).
  const s2 = new Float64Array(H).fill(NaN);
  let maxS2 = 0;
  for (let h = 0; h < H; h++) {
    const k = count[h]!;
    if (k >= 2) {
      const mean = sum[h]! / k;
      s2[h] = Math.max(0, (sumSq[h]! - k * mean * mean) / (k - 1));
      if (s2[h]! > maxS2) maxS2 = s2[h]!;
    }
  }
  let variance = 0;
  let uncovered = 0;
  for (let h = 0; h < H; h++) {
    const st = sample.strata[h]!;
    if (st.sampled !== count[h]) throw new RangeError(`horvitzThompsonMean: stratum '${st.name}' should have ${st.sampled} sampled items, y covers ${count[h]}`);
    if (st.sampled === 0) {
      uncovered += st.size;
      continue;
    }
    if (st.sampled === st.size) continue; // censused: no sampling variance
    const v = count[h]! >= 2 ? s2[h]! : unit ? 0.25 : maxS2;
    const wh = st.size / populationSize;
    variance += wh * wh * (1 - st.sampled / st.size) * (v / st.sampled);
  }
  const se = Math.sqrt(variance);
  const z = normalQuantile(1 - (1 - confidence) / 2);
  let lower = estimate - z * se;
  let upper = estimate + z * se;
  if (unit) {
    lower = Math.min(1, Math.max(0, lower));
    upper = Math.min(1, Math.max(0, upper));
  }
  return { estimate, variance, standardError: se, lower, upper, n: m, populationSize, uncovered };
}
