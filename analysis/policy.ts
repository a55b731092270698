/**
 * Gate policies: a versioned, zod-validated document of rules, each judged on an interval rather than
 * a point estimate, each failing closed. A bound is met only when the whole interval clears it; a
 * missing metric or slice fails; a slice below its minimum support is `insufficient`, never passed;
 * no policy at all is never an approval.
 *
 * Pure: the evidence is plain data assembled elsewhere (analysis/report.ts), so a policy can be dry-run
 * against stored reports and replayed in workflow code.
 */
import { z } from 'zod';
import { BINNINGS, type Binning } from './calibration';
import { canonicalJson } from './canonicalJson';
import { FAIRNESS_GAPS, type FairnessGap } from './fairness';
import { judgeSelfSelectedShare, selfSelectedShareRule, type LabelMixRecord } from './labelSelection';

export const RATE_METRICS = ['accuracy', 'precision', 'recall', 'fpr', 'fnr', 'selectionRate'] as const;
export const SCORE_METRICS = ['auc', 'averagePrecision'] as const;
export const METRICS = [...RATE_METRICS, ...SCORE_METRICS] as const;
export type MetricName = (typeof METRICS)[number];

/** Error-like metrics: lower is better, so "no regression" looks at an increase. */
export const LOWER_IS_BETTER: ReadonlySet<MetricName> = new Set(['fpr', 'fnr']);

export const FAIRNESS_METRICS = FAIRNESS_GAPS;
export type FairnessMetricName = FairnessGap;

const proportion = z.number().min(0).max(1);
const onFail = z.enum(['block', 'ask']).default('block');

/** An attribute named in an intersection: '&' and '=' join the cell names (format=html&sender_tld=generic). */
const intersectionAttribute = z
  .string()
  .min(1)
  .refine((s) => !/[&=]/.test(s), { message: "an attribute in an intersection cannot contain '&' or '=' (they join cell names)" });

const INTERSECTION_SIZE = 'an intersection names exactly two attributes (cells of three or more get too thin to judge)';

/**
 * Cells of an attribute combination, judged cell by cell (the worst decides):
 * - `{ attributes: ['format', 'sender_tld'] }`: every cell of the combination;
 * - `{ attributes: { format: 'html', sender_tld: 'country_code' } }`: one cell ('*' for a value
 *   takes every value of that attribute: `{ format: 'html', sender_tld: '*' }`).
 * The order of the attributes does not matter; each cell below minSliceSupport is `insufficient`.
 */
const intersectionSelector = z
  .strictObject({
    attributes: z.union([
      z.array(intersectionAttribute),
      z.record(intersectionAttribute, z.string().min(1, "a cell's value is a value of its attribute, or '*' for all of them")),
    ]),
  })
  .superRefine(({ attributes }, ctx) => {
    const names = Array.isArray(attributes) ? attributes : Object.keys(attributes);
    if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', path: ['attributes'], message: `an intersection names an attribute twice (${names.join(', ')})` });
    else if (names.length !== 2) ctx.addIssue({ code: 'custom', path: ['attributes'], message: `${INTERSECTION_SIZE}; got ${names.length}` });
  })
  .meta({ id: 'IntersectionSelector', description: 'Cells of two attributes together: every cell (a list of two names) or one cell (name: value; * for any value).' });

/**
 * 'overall', one slice, every value of an attribute (value '*'), or cells of an attribute
 * combination (intersectionSelector); judged slice by slice, the worst decides.
 */
const sliceSelector = z.union([
  z.literal('overall'),
  z.strictObject({ attribute: z.string().min(1), value: z.string().min(1) }),
  intersectionSelector,
]);
export type SliceSelector = z.infer<typeof sliceSelector>;
export type IntersectionSelector = z.infer<typeof intersectionSelector>;

