/**
 * Gate policies: a versioned, zod-validated document of rules, each judged on an interval rather than
 * a point estimate, each failing closed. A bound is met only when the whole interval clears it; a
 * missing metric or slice fails; a slice below its minimum support is `insufficient`, never passed;
 * no policy at all is never an approval.
 *
 * Pure: the evidence is plain data assembled elsewhere (analysis/report.ts), so a policy can be dry-run
 * against stored reports and replayed in workflow code.
 */
import { canonicalJson } from './canonicalJson';
import { judgeSelfSelectedShare, type LabelMixRecord } from './labelSelection';
import type { Binning } from './calibration';
import {
  isWildcard,
  LOWER_IS_BETTER,
  intersectionCells,
  type FairnessMetricName,
  type GatePolicy,
  type GateRule,
  type IntersectionSelector,
  type MetricName,
  type PolicyThresholdConstraints,
  type SliceSelector,
} from './policySchema';

// The document's schema and readers live in policySchema.ts; their names stay importable from here.
export * from './policySchema';

export interface IntervalLike {
  estimate: number | null;
  lower: number | null;
  upper: number | null;
}

export interface EvidenceSlice {
  /** 'overall' (value 'all') or an attribute name. */
  attribute: string;
  value: string;
  support: number;
  positives: number;
  negatives: number;
  metrics: Partial<Record<MetricName, IntervalLike>>;
}

/** One slice's calibration (the shape of analysis/calibration.ts's CalibrationSliceSummary). */
export interface CalibrationEvidenceSlice {
  /** 'overall' (value 'all') or an attribute name. */
  attribute: string;
  value: string;
  support: number;
  ece: Record<Binning, IntervalLike>;
  mce: Record<Binning, IntervalLike>;
  brier: IntervalLike;
}

export interface PolicyEvidence {
  slices: EvidenceSlice[];
  /** Candidate minus champion, paired on the same rows; null when there is no champion. */
  deltas: { attribute: string; value: string; metric: MetricName; interval: IntervalLike }[] | null;
  fairness: { attribute: string; metrics: Partial<Record<FairnessMetricName, IntervalLike>> }[];
  /** Threshold analyses, keyed by the canonical JSON of their constraints. */
  thresholds: { constraintsKey: string; status: 'met' | 'none'; detail: string }[];
  /** The run's saturation check, when it ran. */
  saturation?: { verdict: 'improving' | 'plateau' | 'degrading'; reasons: string[]; recommendation: string } | null;
  /** Calibration overall and per slice, one entry per number of bins computed (evaluateCalibration). */
  calibration?: { bins: number; slices: CalibrationEvidenceSlice[] }[] | null;
  /** How the snapshot's held-out set was chosen (db dataset_snapshots.held_out_design); null when not recorded. */
  heldOutDesign?: HeldOutDesignRecord | null;
  /** Who chose the snapshot's training labels (db dataset_snapshots.label_mix); null when not recorded. */
  labelMix?: LabelMixRecord | null;
}

/** A snapshot's held-out design as recorded (the shape of db/schema HeldOutDesign). */
export type HeldOutDesignRecord =
  | { kind: 'split'; trainCount: number; heldoutCount: number; selectedLeftOut?: number }
  | {
      kind: 'time';
      newest: string | number;
      cutAt: string;
      trainCount: number;
      heldoutCount: number;
      undated: number;
      selectedLeftOut?: number;
      trainFrom: string;
      trainTo: string;
      heldOutFrom: string;
      heldOutTo: string;
    };

export type RuleOutcome = 'passed' | 'failed' | 'insufficient' | 'needs_approval';
export type PolicyDecision = 'approved' | 'failed' | 'needs_approval';

export interface RuleResult {
  id: string;
  kind: GateRule['kind'];
  outcome: RuleOutcome;
  /** Whether a failure of this rule blocks or asks a human. */
  onFail: 'block' | 'ask';
  detail: string;
  /** Slices the rule judged, with what each showed. */
  checks: { slice: string; outcome: RuleOutcome; observed: IntervalLike | null; detail: string }[];
}

