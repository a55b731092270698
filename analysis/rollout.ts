/**
 * The rollout's arithmetic, pure: which version answers a request (sticky by request key), and how a
 * canary's analysis window is judged against the version it may replace, in the manner of Argo
 * Rollouts' analysis runs: each measurement is Successful, Failed or Inconclusive; failures beyond the
 * failure limit roll back at once; an inconclusive result pauses for a human instead of guessing. The
 * shadow window before any canary is judged the same way, on decisions instead of feedback: how often
 * the candidate, scoring silently, would have decided otherwise than the version that answered.
 *
 * No I/O, no clock: importable from workflows.
 */
import { newcombeDifference, wilsonInterval, type Interval } from './numerics/intervals';

/** FNV-1a of the key, mixed (murmur3 finaliser), as a fraction in [0, 1): the same key, the same bucket. */
export function stickyBucket(requestKey: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < requestKey.length; i++) h = Math.imul(h ^ requestKey.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** Canary when the key's bucket falls under the canary weight (0..1); otherwise production. */
export function routeFor(requestKey: string, canaryWeight: number): 'canary' | 'production' {
  if (!(canaryWeight >= 0 && canaryWeight <= 1)) throw new RangeError(`routeFor: canaryWeight must be in [0, 1], got ${canaryWeight}`);
  return stickyBucket(requestKey) < canaryWeight ? 'canary' : 'production';
}

export type CanaryMetric = 'override_rate' | 'report_rate';

export interface WindowCounts {
  /** Requests answered in the window. */
  requests: number;
  /** Requests with at least one event of the metric (override: ham rescued; report: missed spam). */
  events: Record<CanaryMetric, number>;
  /** The same per slice value ("attribute=value"). */
  slices?: Record<string, { requests: number; events: Record<CanaryMetric, number> }>;
}

export interface CanaryRule {
  metric: CanaryMetric;
  /** The canary may be worse than the baseline by at most this much (absolute rate). */
  maxIncrease: number;
  /** Below this many requests on either side the measurement is inconclusive. Default 200. */
  minRequests?: number;
  /** Judge every slice value with at least minRequests on both sides too (Bonferroni over them). Default true. */
  perSlice?: boolean;
}

export type MeasurementPhase = 'Successful' | 'Failed' | 'Inconclusive';

export interface Measurement {
  metric: CanaryMetric;
  slice: string;
  phase: MeasurementPhase;
  baseline: number | null;
  canary: number | null;
  /** canary − baseline with a Newcombe interval. */
  difference: { estimate: number | null; lower: number | null; upper: number | null };
  detail: string;
}

export interface WindowJudgement {
  phase: MeasurementPhase;
  measurements: Measurement[];
  reasons: string[];
}

function measure(metric: CanaryMetric, slice: string, base: { requests: number; events: Record<CanaryMetric, number> }, can: { requests: number; events: Record<CanaryMetric, number> }, rule: CanaryRule, confidence: number): Measurement {
  const min = rule.minRequests ?? 200;
  const rate = (c: { requests: number; events: Record<CanaryMetric, number> }) => (c.requests > 0 ? c.events[metric] / c.requests : null);
  const d = newcombeDifference(can.events[metric], can.requests, base.events[metric], base.requests, confidence);
  const out = { metric, slice, baseline: rate(base), canary: rate(can), difference: { estimate: d.estimate, lower: d.lower, upper: d.upper } };
  if (base.requests < min || can.requests < min) {
    return { ...out, phase: 'Inconclusive', detail: `${slice}: ${can.requests} canary and ${base.requests} baseline requests; ${min} needed on each side` };
  }
  const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  const text = `${slice}: ${metric} canary ${fmt(out.canary)} vs baseline ${fmt(out.baseline)}, difference ${fmt(d.estimate)} [${fmt(d.lower)}, ${fmt(d.upper)}]`;
  // Failed: surely worse than allowed. Successful: surely not. In between: not enough evidence either way.
  if (d.lower !== null && d.lower > rule.maxIncrease) return { ...out, phase: 'Failed', detail: `${text} > allowed +${rule.maxIncrease}` };
  if (d.upper !== null && d.upper <= rule.maxIncrease) return { ...out, phase: 'Successful', detail: `${text} within +${rule.maxIncrease}` };
  return { ...out, phase: 'Inconclusive', detail: `${text}: the interval straddles the allowed +${rule.maxIncrease}` };
}

/**
 * Judges one analysis window: every rule overall and (by default) per slice value with enough requests
 * on both sides, slices at the Bonferroni-adjusted confidence. Failed when any measurement failed;
 * Inconclusive when none failed but one overall measurement is inconclusive; Successful otherwise
 * (an inconclusive SLICE does not hold the rollout: thin slices are usual, and a failed one still stops it).
 */
export function judgeCanaryWindow(baseline: WindowCounts, canary: WindowCounts, rules: readonly CanaryRule[], confidence = 0.95): WindowJudgement {
  if (rules.length === 0) throw new RangeError('judgeCanaryWindow: at least one rule is needed');
  for (const [side, c] of [['baseline', baseline], ['canary', canary]] as const) {
    if (!(Number.isInteger(c.requests) && c.requests >= 0)) throw new RangeError(`judgeCanaryWindow: ${side}.requests must be a non-negative integer, got ${c.requests}`);
  }
  const measurements: Measurement[] = [];
  for (const rule of rules) {
    measurements.push(measure(rule.metric, 'overall', baseline, canary, rule, confidence));
    if (rule.perSlice === false) continue;
    const min = rule.minRequests ?? 200;
    const names = Object.keys(canary.slices ?? {})
      .filter((k) => (baseline.slices?.[k]?.requests ?? 0) >= min && canary.slices![k]!.requests >= min)
      .sort();
    const sliceConfidence = 1 - (1 - confidence) / Math.max(1, names.length);
    for (const k of names) measurements.push(measure(rule.metric, k, baseline.slices![k]!, canary.slices![k]!, rule, sliceConfidence));
  }
  const failed = measurements.filter((m) => m.phase === 'Failed');
  const inconclusive = measurements.filter((m) => m.phase === 'Inconclusive' && m.slice === 'overall');
  const phase: MeasurementPhase = failed.length ? 'Failed' : inconclusive.length ? 'Inconclusive' : 'Successful';
  const reasons = (failed.length ? failed : inconclusive).map((m) => m.detail);
  return { phase, measurements, reasons };
}

export interface AnalysisLimits {
  /** Failed windows tolerated before rolling back (Argo's failureLimit). Default 0. */
  failureLimit?: number;
  /** Inconclusive windows tolerated before pausing for a human (Argo's inconclusiveLimit). Default 0. */
  inconclusiveLimit?: number;
}

/** What the rollout does after a window: go on, roll back now, or pause for a human. */
export function nextRolloutAction(history: readonly MeasurementPhase[], limits: AnalysisLimits = {}): 'continue' | 'rollback' | 'pause' {
  const failures = history.filter((p) => p === 'Failed').length;
  const inconclusive = history.filter((p) => p === 'Inconclusive').length;
  if (failures > (limits.failureLimit ?? 0)) return 'rollback';
  if (inconclusive > (limits.inconclusiveLimit ?? 0)) return 'pause';
  return 'continue';
}

// ---------------------------------------------------------------------------------------------
// Shadow window: decisions compared

/** One shadowed request: the served version's decision and the shadow version's (1 = blocked). */
export interface ShadowDecisionRow {
  served: 0 | 1;
  shadow: 0 | 1;
  /** Slice attributes of the request (attribute → value). */
  slices: Record<string, string>;
}

/** The same, tallied: what the activity aggregates in SQL. */
export interface ShadowCell {
  requests: number;
  /** Served pass → shadow block: the candidate would have hidden mail the champion delivered. */
  newBlocks: number;
  /** Served block → shadow pass: the candidate would have delivered mail the champion blocked. */
  newPasses: number;
  /** Requests the served version blocked (the denominators of the conditional flip rates). */
  servedBlocks: number;
}
export interface ShadowCounts extends ShadowCell {
  /** Per slice value, "attribute=value". */
  slices: Record<string, ShadowCell>;
}

export interface ShadowRules {
  /** New blocks (served pass → shadow block) may be at most this share of the compared requests. Default 0.05. */
  maxNewBlockRate?: number;
  /** New passes (served block → shadow pass) may be at most this share of the compared requests. Default 0.10. */
  maxNewPassRate?: number;
  /** Fewer shadowed requests than this overall: Inconclusive. Default 100. */
  minRequests?: number;
  /** A slice value with fewer requests is reported 'insufficient' and not judged. Default 30. */
  minSupport?: number;
  /** Confidence of the overall intervals; slices get the Bonferroni-adjusted level. Default 0.95. */
  confidence?: number;
}
export const DEFAULT_SHADOW_RULES: Required<ShadowRules> = { maxNewBlockRate: 0.05, maxNewPassRate: 0.1, minRequests: 100, minSupport: 30, confidence: 0.95 };

export interface FlipStats {
  count: number;
  /** count / all requests, with a Wilson interval: what the limit is judged on. */
  rate: Interval;
  /** count / the served side it flips from (passes for new blocks, blocks for new passes): "of the mail the champion delivered, the candidate would block …". */
  ofServed: Interval;
}

export interface ShadowSliceComparison {
  slice: string;
  support: number;
  newBlocks: FlipStats;
  newPasses: FlipStats;
  /** 'insufficient': below minSupport, not judged (never silently passed). */
  phase: MeasurementPhase | 'insufficient';
  detail: string;
}

export interface ShadowComparison {
  phase: MeasurementPhase;
  reasons: string[];
  requests: number;
  /** Requests on which both versions decided alike, with a Wilson interval. */
  agreement: FlipStats['rate'] & { count: number };
  newBlocks: FlipStats;
  newPasses: FlipStats;
  /** Every slice value seen, sorted by name; judged ones at the Bonferroni-adjusted confidence. */
  slices: ShadowSliceComparison[];
  rules: Required<ShadowRules>;
}

const emptyCell = (): ShadowCell => ({ requests: 0, newBlocks: 0, newPasses: 0, servedBlocks: 0 });

/** Tallies shadowed requests overall and per slice value, in one pass. */
export function tallyShadowDecisions(rows: readonly ShadowDecisionRow[]): ShadowCounts {
  const total: ShadowCounts = { ...emptyCell(), slices: {} };
  for (const [i, r] of rows.entries()) {
    if ((r.served !== 0 && r.served !== 1) || (r.shadow !== 0 && r.shadow !== 1)) {
      throw new RangeError(`tallyShadowDecisions: rows[${i}] decisions must be 0 or 1, got served ${String(r.served)}, shadow ${String(r.shadow)}`);
    }
    const cells = [total, ...Object.entries(r.slices).map(([k, v]) => (total.slices[`${k}=${v}`] ??= emptyCell()))];
    for (const c of cells) {
      c.requests++;
      if (r.served === 1) c.servedBlocks++;
      if (r.served === 0 && r.shadow === 1) c.newBlocks++;
      if (r.served === 1 && r.shadow === 0) c.newPasses++;
    }
  }
  return total;
}

function flips(count: number, requests: number, servedSide: number, confidence: number): FlipStats {
  return { count, rate: wilsonInterval(count, requests, confidence), ofServed: wilsonInterval(count, servedSide, confidence) };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(2)}%`);
const flipText = (name: string, f: FlipStats) => `${name} ${f.count} (${pct(f.rate.estimate)} [${pct(f.rate.lower)}, ${pct(f.rate.upper)}])`;

/**
 * Judges counts of shadowed decisions, as a canary window is judged (no labels here: a flip is a change,
 * not an error, so the limits bound how much the candidate may change before feedback can judge it):
 * - Inconclusive below minRequests compared requests, whatever the numbers (as a canary window below its
 *   minimum; a single flipped request must not roll back, nor a handful pass);
 * - Failed when the candidate SURELY flips more than allowed in either direction: the Wilson lower bound of
 *   the flip rate (flips / compared requests) above its limit, overall or in any slice value with at least
 *   minSupport requests (slices at the Bonferroni-adjusted confidence, as judgeCanaryWindow does);
 * - Successful when both overall upper bounds are within the limits;
 * - Inconclusive otherwise (an overall interval straddles a limit). An inconclusive slice does not hold
 *   the rollout; a failed one stops it.
 * New blocks get the tighter default limit: mail hidden in the spam folder is rarely seen and reported,
 * so the canary's feedback is slow to catch it; missed spam is visible and reported.
 */
export function judgeShadowCounts(counts: ShadowCounts, rules: ShadowRules = {}): ShadowComparison {
  const r: Required<ShadowRules> = { ...DEFAULT_SHADOW_RULES, ...rules };
  for (const k of ['maxNewBlockRate', 'maxNewPassRate'] as const) {
    if (!(r[k] >= 0 && r[k] <= 1)) throw new RangeError(`judgeShadowCounts: ${k} must be in [0, 1], got ${r[k]}`);
  }
  for (const k of ['minRequests', 'minSupport'] as const) {
    if (!(Number.isInteger(r[k]) && r[k] >= 1)) throw new RangeError(`judgeShadowCounts: ${k} must be a positive integer, got ${r[k]}`);
  }
  const check = (where: string, c: ShadowCell) => {
    if (!(Number.isInteger(c.requests) && c.requests >= 0 && c.servedBlocks <= c.requests && c.newPasses <= c.servedBlocks && c.newBlocks <= c.requests - c.servedBlocks)) {
      throw new RangeError(`judgeShadowCounts: ${where} counts are inconsistent: ${JSON.stringify(c)}`);
    }
  };
  check('overall', counts);
  for (const [k, c] of Object.entries(counts.slices)) check(k, c);

  const stats = (c: ShadowCell, confidence: number) => ({
    newBlocks: flips(c.newBlocks, c.requests, c.requests - c.servedBlocks, confidence),
    newPasses: flips(c.newPasses, c.requests, c.servedBlocks, confidence),
  });
  /** Failed if a flip rate's lower bound exceeds its limit; Successful if both upper bounds are within; else Inconclusive. */
  const judge = (s: ReturnType<typeof stats>): { phase: MeasurementPhase; why: string } => {
    const over = [
      ...(s.newBlocks.rate.lower! > r.maxNewBlockRate ? [`new blocks above the allowed ${pct(r.maxNewBlockRate)}`] : []),
      ...(s.newPasses.rate.lower! > r.maxNewPassRate ? [`new passes above the allowed ${pct(r.maxNewPassRate)}`] : []),
    ];
    if (over.length) return { phase: 'Failed', why: over.join(' and ') };
    if (s.newBlocks.rate.upper! <= r.maxNewBlockRate && s.newPasses.rate.upper! <= r.maxNewPassRate) return { phase: 'Successful', why: 'within the limits' };
    return { phase: 'Inconclusive', why: `an interval straddles its limit (new blocks ≤ ${pct(r.maxNewBlockRate)}, new passes ≤ ${pct(r.maxNewPassRate)})` };
  };

  const overall = stats(counts, r.confidence);
  const names = Object.keys(counts.slices).sort();
  const judged = names.filter((k) => counts.slices[k]!.requests >= r.minSupport);
  const sliceConfidence = 1 - (1 - r.confidence) / Math.max(1, judged.length);
  const slices: ShadowSliceComparison[] = names.map((k) => {
    const c = counts.slices[k]!;
    if (c.requests < r.minSupport) {
      return { slice: k, support: c.requests, ...stats(c, r.confidence), phase: 'insufficient', detail: `${k}: ${c.requests} requests; ${r.minSupport} needed to judge a slice` };
    }
    const s = stats(c, sliceConfidence);
    const j = judge(s);
    return { slice: k, support: c.requests, ...s, phase: j.phase, detail: `${k}: ${flipText('new blocks', s.newBlocks)}, ${flipText('new passes', s.newPasses)} of ${c.requests}: ${j.why}` };
  });
  const agreeing = counts.requests - counts.newBlocks - counts.newPasses;
  const base = {
    requests: counts.requests,
    agreement: { count: agreeing, ...wilsonInterval(agreeing, counts.requests, r.confidence) },
    ...overall,
    slices,
    rules: r,
  };
  if (counts.requests < r.minRequests) {
    // Too little to judge either way, as a canary window below its minimum; slices that would fail are
    // named for the human who looks (they are not enough to roll back on their own here).
    const wouldFail = slices.filter((s) => s.phase === 'Failed').map((s) => `(not judged) ${s.detail}`);
    return { ...base, phase: 'Inconclusive', reasons: [`only ${counts.requests} shadowed requests compared; ${r.minRequests} needed`, ...wouldFail] };
  }
  const whole = judge(overall);
  const wholeDetail = `overall: ${flipText('new blocks', overall.newBlocks)}, ${flipText('new passes', overall.newPasses)} of ${counts.requests}, agreement ${pct(base.agreement.estimate)}: ${whole.why}`;
  const failedSlices = slices.filter((s) => s.phase === 'Failed');
  if (whole.phase === 'Failed' || failedSlices.length) {
    return { ...base, phase: 'Failed', reasons: [...(whole.phase === 'Failed' ? [wholeDetail] : []), ...failedSlices.map((s) => s.detail)] };
  }
  return { ...base, phase: whole.phase, reasons: [wholeDetail] };
}

/** Compares a shadow window's decisions (rows as the activity would load them): tally, then judgeShadowCounts. */
export function compareShadowDecisions(rows: readonly ShadowDecisionRow[], rules: ShadowRules = {}): ShadowComparison {
  return judgeShadowCounts(tallyShadowDecisions(rows), rules);
}