/** The combination's attributes in code-unit order, each with its value ('*': any). */
export function intersectionCells(selector: IntersectionSelector): [string, string][] {
  const entries: [string, string][] = Array.isArray(selector.attributes) ? selector.attributes.map((a) => [a, '*']) : Object.entries(selector.attributes);
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Whether a selector takes every slice (or cell) it covers, skipping those where a metric cannot exist. */
function isWildcard(selector: SliceSelector): boolean {
  if (selector === 'overall') return false;
  if ('attribute' in selector) return selector.value === '*';
  return intersectionCells(selector).some(([, v]) => v === '*');
}

const boundRule = z
  .strictObject({
    kind: z.literal('bound'),
    id: z.string().min(1).optional(),
    metric: z.enum(METRICS),
    slices: sliceSelector,
    min: proportion.optional(),
    max: proportion.optional(),
    onFail,
  })
  .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'a bound rule needs min or max' });

const noRegressionRule = z.strictObject({
  kind: z.literal('no_regression'),
  id: z.string().min(1).optional(),
  metric: z.enum(METRICS),
  slices: sliceSelector,
  /** The largest worsening tolerated, in metric units, judged on the paired interval of the difference. */
  margin: proportion,
  onFail,
});

const fairnessRule = z
  .strictObject({
    kind: z.literal('fairness'),
    id: z.string().min(1).optional(),
    attribute: z.string().min(1),
    metric: z.enum(FAIRNESS_METRICS),
    min: z.number().min(0).optional(),
    max: z.number().min(0).optional(),
    onFail,
  })
  .refine((r) => r.min !== undefined || r.max !== undefined, { message: 'a fairness rule needs min or max' });

const supportRule = z.strictObject({
  kind: z.literal('min_support'),
  id: z.string().min(1).optional(),
  slices: sliceSelector,
  minSupport: z.number().int().min(1).default(1),
  minPositives: z.number().int().min(0).default(0),
  minNegatives: z.number().int().min(0).default(0),
  onFail,
});

export const thresholdConstraintsSchema = z.strictObject({
  minRecall: proportion.optional(),
  maxFpr: proportion.optional(),
  maxSliceFpr: proportion.optional(),
  minSliceNegatives: z.number().int().min(1).optional(),
  minPrecision: proportion.optional(),
});
export type PolicyThresholdConstraints = z.infer<typeof thresholdConstraintsSchema>;

const thresholdRule = z.strictObject({
  kind: z.literal('threshold'),
  id: z.string().min(1).optional(),
  constraints: thresholdConstraintsSchema,
  onFail,
});

const humanRule = z.strictObject({
  kind: z.literal('human_approval'),
  id: z.string().min(1).optional(),
  reason: z.string().min(1).default('policy requires a human sign-off'),
});

/**
 * The saturation check's verdict (does more data still help?): improving passes; plateau and degrading
 * do what the rule says. A run without a saturation report is missing evidence (judged as degrading).
 */
const saturationRule = z.strictObject({
  kind: z.literal('saturation'),
  id: z.string().min(1).optional(),
  onPlateau: z.enum(['pass', 'ask', 'block']).default('ask'),
  onDegrading: z.enum(['ask', 'block']).default('block'),
  /** Fractions of the training set and seeds per fraction the check trains (defaults 0.1 .. 1.0, 3 seeds). */
  fractions: z.array(z.number().gt(0).max(1)).min(4).max(12).optional(),
  seeds: z.number().int().min(2).max(10).optional(),
  /** Error the fitted curve must still gain from doubling the data to count as improving (default 0.002). */
  minGainFromDoubling: z.number().min(0).max(1).optional(),
});

/** A held-out window: a duration before the newest example ('30d', '12h', '2w') or the newest fraction of dated examples. */
export const heldOutWindow = z.union([
  z.string().regex(/^[1-9][0-9]{0,5}[hdw]$/, "a duration such as '30d', '12h' or '2w'"),
  z.number().gt(0).lt(1),
]);

/** How a run's snapshot chooses its held-out set: the examples' recorded split column, or the newest window by observedAt. */
export const heldOutOptionSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('split') }).meta({ id: 'HeldOutBySplitColumn' }),
  z.strictObject({ kind: z.literal('time'), newest: heldOutWindow }).meta({ id: 'HeldOutByTime' }),
]);
export type HeldOutOptionInput = z.infer<typeof heldOutOptionSchema>;

/**
 * A held-out set from the future: the run's snapshot must be time-split (train before the cut, judge on
 * the newest window). A run started without a held-out option takes `newest` from this rule; a run whose
 * snapshot was not time-split fails it (fails closed: missing evidence is not a pass).
 */