export interface PolicyJudgement {
  decision: PolicyDecision;
  reasons: string[];
  rules: RuleResult[];
}

export const thresholdConstraintsKey = (c: PolicyThresholdConstraints) => canonicalJson(c);

/** An intersection cell's attribute is 'a&b' and its value 'a=x&b=y' (analysis/confusion.ts intersect): the value names it. */
const isCell = (s: { attribute: string; value: string }) => s.attribute.includes('&') && s.value.startsWith(`${s.attribute.split('&')[0]}=`);
const sliceName = (s: { attribute: string; value: string }) => (s.attribute === 'overall' ? 'overall' : isCell(s) ? s.value : `${s.attribute}=${s.value}`);
const fmt = (x: number | null) => (x === null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toFixed(4));
const fmtInterval = (i: IntervalLike) => `${fmt(i.estimate)} [${fmt(i.lower)}, ${fmt(i.upper)}]`;

/** The rows a metric is a proportion of: a slice's support for that metric. */
export function denominator(s: EvidenceSlice, metric: MetricName): number {
  switch (metric) {
    case 'fpr':
      return s.negatives;
    case 'recall':
    case 'fnr':
      return s.positives;
    case 'auc':
    case 'averagePrecision':
      return Math.min(s.positives, s.negatives);
    default:
      return s.support;
  }
}

const DENOMINATOR_NAME: Partial<Record<MetricName, string>> = { fpr: 'negatives', recall: 'positives', fnr: 'positives', auc: 'rows of the rarer class', averagePrecision: 'rows of the rarer class' };

/**
 * Support checks for one slice and metric. A wildcard skips slices where the metric cannot exist
 * (FPR of a slice with no negatives: the spam group has no ham to block); a named slice never does.
 * Thin slices are insufficient either way.
 */
function supportCheck(s: EvidenceSlice, metric: MetricName, policy: GatePolicy, wildcard: boolean): RuleResult['checks'][number] | 'skip' | null {
  const n = denominator(s, metric);
  const what = DENOMINATOR_NAME[metric] ?? 'rows';
  if (n === 0) {
    return wildcard ? 'skip' : { slice: sliceName(s), outcome: 'failed', observed: null, detail: `${metric} is undefined: the slice has no ${what}` };
  }
  if (n < policy.minSliceSupport) return { slice: sliceName(s), outcome: 'insufficient', observed: null, detail: `${n} ${what} < minimum ${policy.minSliceSupport}` };
  return null;
}

/**
 * The slices a rule reads, each through the support checks, then judged by `judge`. Returns a
 * string when the selector names evidence that is not there (the caller fails the rule).
 */
function checkSlices(
  evidence: PolicyEvidence,
  policy: GatePolicy,
  selector: SliceSelector,
  metric: MetricName,
  judge: (s: EvidenceSlice, name: string) => RuleResult['checks'][number],
): RuleResult['checks'] | string {
  const slices = selectSlices(evidence.slices, selector);
  if (typeof slices === 'string') return slices;
  const wildcard = isWildcard(selector);
  return slices.flatMap((s) => {
    const support = supportCheck(s, metric, policy, wildcard);
    if (support === 'skip') return [];
    return [support ?? judge(s, sliceName(s))];
  });
}

/**
 * The slices (or intersection cells) a selector names, from any evidence list with attribute and
 * value (classification slices, calibration slices); a string says what is missing.
 */
export function selectSlices<S extends { attribute: string; value: string }>(list: S[], selector: SliceSelector): S[] | string {
  if (selector === 'overall') {
    const overall = list.find((s) => s.attribute === 'overall');
    return overall ? [overall] : 'no overall evaluation in the evidence';
  }
  if (!('attribute' in selector)) return selectCells(list, selector);
  const matches = list.filter(
    (s) => s.attribute === selector.attribute && (selector.value === '*' || s.value === selector.value),
  );
  return matches.length > 0 ? matches : `slice ${selector.attribute}=${selector.value} is not in the evaluation`;
}

