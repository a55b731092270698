/**
 * The gate policy document: metrics, slice and intersection selectors, every rule kind's schema, and what a
 * document asks of a run (the cells, bins, saturation design and held-out window its rules will judge).
 * Judging the rules on evidence is analysis/policy.ts, which re-exports all of this. Pure.
 */
import { z } from 'zod';
import { BINNINGS } from './calibration';
import { FAIRNESS_GAPS, type FairnessGap } from './fairness';
import { selfSelectedShareRule } from './labelSelection';

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
export function isWildcard(selector: SliceSelector): boolean {
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