const heldOutRule = z.strictObject({
  kind: z.literal('held_out'),
  id: z.string().min(1).optional(),
  design: z.literal('time'),
  newest: heldOutWindow.default('30d'),
  onFail,
});

export const CALIBRATION_METRICS = ['ece', 'mce', 'brier'] as const;
export type CalibrationMetricName = (typeof CALIBRATION_METRICS)[number];

/**
 * Calibration (does a score of 0.9 mean about 90%?): expected or maximum calibration error with
 * fixed ('uniform') or adaptive ('quantile', equal-mass) bins, or the Brier score, at most `max`,
 * judged on the upper end of the bootstrap interval (analysis/calibration.ts), so an uncertain
 * estimate fails. `binning` and `bins` do not apply to the Brier score. A run whose evaluation has
 * no calibration for these bins is missing evidence.
 */
const calibrationRule = z.strictObject({
  kind: z.literal('calibration'),
  id: z.string().min(1).optional(),
  metric: z.enum(CALIBRATION_METRICS),
  binning: z.enum(BINNINGS).default('quantile'),
  bins: z.number().int().min(1).max(100).default(10),
  slices: sliceSelector.default('overall'),
  max: proportion,
  onFail,
});

/**
 * A rule, told apart by its `kind`; each kind is named (BoundRule, FairnessRule, …), so the OpenAPI
 * document gives generated clients one type per kind instead of numbered anonymous variants.
 */
export const gateRuleSchema = z.discriminatedUnion('kind', [
  boundRule.meta({ id: 'BoundRule' }),
  noRegressionRule.meta({ id: 'NoRegressionRule' }),
  fairnessRule.meta({ id: 'FairnessRule' }),
  supportRule.meta({ id: 'MinSupportRule' }),
  thresholdRule.meta({ id: 'ThresholdRule' }),
  humanRule.meta({ id: 'HumanApprovalRule' }),
  saturationRule.meta({ id: 'SaturationRule' }),
  calibrationRule.meta({ id: 'CalibrationRule' }),
  heldOutRule.meta({ id: 'HeldOutRule' }),
  selfSelectedShareRule.meta({ id: 'SelfSelectedShareRule' }),
]);
export type GateRule = z.infer<typeof gateRuleSchema>;

/** What errors cost: a false positive (ham blocked) and a false negative (spam let through), per slice if they differ. */
export const costPolicySchema = z.strictObject({
  falsePositiveCost: z.number().min(0),
  falseNegativeCost: z.number().min(0),
  sliceMultipliers: z
    .array(z.strictObject({ attribute: z.string().min(1), value: z.string().min(1), falsePositive: z.number().min(0).optional(), falseNegative: z.number().min(0).optional() }))
    .optional(),
});