/**
 * Intersection cells: the evaluation names the combination 'a&b' and a cell 'a=x&b=y' in the order
 * it was asked for (intersectionsOf asks in code-unit order; either order is found). Cells with no
 * rows are not in the evaluation: a named one is missing evidence.
 */
function selectCells<S extends { attribute: string; value: string }>(list: S[], selector: IntersectionSelector): S[] | string {
  const cells = intersectionCells(selector);
  const label = cells.map(([a]) => a).join(' × ');
  for (const order of [cells, [...cells].reverse()]) {
    const combination = order.map(([a]) => a).join('&');
    const all = list.filter((s) => s.attribute === combination);
    if (all.length === 0) continue;
    const [[a, va], [b, vb]] = order as [[string, string], [string, string]];
    const matches = all.filter(
      (s) =>
        (va === '*' || s.value.startsWith(`${a}=${va}&${b}=`)) &&
        (vb === '*' || s.value.endsWith(`&${b}=${vb}`)) &&
        s.value.startsWith(`${a}=`),
    );
    if (matches.length > 0) return matches;
    const wanted = order.map(([x, v]) => `${x}=${v}`).join('&');
    return `intersection cell ${wanted} has no rows in the evaluation`;
  }
  return `intersection ${label} is not in the evaluation (the evaluation computes the cells its policy names; is each attribute a slice attribute of the held-out set?)`;
}

/** Judges one interval against [min, max]: met only when the whole interval is inside. */
function judgeBound(i: IntervalLike, min: number | undefined, max: number | undefined): { met: boolean; detail: string } | null {
  if (i.lower === null || i.upper === null || i.estimate === null) return null;
  const parts: string[] = [];
  let met = true;
  if (max !== undefined) {
    if (i.upper > max) {
      met = false;
      parts.push(i.lower > max ? `entirely above ${fmt(max)}` : `interval reaches above ${fmt(max)}`);
    }
  }
  if (min !== undefined) {
    if (i.lower < min) {
      met = false;
      parts.push(i.upper < min ? `entirely below ${fmt(min)}` : `interval reaches below ${fmt(min)}`);
    }
  }
  return { met, detail: `${fmtInterval(i)}${parts.length ? `: ${parts.join(', ')}` : ' within bounds'}` };
}

function combine(rule: { kind: GateRule['kind']; onFail: 'block' | 'ask' }, id: string, checks: RuleResult['checks'], emptyDetail: string): RuleResult {
  const failing = checks.filter((c) => c.outcome !== 'passed');
  const outcome: RuleOutcome = checks.some((c) => c.outcome === 'failed')
    ? rule.onFail === 'block' ? 'failed' : 'needs_approval'
    : checks.some((c) => c.outcome === 'insufficient')
      ? 'insufficient'
      : 'passed';
  const detail =
    checks.length === 0
      ? emptyDetail
      : checks.length === 1
        ? `${checks[0]!.slice}: ${checks[0]!.detail}`
        : failing.length === 0
        ? `all ${checks.length} slice(s) pass`
        : failing.map((c) => `${c.slice}: ${c.detail}`).join('; ');
  return { id, kind: rule.kind, outcome, onFail: rule.onFail, detail, checks };
}

