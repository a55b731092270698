/**
 * The walking skeleton's simple promotion gate: absolute FPR bounds (overall and worst slice),
 * slice support, and no accuracy regression against the champion.
 *
 * Pure and deterministic: no I/O, no Node built-ins, no clock, no randomness, so it is safe to
 * import from Temporal workflow code. (zod is pure and bundle-safe.)
 */
import { z } from 'zod';
import type { EvaluationSummary, SliceMetrics } from './metrics';

export interface SimpleGatePolicy {
  /** the candidate's overall FPR upper Wilson bound must be <= this */
  maxOverallFpr: number;
  /** worst slice FPR (point estimate, among slices with negatives >= minSliceSupport) must be <= this */
  maxSliceFpr: number;
  /** slices with fewer negatives are reported 'insufficient' for the FPR rule, never passed silently */
  minSliceSupport: number;
  /** candidate accuracy may not fall below champion accuracy by more than this (point estimates), else fail */
  maxAccuracyRegression: number;
  /** 'on_warning': ask a human when any rule warns or is insufficient */
  requireHumanApproval: 'always' | 'on_warning' | 'never';
  /** a worst-slice FPR within this margin below the bound is a warning (needs a human under on_warning) */
  sliceFprWarnMargin: number;
}

export const defaultSimpleGatePolicy: SimpleGatePolicy = Object.freeze({
  maxOverallFpr: 0.05,
  maxSliceFpr: 0.1,
  minSliceSupport: 20,
  maxAccuracyRegression: 0.01,
  requireHumanApproval: 'always',
  sliceFprWarnMargin: 0.02,
});

const proportion = z.number().min(0).max(1);

/** Parses a SimpleGatePolicy at the edge (API, CLI, config); unknown keys are rejected. */
export const simpleGatePolicySchema = z.strictObject({
  maxOverallFpr: proportion,
  maxSliceFpr: proportion,
  minSliceSupport: z.number().int().min(1),
  maxAccuracyRegression: proportion,
  requireHumanApproval: z.enum(['always', 'on_warning', 'never']),
  sliceFprWarnMargin: proportion,
});

// Compile-time check that the schema and the interface describe the same shape.
type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const schemaMatchesInterface: Equals<z.infer<typeof simpleGatePolicySchema>, SimpleGatePolicy> = true;
void schemaMatchesInterface;

export type RuleOutcome = 'passed' | 'failed' | 'insufficient' | 'warning';

export interface GateRuleResult {
  rule: string;
  outcome: RuleOutcome;
  observed: number | null;
  bound: number;
  detail: string;
}

export type GateDecision = 'passed' | 'failed' | 'needs_approval';

export interface GateEvaluation {
  decision: GateDecision;
  rules: GateRuleResult[];
  reasons: string[];
}

/** Absorbs float noise such as 0.9 - 0.89 = 0.01000000000000001 when comparing to a bound. */
const EPS = 1e-12;
const atMost = (observed: number, bound: number): boolean => observed <= bound + EPS;

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(4));
const sliceName = (s: SliceMetrics): string => `${s.attribute}=${s.value}`;

function overallFprRule(policy: SimpleGatePolicy, candidate: EvaluationSummary): GateRuleResult {
  const { fpr, counts, negatives } = candidate.overall;
  const bound = policy.maxOverallFpr;
  if (fpr.upper === null) {
    return { rule: 'overall_fpr', outcome: 'insufficient', observed: null, bound, detail: 'no negatives in the evaluation set; overall FPR cannot be estimated' };
  }
  const ok = atMost(fpr.upper, bound);
  return {
    rule: 'overall_fpr',
    outcome: ok ? 'passed' : 'failed',
    observed: fpr.upper,
    bound,
    detail: `overall FPR ${fmt(fpr.estimate!)} (${counts.fp}/${negatives}), upper Wilson bound ${fmt(fpr.upper)} ${ok ? '<=' : '>'} ${fmt(bound)}`,
  };
}