export const gatePolicySchema = z.strictObject({
  schemaVersion: z.literal(1).default(1),
  description: z.string().max(2000).default(''),
  /** Severity-weighted error cost reported in the packet (informational unless a rule uses it). */
  costs: costPolicySchema.optional(),
  /** Scores within this distance of the threshold are deferred to a human; the packet reports coverage and the error rate outside. */
  abstainHalfWidth: z.number().gt(0).lt(0.5).optional(),
  /** Below this support a slice is `insufficient` for every rule that reads it. */
  minSliceSupport: z.number().int().min(1).default(30),
  confidence: z.number().gt(0.5).lt(1).default(0.95),
  rules: z.array(gateRuleSchema).min(1, 'a policy needs at least one rule'),
});
export type GatePolicy = z.infer<typeof gatePolicySchema>;
export type GatePolicyInput = z.input<typeof gatePolicySchema>;

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
  | { kind: 'split'; trainCount: number; heldoutCount: number }
  | {
      kind: 'time';
      newest: string | number;
      cutAt: string;
      trainCount: number;
      heldoutCount: number;
      undated: number;
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

/**
 * The attribute pairs the policy's intersection selectors read (each in code-unit order, distinct,
 * sorted), so the evaluation computes those cells (evaluateVersion's `intersections`), as
 * calibrationBinsOf does for bins. Pairs naming an attribute the data lacks should be dropped by the
 * caller: the rule then reports missing evidence and fails closed.
 */
export function intersectionsOf(policy: GatePolicy | null): [string, string][] {
  const pairs = new Map<string, [string, string]>();
  for (const r of policy?.rules ?? []) {
    if (!('slices' in r) || r.slices === 'overall' || 'attribute' in r.slices) continue;
    const [[a], [b]] = intersectionCells(r.slices) as [[string, string], [string, string]];
    pairs.set(`${a}&${b}`, [a, b]);
  }
  return [...pairs.keys()].sort().map((k) => pairs.get(k)!);
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

/** The default for a spam (safety) filter: what a reasonable team would start from. */
export const defaultSpamFilterPolicy: GatePolicyInput = {
  description: 'Safety-filter defaults: few legitimate messages blocked anywhere, no regression, a human signs off.',
  minSliceSupport: 30,
  rules: [
    { kind: 'bound', id: 'overall-fpr', metric: 'fpr', slices: 'overall', max: 0.05 },
    { kind: 'bound', id: 'slice-fpr', metric: 'fpr', slices: { attribute: 'corpus_group', value: '*' }, max: 0.25, onFail: 'ask' },
    { kind: 'bound', id: 'overall-recall', metric: 'recall', slices: 'overall', min: 0.85 },
    { kind: 'no_regression', id: 'accuracy-vs-champion', metric: 'accuracy', slices: 'overall', margin: 0.01 },
    { kind: 'no_regression', id: 'fpr-vs-champion', metric: 'fpr', slices: 'overall', margin: 0.01 },
    { kind: 'fairness', id: 'sender-tld-fpr-gap', attribute: 'sender_tld', metric: 'fpr_difference', max: 0.1, onFail: 'ask' },
    { kind: 'human_approval', id: 'sign-off' },
  ],
};

/**
 * The numbers of bins the policy's calibration rules judge (sorted, distinct; empty when it has no
 * calibration rule, [10] when only Brier rules), so the evaluation computes what the gate will read.
 */
export function calibrationBinsOf(policy: GatePolicy | null): number[] {
  const rules = (policy?.rules ?? []).flatMap((r) => (r.kind === 'calibration' ? [r] : []));
  if (rules.length === 0) return [];
  const bins = new Set(rules.filter((r) => r.metric !== 'brier').map((r) => r.bins));
  if (bins.size === 0) bins.add(10);
  return [...bins].sort((a, b) => a - b);
}

/**
 * The saturation check a run needs under this gate policy document: the design of its saturation rule,
 * or null when the policy has none (a policy that judges the verdict always gets its evidence, however
 * the run was started).
 */
export function saturationDesignOf(document: unknown): { fractions?: number[]; seeds?: number; minGainFromDoubling?: number } | null {
  const rule = gatePolicySchema.parse(document).rules.find((r) => r.kind === 'saturation');
  if (!rule || rule.kind !== 'saturation') return null;
  return {
    ...(rule.fractions ? { fractions: rule.fractions } : {}),
    ...(rule.seeds ? { seeds: rule.seeds } : {}),
    ...(rule.minGainFromDoubling !== undefined ? { minGainFromDoubling: rule.minGainFromDoubling } : {}),
  };
}

/** The held-out option a run takes from this gate policy document when it was started without one: its held_out rule's, else null. */
export function heldOutOptionOf(document: unknown): HeldOutOptionInput | null {
  const rule = gatePolicySchema.parse(document).rules.find((r) => r.kind === 'held_out');
  return rule && rule.kind === 'held_out' ? { kind: 'time', newest: rule.newest } : null;
}

/**
 * The evidence a run must gather because this policy judges it: the saturation check (its saturation
 * rule's design) and a time-split held-out set (its held_out rule's window). Every way a run starts (runs.start,
 * a schedule, a drift monitor) takes these unless it asked for its own, so a policy that requires the evidence
 * never fails a run closed for lack of it.
 */
export function runOptionsOf(document: unknown): { saturation?: NonNullable<ReturnType<typeof saturationDesignOf>>; heldOut?: HeldOutOptionInput } {
  const saturation = saturationDesignOf(document);
  const heldOut = heldOutOptionOf(document);
  return { ...(saturation ? { saturation } : {}), ...(heldOut ? { heldOut } : {}) };
}