function judgeRule(rule: GateRule, index: number, policy: GatePolicy, evidence: PolicyEvidence): RuleResult {
  const id = rule.id ?? `${rule.kind}#${index + 1}`;
  const missing = (detail: string): RuleResult => ({
    id,
    kind: rule.kind,
    // A missing metric or slice fails: the gate does not pass what it could not see.
    outcome: 'onFail' in rule && rule.onFail === 'ask' ? 'needs_approval' : 'failed',
    onFail: 'onFail' in rule ? rule.onFail : 'ask',
    detail: `missing evidence: ${detail}`,
    checks: [],
  });

  switch (rule.kind) {
    case 'saturation': {
      const sat = evidence.saturation;
      const onFail = rule.onDegrading;
      if (!sat) return { id, kind: rule.kind, outcome: onFail === 'ask' ? 'needs_approval' : 'failed', onFail, detail: 'missing evidence: this run has no saturation check', checks: [] };
      const action = sat.verdict === 'improving' ? 'pass' : sat.verdict === 'plateau' ? rule.onPlateau : rule.onDegrading;
      const outcome: RuleOutcome = action === 'pass' ? 'passed' : action === 'ask' ? 'needs_approval' : 'failed';
      return {
        id,
        kind: rule.kind,
        outcome,
        onFail: action === 'block' ? 'block' : 'ask',
        detail: `more data: ${sat.verdict}; ${sat.recommendation}${sat.reasons.length ? ` (${sat.reasons.join('; ')})` : ''}`,
        checks: [],
      };
    }

    case 'held_out': {
      const d = evidence.heldOutDesign;
      if (d?.kind !== 'time') {
        return missing(d ? "the snapshot's held-out set is the examples' recorded (random) split, not a time split: start the run with heldOut {kind: 'time'}" : "the snapshot records no held-out design (frozen before designs were recorded): it was not time-split");
      }
      return {
        id,
        kind: rule.kind,
        outcome: 'passed',
        onFail: rule.onFail,
        detail: `time split (newest ${JSON.stringify(d.newest)}): ${d.heldoutCount} held-out examples observed from ${d.cutAt}, ${d.trainCount} training examples before it`,
        checks: [],
      };
    }

    case 'self_selected_share':
      return judgeSelfSelectedShare(rule, id, evidence.labelMix);

    case 'human_approval':
      return { id, kind: rule.kind, outcome: 'needs_approval', onFail: 'ask', detail: rule.reason, checks: [] };

    case 'bound': {
      const checks = checkSlices(evidence, policy, rule.slices, rule.metric, (s, name) => {
        const interval = s.metrics[rule.metric];
        const judged = interval ? judgeBound(interval, rule.min, rule.max) : null;
        if (!interval || !judged) return { slice: name, outcome: 'failed', observed: interval ?? null, detail: `${rule.metric} is undefined here` };
        return { slice: name, outcome: judged.met ? 'passed' : 'failed', observed: interval, detail: `${rule.metric} ${judged.detail}` };
      });
      return typeof checks === 'string' ? missing(checks) : combine(rule, id, checks, 'no slices');
    }

    case 'no_regression': {
      if (evidence.deltas === null) {
        return { id, kind: rule.kind, outcome: 'passed', onFail: rule.onFail, detail: 'no champion to compare with', checks: [] };
      }
      const lowerBetter = LOWER_IS_BETTER.has(rule.metric);
      const checks = checkSlices(evidence, policy, rule.slices, rule.metric, (s, name) => {
        const delta = evidence.deltas!.find((d) => d.attribute === s.attribute && d.value === s.value && d.metric === rule.metric);
        if (!delta || delta.interval.lower === null || delta.interval.upper === null) {
          return { slice: name, outcome: 'failed', observed: delta?.interval ?? null, detail: `no paired difference for ${rule.metric}` };
        }
        // Worsening is an increase for error rates and a decrease otherwise; the far end of the interval decides.
        const worstWorsening = lowerBetter ? delta.interval.upper : -delta.interval.lower;
        const met = worstWorsening <= rule.margin + 1e-12;
        return {
          slice: name,
          outcome: met ? 'passed' : 'failed',
          observed: delta.interval,
          detail: `${rule.metric} change vs champion ${fmtInterval(delta.interval)}; worst-case worsening ${fmt(worstWorsening)} ${met ? '<=' : '>'} margin ${fmt(rule.margin)}`,
        };
      });
      if (typeof checks === 'string') return missing(checks);
      return combine(rule, id, checks, 'no slices');
    }

    case 'fairness': {
      const f = evidence.fairness.find((x) => x.attribute === rule.attribute);
      const interval = f?.metrics[rule.metric];
      if (!interval) return missing(`${rule.metric} on ${rule.attribute}`);
      const judged = judgeBound(interval, rule.min, rule.max);
      const check = judged
        ? { slice: rule.attribute, outcome: judged.met ? ('passed' as const) : ('failed' as const), observed: interval, detail: `${rule.metric} ${judged.detail}` }
        : { slice: rule.attribute, outcome: 'failed' as const, observed: interval, detail: `${rule.metric} is undefined (a group lacks the rows it needs)` };
      return combine(rule, id, [check], '');
    }

    case 'min_support': {
      const slices = selectSlices(evidence.slices, rule.slices);
      if (typeof slices === 'string') return missing(slices);
      const checks = slices.map((s) => {
        const short: string[] = [];
        if (s.support < rule.minSupport) short.push(`support ${s.support} < ${rule.minSupport}`);
        if (s.positives < rule.minPositives) short.push(`positives ${s.positives} < ${rule.minPositives}`);
        if (s.negatives < rule.minNegatives) short.push(`negatives ${s.negatives} < ${rule.minNegatives}`);
        return {
          slice: sliceName(s),
          outcome: short.length ? ('insufficient' as const) : ('passed' as const),
          observed: null,
          detail: short.length ? short.join(', ') : `support ${s.support}`,
        };
      });
      const result = combine(rule, id, checks, 'no slices');
      // Too little evidence is not a pass: under 'block' it fails the gate, under 'ask' a human decides.
      if (result.outcome === 'insufficient') result.outcome = rule.onFail === 'block' ? 'failed' : 'needs_approval';
      return result;
    }

    case 'calibration': {
      const brier = rule.metric === 'brier';
      const what = brier ? 'brier' : `${rule.metric} (${rule.binning} bins)`;
      // The Brier score does not depend on bins: any calibration entry serves.
      const entry = (evidence.calibration ?? []).find((c) => brier || c.bins === rule.bins);
      if (!entry) return missing(brier ? 'no calibration evaluation' : `no calibration evaluation with ${rule.bins} bins`);
      const slices = selectSlices(entry.slices, rule.slices);
      if (typeof slices === 'string') return missing(slices);
      const wildcard = isWildcard(rule.slices);
      const checks = slices.flatMap((s): RuleResult['checks'] => {
        const name = sliceName(s);
        if (s.support === 0) return wildcard ? [] : [{ slice: name, outcome: 'failed', observed: null, detail: `${what} is undefined: the slice has no rows` }];
        if (s.support < policy.minSliceSupport) return [{ slice: name, outcome: 'insufficient', observed: null, detail: `${s.support} rows < minimum ${policy.minSliceSupport}` }];
        const interval = rule.metric === 'brier' ? s.brier : s[rule.metric][rule.binning];
        const judged = judgeBound(interval, undefined, rule.max);
        if (!judged) return [{ slice: name, outcome: 'failed', observed: interval, detail: `${what} is undefined here` }];
        return [{ slice: name, outcome: judged.met ? 'passed' : 'failed', observed: interval, detail: `${what} ${judged.detail}` }];
      });
      return combine(rule, id, checks, 'no slices');
    }

    case 'threshold': {
      const key = thresholdConstraintsKey(rule.constraints);
      const t = evidence.thresholds.find((x) => x.constraintsKey === key);
      if (!t) return missing(`threshold analysis for ${key}`);
      const outcome: RuleOutcome = t.status === 'met' ? 'passed' : rule.onFail === 'block' ? 'failed' : 'needs_approval';
      return { id, kind: rule.kind, outcome, onFail: rule.onFail, detail: t.detail, checks: [] };
    }
  }
}

/** Judges a policy on the evidence. No policy is never an approval. */
export function judgePolicy(policy: GatePolicy | null, evidence: PolicyEvidence): PolicyJudgement {
  if (!policy) return { decision: 'failed', reasons: ['no gate policy: nothing is approved without one'], rules: [] };
  const rules = policy.rules.map((r, i) => judgeRule(r, i, policy, evidence));
  const reasons = rules.filter((r) => r.outcome !== 'passed').map((r) => `${r.id} ${r.outcome}: ${r.detail}`);
  const blocked = rules.some((r) => r.outcome === 'failed' || (r.outcome === 'insufficient' && r.onFail === 'block'));
  const ask = rules.some((r) => r.outcome === 'needs_approval' || r.outcome === 'insufficient');
  return { decision: blocked ? 'failed' : ask ? 'needs_approval' : 'approved', reasons, rules };
}