function worstSliceFprRule(policy: SimpleGatePolicy, candidate: EvaluationSummary): GateRuleResult {
  const bound = policy.maxSliceFpr;
  let worst: SliceMetrics | null = null;
  for (const s of candidate.slices) {
    if (s.metrics.negatives < policy.minSliceSupport || s.metrics.fpr.estimate === null) continue;
    if (worst === null || s.metrics.fpr.estimate > worst.metrics.fpr.estimate!) worst = s;
  }
  if (worst === null) {
    const detail =
      candidate.slices.length === 0
        ? 'no slices were evaluated; worst slice FPR cannot be checked'
        : `no slice has at least ${policy.minSliceSupport} negatives; worst slice FPR cannot be checked`;
    return { rule: 'worst_slice_fpr', outcome: 'insufficient', observed: null, bound, detail };
  }
  const observed = worst.metrics.fpr.estimate!;
  const where = `worst slice ${sliceName(worst)} FPR ${fmt(observed)} (${worst.metrics.counts.fp}/${worst.metrics.negatives})`;
  if (!atMost(observed, bound)) {
    return { rule: 'worst_slice_fpr', outcome: 'failed', observed, bound, detail: `${where} > ${fmt(bound)}` };
  }
  if (observed >= bound - policy.sliceFprWarnMargin - EPS && policy.sliceFprWarnMargin > 0) {
    return {
      rule: 'worst_slice_fpr',
      outcome: 'warning',
      observed,
      bound,
      detail: `${where} is within ${fmt(policy.sliceFprWarnMargin)} of the bound ${fmt(bound)}`,
    };
  }
  return { rule: 'worst_slice_fpr', outcome: 'passed', observed, bound, detail: `${where} <= ${fmt(bound)}` };
}

function sliceSupportRule(policy: SimpleGatePolicy, candidate: EvaluationSummary): GateRuleResult {
  const bound = policy.minSliceSupport;
  const small = candidate.slices.filter((s) => s.metrics.negatives < bound);
  const observed = candidate.slices.length === 0 ? null : Math.min(...candidate.slices.map((s) => s.metrics.negatives));
  if (small.length === 0) {
    const detail =
      candidate.slices.length === 0 ? 'no slices were evaluated' : `all ${candidate.slices.length} slices have at least ${bound} negatives`;
    return { rule: 'slice_support', outcome: 'passed', observed, bound, detail };
  }
  const list = small.map((s) => `${sliceName(s)} (${s.metrics.negatives} negatives)`).join(', ');
  return {
    rule: 'slice_support',
    outcome: 'insufficient',
    observed,
    bound,
    detail: `${small.length} slice(s) below ${bound} negatives, excluded from the slice FPR rule: ${list}`,
  };
}

function noRegressionRule(policy: SimpleGatePolicy, candidate: EvaluationSummary, champion: EvaluationSummary | null): GateRuleResult {
  const bound = policy.maxAccuracyRegression;
  if (champion === null) {
    return { rule: 'no_regression_vs_champion', outcome: 'passed', observed: null, bound, detail: 'no champion' };
  }
  const cand = candidate.overall.accuracy.estimate;
  const champ = champion.overall.accuracy.estimate;
  if (cand === null || champ === null) {
    return {
      rule: 'no_regression_vs_champion',
      outcome: 'insufficient',
      observed: null,
      bound,
      detail: `accuracy cannot be compared: ${cand === null ? 'candidate' : 'champion'} evaluation set is empty`,
    };
  }
  const regression = champ - cand; // positive = candidate is worse
  const ok = atMost(regression, bound);
  return {
    rule: 'no_regression_vs_champion',
    outcome: ok ? 'passed' : 'failed',
    observed: regression,
    bound,
    detail: `candidate accuracy ${fmt(cand)} vs champion ${fmt(champ)}: drop ${fmt(regression)} ${ok ? '<=' : '>'} allowed ${fmt(bound)}`,
  };
}

/**
 * Evaluates the simple gate. Decision: any failed rule → 'failed'; otherwise 'needs_approval'
 * when the policy says 'always', or 'on_warning' and some rule warned or was insufficient;
 * otherwise 'passed'. `reasons` has one line per non-passed rule, plus
 * 'policy requires human approval' when approval is needed only because the policy is 'always'.
 */
export function evaluateSimpleGate(
  policy: SimpleGatePolicy,
  candidate: EvaluationSummary,
  champion: EvaluationSummary | null,
): GateEvaluation {
  const rules: GateRuleResult[] = [
    overallFprRule(policy, candidate),
    worstSliceFprRule(policy, candidate),
    sliceSupportRule(policy, candidate),
    noRegressionRule(policy, candidate, champion),
  ];
  const reasons = rules.filter((r) => r.outcome !== 'passed').map((r) => `${r.rule} ${r.outcome}: ${r.detail}`);
  const anyFailed = rules.some((r) => r.outcome === 'failed');
  const anyConcern = rules.some((r) => r.outcome === 'warning' || r.outcome === 'insufficient');

  let decision: GateDecision;
  if (anyFailed) decision = 'failed';
  else if (policy.requireHumanApproval === 'always') {
    decision = 'needs_approval';
    reasons.push('policy requires human approval');
  } else if (policy.requireHumanApproval === 'on_warning' && anyConcern) decision = 'needs_approval';
  else decision = 'passed';

  return { decision, rules, reasons };
}
