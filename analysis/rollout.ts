/**
 * The rollout's arithmetic, pure: which version answers a request (sticky by request key), and how a
 * canary's analysis window is judged against the version it may replace, in the manner of Argo
 * Rollouts' analysis runs: each measurement is Successful, Failed or Inconclusive; failures beyond the
 * failure limit roll back at once; an inconclusive result pauses for a human instead of guessing.
 *
 * No I/O, no clock: importable from workflows.
 */
import { newcombeDifference } from './drift';

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
