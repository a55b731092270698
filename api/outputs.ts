// Output schemas of the larger answers (the approval packet, the saturation report, a run's result
// and live status, a version's lineage), so the tRPC client, the OpenAPI document and generated
// clients all see the shapes. Each schema mirrors a TypeScript type from analysis/ or workflows/;
// the checks at the end make `tsc` fail when the two drift apart.
//
// Stored JSON is what these validate: JSON has no NaN or Infinity (both are stored as null), so a
// number that can be undefined in the maths is nullable here and in its type.
import { z } from 'zod';
import { jsonObject, timestamp, timestampText } from './schemas';
import type { FairnessReport } from '../analysis/fairness';
import type { AblationRowTest } from '../analysis/ablation';
import type { LabelMixRecord } from '../analysis/labelSelection';
import { METRICS, thresholdConstraintsSchema, type HeldOutDesignRecord, type PolicyJudgement, type RuleResult } from '../analysis/policy';
import type { ApprovalPacket, IntersectionReport, VersionCalibration, VersionEvaluation } from '../analysis/report';
import type { ThresholdChoice } from '../analysis/thresholds';
import type { UntestedSegment } from '../analysis/untested';
import type { AblationSeed, IntervalEvidence, LearningCurveVerdict, RecencyEvidence, VerdictThresholds } from '../analysis/learningCurve';
import type { InversePowerLawFit, InversePowerLawFitFailure } from '../analysis/powerLaw';
import type { MeanDifferenceInterval } from '../analysis/numerics/intervals';
import { LABEL_SELECTORS, LABEL_SOURCES, VERSION_STATUSES, type HeldOutDesign, type SnapshotLabelMix } from '../db/schema';
import type { RetrainingRunResult, RunStatusView, RunStep } from '../workflows/messages';
import type { FairlearnCompatibleFairness } from './evaluateFile';
import { interval as intervalOutput, ruleResultOutput } from './schemas';

export const policyJudgementOutput = z.object({
  decision: z.enum(['approved', 'failed', 'needs_approval']),
  reasons: z.array(z.string()),
  rules: z.array(ruleResultOutput),
});

// ---- one version's evaluation (analysis/report VersionEvaluation) ----

const rateSetOutput = z.object({
  support: z.number().int(),
  positives: z.number().int(),
  negatives: z.number().int(),
  counts: z.object({ tp: z.number().int(), fp: z.number().int(), tn: z.number().int(), fn: z.number().int() }),
  accuracy: intervalOutput,
  precision: intervalOutput,
  recall: intervalOutput,
  fpr: intervalOutput,
  fnr: intervalOutput,
  selectionRate: intervalOutput,
  f1: z.number().nullable(),
  baselineAccuracy: z.number().nullable(),
});

const sliceEvaluationOutput = z.object({
  attribute: z.string(),
  value: z.string(),
  rates: rateSetOutput,
  auc: z.number().nullable(),
  averagePrecision: z.number().nullable(),
});

const bootstrapIntervalOutput = intervalOutput.extend({ replicates: z.number().int(), undefinedReplicates: z.number().int() });

const fairnessReportOutput = z.object({
  attribute: z.string(),
  groups: z.array(z.object({ group: z.string(), count: z.number().int(), selection_rate: z.number().nullable(), tpr: z.number().nullable(), fpr: z.number().nullable() })),
  demographic_parity_difference: bootstrapIntervalOutput,
  demographic_parity_ratio: bootstrapIntervalOutput,
  equal_opportunity_difference: bootstrapIntervalOutput,
  equalized_odds_difference: bootstrapIntervalOutput,
  tpr_difference: bootstrapIntervalOutput,
  fpr_difference: bootstrapIntervalOutput,
  resampling: z.enum(['stratified_by_group', 'unstratified']),
  undefined_rates: z.enum(['zero', 'exclude']),
});

const chartCurveOutput = z.object({ thresholds: z.array(z.number()), precision: z.array(z.number()), recall: z.array(z.number()) });

// ---- calibration (analysis/report VersionCalibration) ----

const calibrationSliceOutput = z.object({
  attribute: z.string(),
  value: z.string(),
  support: z.number().int(),
  positives: z.number().int(),
  ece: z.object({ uniform: intervalOutput, quantile: intervalOutput }).describe('Expected calibration error with fixed (uniform) and adaptive (quantile) bins, percentile bootstrap intervals'),
  mce: z.object({ uniform: intervalOutput, quantile: intervalOutput }).describe('Maximum calibration error, likewise'),
  brier: intervalOutput.describe('Brier score with its percentile bootstrap interval (the one a calibration rule judges)'),
  brierNormal: z
    .object({ estimate: z.number(), standardError: z.number().nullable(), lower: z.number().nullable(), upper: z.number().nullable() })
    .nullable()
    .describe('Brier score with its closed-form normal interval'),
});

const reliabilityCurveOutput = z
  .object({
    strategy: z.enum(['uniform', 'quantile']),
    nBins: z.number().int(),
    edges: z.array(z.number()),
    bin: z.array(z.number().int()).describe('Index of each non-empty bin'),
    probTrue: z.array(z.number()).describe('Fraction of positives per non-empty bin (accuracy)'),
    probPred: z.array(z.number()).describe('Mean score per non-empty bin (confidence)'),
    counts: z.array(z.number().int()).describe('Rows per non-empty bin'),
  })
  .meta({ id: 'ReliabilityCurve', description: "A reliability curve as scikit-learn's calibration_curve computes it, with each non-empty bin's row count." });

export const versionCalibrationOutput = z
  .object({
    bins: z.number().int(),
    replicates: z.number().int(),
    roundedTo: z.number().int().nullable().describe('Decimals the scores were rounded to first (the always-on summary of a held-out set with many distinct scores), or null: exact scores'),
    overall: calibrationSliceOutput.extend({ curves: z.object({ uniform: reliabilityCurveOutput, quantile: reliabilityCurveOutput }).nullable() }),
    slices: z.array(calibrationSliceOutput),
  })
  .meta({ id: 'VersionCalibration', description: 'Calibration for one number of bins: ECE/MCE (both binnings) and Brier with intervals, overall with reliability curves and per slice value.' });

export const versionEvaluationOutput = z
  .object({
    schemaVersion: z.literal(2),
    settings: z.object({ threshold: z.number(), confidence: z.number(), B: z.number().int(), seed: z.number().int() }),
    classification: z.object({
      threshold: z.number(),
      overall: sliceEvaluationOutput,
      slices: z.array(sliceEvaluationOutput),
      intersections: z.array(sliceEvaluationOutput),
    }),
    aucInterval: intervalOutput.extend({ method: z.enum(['bootstrap', 'delong']) }),
    fairness: z.array(fairnessReportOutput.extend({ excludedGroups: z.array(z.object({ group: z.string(), count: z.number().int() })) })),
    prCurve: chartCurveOutput,
    slicePrCurves: z.array(z.object({ attribute: z.string(), value: z.string(), curve: chartCurveOutput })),
    calibration: z.array(versionCalibrationOutput).optional().describe('Always 10 bins, plus the bins the policy’s calibration rules judge; absent in evaluations from before calibration'),
  })
  .meta({ id: 'VersionEvaluation', description: 'One version evaluated on the held-out set: rates with Wilson intervals per slice, AUC interval, fairness gaps with bootstrap intervals, PR curves, calibration.' });

// ---- the approval packet (analysis/report ApprovalPacket) ----

const thresholdPointOutput = z.object({
  threshold: z.number(),
  recall: z.number(),
  precision: z.number().nullable(),
  fpr: z.number(),
  worstSliceFpr: z.object({ attribute: z.string(), value: z.string(), fpr: z.number() }).nullable(),
});

const thresholdChoiceOutput = z.object({
  status: z.enum(['met', 'none']),
  chosen: thresholdPointOutput.nullable(),
  closest: thresholdPointOutput.extend({ violations: z.array(z.string()), totalViolation: z.number() }).nullable(),
  candidatesScanned: z.number().int(),
  skippedSlices: z.array(z.object({ attribute: z.string(), value: z.string(), negatives: z.number().int() })),
});

const versionRef = z.object({ versionId: z.number().int(), version: z.number().int(), reportHash: z.string() });

const untestedSegmentOutput = z.object({
  attribute: z.string(),
  value: z.string(),
  trafficCount: z.number().int(),
  trafficShare: z.number(),
  heldOutSupport: z.number().int(),
  reason: z.enum(['absent', 'insufficient']),
});

/** The worst cells of one attribute combination on one metric (analysis/report IntersectionReport). */
export const intersectionReportOutput = z
  .object({
    attributes: z.array(z.string()).describe('The two attributes of the combination, in the evaluation’s order'),
    metric: z.enum(METRICS),
    worstBy: z.enum(['upper', 'lower']).describe('upper: the highest upper bound is worst (error-like, or a rule’s max); lower: the lowest lower bound'),
    rules: z.array(z.string()).describe('Ids of the rules judging this combination on this metric; empty when only asked for'),
    cells: z.number().int().describe('Cells with rows'),
    belowMinSupport: z.number().int().describe('Cells below minSliceSupport for this metric: insufficient, not ranked'),
    worst: z.array(
      z
        .object({
          cell: z.string().describe('format=html&sender_tld=generic'),
          support: z.number().int(),
          positives: z.number().int(),
          negatives: z.number().int(),
          interval: intervalOutput,
          outcome: z.enum(['passed', 'failed', 'insufficient', 'needs_approval']).nullable().describe('The worst outcome the rules gave the cell; null when no rule judged it'),
        })
        .meta({ id: 'WorstCell' }),
    ),
  })
  .meta({ id: 'IntersectionReport', description: 'The worst cells of an attribute combination by a metric, with support and Wilson interval, worst first.' });

const selectedLeftOut = z
  .number()
  .int()
  .describe('Labels the model or a user selected (reviews, feedback corrections) that fell on the held-out side: left out, since a held-out set must be a sample');

/** How a snapshot's held-out set was chosen (db/schema HeldOutDesign): the recorded split column, or a time split with its cut. */
export const heldOutDesignOutput = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('split'), trainCount: z.number().int(), heldoutCount: z.number().int(), selectedLeftOut: selectedLeftOut.optional() }).meta({ id: 'HeldOutDesignSplitColumn' }),
    z.object({
      kind: z.literal('time'),
      newest: z.union([z.string(), z.number()]).describe("The window asked for: a duration ('30d') or a fraction of the dated examples"),
      cutAt: timestampText,
      trainCount: z.number().int(),
      heldoutCount: z.number().int(),
      undated: z.number().int(),
      selectedLeftOut: selectedLeftOut.optional(),
      trainFrom: timestampText,
      trainTo: timestampText,
      heldOutFrom: timestampText,
      heldOutTo: timestampText,
    }).meta({ id: 'HeldOutDesignTime' }),
  ])
  .meta({ id: 'HeldOutDesign' });

/** Who chose a snapshot's training labels (db/schema SnapshotLabelMix): counts by label source, by selector (none recorded = design) and jointly. */
export const labelMixOutput = z
  .object({
    bySource: z.partialRecord(z.enum(LABEL_SOURCES), z.number().int()),
    bySelector: z.partialRecord(z.enum(LABEL_SELECTORS), z.number().int()),
    train: z.number().int(),
    joint: z.array(z.object({ source: z.enum(LABEL_SOURCES), by: z.enum(LABEL_SELECTORS), count: z.number().int() })).optional(),
  })
  .meta({ id: 'SnapshotLabelMix' });

export const approvalPacketOutput = z
  .object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    model: z.string(),
    policyVersion: z.number().int().nullable(),
    candidate: versionRef,
    champion: versionRef.nullable(),
    heldOut: z.object({ rows: z.number().int(), positives: z.number().int(), negatives: z.number().int(), design: heldOutDesignOutput.optional() }),
    labelMix: labelMixOutput.optional(),
    candidateEvaluation: versionEvaluationOutput,
    championEvaluation: versionEvaluationOutput.nullable(),
    /** Candidate minus champion per metric, overall and per slice value, paired on the same rows; null without a champion. */
    deltas: z.array(z.object({ attribute: z.string(), value: z.string(), metric: z.enum(METRICS), interval: intervalOutput })).nullable(),
    thresholds: z.array(z.object({ constraintsKey: z.string(), constraints: thresholdConstraintsSchema, choice: thresholdChoiceOutput })),
    costs: z
      .union([
        z.object({
          atThreshold: z.object({
            total: z.number().describe('Cost of the errors at the threshold, in the policy’s cost units (real-valued)'),
            perExample: z.number(),
            falsePositives: z.number().int(),
            falseNegatives: z.number().int(),
            bySlice: z.array(z.object({ attribute: z.string(), value: z.string(), cost: z.number(), share: z.number() })),
          }),
          cheapest: z.object({ threshold: z.number(), cost: z.number() }),
        }),
        z.object({ error: z.string() }),
      ])
      .nullable(),
    abstain: z
      .object({ lower: z.number(), upper: z.number(), coverage: z.number(), deferred: z.number().int(), errorRateOutside: z.number().nullable(), errorRateAll: z.number() })
      .nullable(),
    untested: z.array(untestedSegmentOutput),
    saturation: z
      .object({ verdict: z.enum(['improving', 'plateau', 'degrading']), reasons: z.array(z.string()), recommendation: z.string(), reportHash: z.string() })
      .optional(),
    intersections: z.array(intersectionReportOutput).optional(),
    judgement: policyJudgementOutput,
  })
  .meta({
    id: 'ApprovalPacket',
    description: 'Everything an approver reads, immutable and content-hashed: both versions evaluated, paired deltas, threshold analyses, costs, untested segments and the policy judgement.',
  });

/** reports.evaluateFile's fairness per sensitive attribute, in Fairlearn's names (api/evaluateFile). */
export const fairlearnFairnessOutput = z.object({
  demographic_parity_difference: z.number().nullable(),
  demographic_parity_ratio: z.number().nullable(),
  equal_opportunity_difference: z.number().nullable(),
  equalized_odds_difference: z.number().nullable(),
  intervals: z.record(z.string(), z.object({ lower: z.number().nullable(), upper: z.number().nullable() })),
  by_group: z.record(z.string(), z.object({ selection_rate: z.number().nullable(), tpr: z.number().nullable(), fpr: z.number().nullable(), count: z.number().int() })),
});

// ---- the saturation report (activities/saturation storeSaturationReport) ----

const meanDifferenceOutput = z.object({
  method: z.enum(['paired', 'welch']),
  // Welch's two sample sizes as an array of two, not a tuple: a tuple's `items: false` stops openapi-python-client.
  n: z.union([z.number().int(), z.array(z.number().int()).length(2)]).describe('paired: the number of pairs; welch: the two sample sizes'),
  mean: z.number(),
  standardError: z.number().nullable(),
  df: z.number().nullable(),
  confidence: z.number(),
  tCritical: z.number().nullable(),
  lower: z.number().nullable(),
  upper: z.number().nullable(),
});

const intervalEvidenceOutput = z.object({ difference: z.string(), interval: meanDifferenceOutput.nullable(), significant: z.boolean() });

const powerLawOutput = z.object({ a: z.number(), b: z.number(), c: z.number() });
const powerLawErrorsOutput = z.object({ a: z.number().nullable(), b: z.number().nullable(), c: z.number().nullable() });

const fitOutput = z.discriminatedUnion('ok', [
  powerLawOutput.extend({
    ok: z.literal(true),
    standardErrors: powerLawErrorsOutput,
    covariance: z.array(z.array(z.number().nullable())),
    ssr: z.number(),
    rmse: z.number(),
    r2: z.number().nullable(),
    residuals: z.array(z.number()),
    degreesOfFreedom: z.number().int(),
    distinctSizes: z.number().int(),
    nMax: z.number().int(),
    errorAtMax: z.number(),
    projectedErrorAtDouble: z.number(),
    projectedGainFromDoubling: z.number(),
    projectedGainStandardError: z.number().nullable(),
    asymptoteGap: z.number(),
    asymptoteAtBound: z.boolean(),
  }).meta({ id: 'PowerLawFit', description: 'The inverse power-law fit error = a + b n^-c, with standard errors and the projection to twice the data.' }),
  z.object({
    ok: z.literal(false),
    reason: z.enum(['fewer than 4 distinct sizes', 'error does not decrease with n', 'fit did not converge', 'parameters not identifiable (c unbounded)']),
    detail: z.string(),
    distinctSizes: z.number().int(),
    optimum: powerLawOutput.extend({ ssr: z.number().nullable(), standardErrors: powerLawErrorsOutput.nullable() }).nullable(),
  }).meta({ id: 'PowerLawFitFailure', description: 'Why the curve could not be fitted, and the best parameters found if any.' }),
]);

const mcnemarOutput = z.object({ worse: z.number().int(), better: z.number().int(), p: z.number() });
const saturationVerdict = z.enum(['improving', 'plateau', 'degrading']);

export const saturationReportOutput = z
  .object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    snapshotId: z.number().int(),
    settings: z.object({ fractions: z.array(z.number()), seeds: z.number().int(), trainerParams: jsonObject, threshold: z.number() }),
    /** Every training of the check: the nested subsets (curve) and the ablation without the newest batch. */
    points: z.array(
      z.object({
        variant: z.enum(['curve', 'without_newest', 'newest_half', 'oldest_half']),
        fraction: z.number(),
        seed: z.number().int(),
        trainSize: z.number().int(),
        error: z.object({ estimate: z.number(), lower: z.number(), upper: z.number() }),
        heldOut: z.number().int(),
        seconds: z.number(),
      }),
    ),
    curve: z.array(z.object({ n: z.number().int(), fraction: z.number(), errors: z.array(z.number()), mean: z.number() })),
    /** The inverse power-law fit error = a + b n^-c, or why it could not be fitted. */
    fit: fitOutput,
    /** Ready for a chart: the measured sizes and twice the largest, with the fitted error at each; null without a fit. */
    chart: z.object({ n: z.array(z.number().int()), fitted: z.array(z.number()) }).nullable(),
    ablation: z
      .object({
        batch: z.object({ batchId: z.string(), examples: z.number().int(), annotators: z.array(z.string()) }),
        composition: z.array(z.object({ slice: z.string(), share: z.number(), lift: z.number() })),
        perSeed: z.array(
          z.object({
            seed: z.union([z.number().int(), z.string()]).optional(),
            withNewest: z.number(),
            withoutNewest: z.number(),
            slices: z.array(z.object({ slice: z.string(), withNewest: z.number(), withoutNewest: z.number() })).optional(),
          }),
        ),
        interval: intervalEvidenceOutput.nullable(),
        rowTest: z
          .object({
            overall: mcnemarOutput.extend({ significant: z.boolean() }),
            slices: z.array(mcnemarOutput.extend({ slice: z.string(), rows: z.number().int(), excessErrors: z.number().int(), errorRateIncrease: z.number(), significant: z.boolean() })),
            alpha: z.number(),
            rule: z.string(),
          })
          .nullable(),
        slicesMostAffected: z.array(
          z.object({ slice: z.string(), errorRateIncrease: z.number(), excessErrors: z.number().int(), worse: z.number().int(), better: z.number().int(), p: z.number(), significant: z.boolean() }),
        ),
      })
      .nullable(),
    evidence: z.object({
      sizeComparisons: z.array(intervalEvidenceOutput.extend({ smallerN: z.number().int(), largestN: z.number().int() })),
      fallback: intervalEvidenceOutput.extend({ previousN: z.number().int(), largestN: z.number().int(), gainPerDoubling: z.number() }).nullable(),
      ablationSlices: z.array(intervalEvidenceOutput.extend({ slice: z.string() })),
    }),
    /**
     * Does data go stale? Held-out error of models trained on the newest N vs the oldest N dated training
     * examples (same N, same seeds), error(oldest) - error(newest) paired over seeds; absent when the check
     * did not compare them (too few dated rows, or a report from before it did).
     */
    recency: z
      .object({
        trainSize: z.number().int(),
        perSeed: z.array(z.object({ seed: z.number().int(), newest: z.number(), oldest: z.number() })),
        interval: intervalEvidenceOutput,
        finding: z.enum(['newer_worth_more', 'older_worth_more', 'no_evidence']),
        summary: z.string(),
      })
      .optional(),
    verdict: z.object({
      verdict: saturationVerdict,
      reasons: z.array(z.string()),
      recommendation: z.string(),
      thresholds: z.object({ minGainFromDoubling: z.number(), degradeMargin: z.number(), confidence: z.number() }),
    }),
  })
  .meta({ id: 'SaturationReport', description: "A run's saturation check: learning-curve points, the inverse power-law fit, the newest-batch ablation and the verdict." });

// ---- runs (workflows/messages) ----

const RUN_STEPS = [
  'started',
  'sampling',
  'annotating',
  'aggregating',
  'saturation',
  'snapshot',
  'training',
  'evaluating',
  'gate',
  'awaiting_approval',
  'promoting',
  'rolling_out',
  'rejecting',
  'done',
] as const;
const RUN_OUTCOMES = ['promoted', 'rejected', 'cancelled', 'rolled_back'] as const;
const gateDecision = z.enum(['approved', 'failed', 'needs_approval', 'passed']);

/** The workflow's own view of a run while it runs (workflows/messages RunStatusView). */
export const runStatusOutput = z
  .object({
    runId: z.string(),
    model: z.string(),
    requestedBy: z.string(),
    step: z.enum(RUN_STEPS),
    snapshotId: z.number().int().nullable(),
    candidateVersionId: z.number().int().nullable(),
    candidateVersion: z.number().int().nullable(),
    championVersionId: z.number().int().nullable(),
    candidateReportId: z.number().int().nullable(),
    championReportId: z.number().int().nullable(),
    candidateReportHash: z.string().nullable(),
    gate: z.object({ policyVersion: z.number().int().nullable(), decision: gateDecision, reasons: z.array(z.string()), rules: z.array(ruleResultOutput) }).nullable(),
    approval: z
      .object({ deadline: timestampText, decision: z.enum(['approve', 'reject']).nullable(), approver: z.string().nullable(), reason: z.string().nullable() })
      .nullable(),
    outcome: z.enum(RUN_OUTCOMES).nullable(),
    annotation: z.object({ batchId: z.string(), tasks: z.number().int(), aggregated: z.number().int().nullable() }).nullable().optional(),
    saturation: z.object({ verdict: z.string(), recommendation: z.string(), reportId: z.number().int() }).nullable().optional(),
    trainer: z.object({ name: z.string(), taskQueue: z.string(), timeToStartSeconds: z.number().int() }).nullable().optional(),
  })
  .meta({ id: 'RunStatus' });

/**
 * How a finished run ended (runs.result): the workflow's RetrainingRunResult when it finished, or a
 * reason (with the step it reached) when it was cancelled, failed, or never started.
 */
export const runResultOutput = z.object({
  runId: z.string().optional(),
  outcome: z.enum(RUN_OUTCOMES).optional(),
  candidateVersionId: z.number().int().nullable().optional(),
  candidateVersion: z.number().int().nullable().optional(),
  gateDecision: gateDecision.nullable().optional(),
  humanDecision: z.enum(['approve', 'reject', 'timeout']).nullable().optional(),
  productionVersionId: z.number().int().nullable().optional(),
  reason: z.string(),
  step: z.enum(RUN_STEPS).optional(),
});

// ---- models.lineage ----

export const lineageOutput = z.object({
  model: z.string(),
  version: z.number().int(),
  status: z.enum(VERSION_STATUSES),
  /**
   * The trainer as it reported itself when it trained the version (trainer contract): name, version and
   * code digest, and the queue it ran on. Versions from before the contract have the name alone.
   */
  trainer: z.object({ name: z.string(), version: z.string().nullable(), codeDigest: z.string().nullable(), taskQueue: z.string().nullable() }),
  /** The params the trainer was given (any JSON its params schema allows; the built-in trainer's are numbers). */
  params: jsonObject,
  artifactHash: z.string(),
  /** Where the artifact is: retrain-store:<sha256> in the control plane's store, or the trainer's own URI; null uri: in the version's row (before the contract). */
  artifact: z.object({ uri: z.string().nullable(), sha256: z.string(), size: z.number().int().nullable() }),
  /** Examples in the version's snapshot by where their label came from (annotation batch, import, feedback); null before the contract. */
  labelSources: z.record(z.string(), z.number().int()).nullable(),
  parentVersion: z.number().int().nullable(),
  runId: z.string().nullable(),
  snapshot: z.object({ id: z.number().int(), contentHash: z.string(), trainCount: z.number().int(), heldoutCount: z.number().int(), runId: z.string(), heldOutDesign: heldOutDesignOutput.nullable(), labelMix: labelMixOutput.nullable() }).nullable(),
  reports: z.array(z.object({ id: z.number().int(), runId: z.string(), role: z.enum(['candidate', 'champion']), contentHash: z.string(), createdAt: timestamp })),
  gate: z.object({ decision: z.enum(['approved', 'failed', 'needs_approval']), policyVersion: z.number().int().nullable(), packetHash: z.string().nullable() }).nullable(),
  approval: z.object({ decision: z.enum(['approved', 'rejected']), approver: z.string(), reason: z.string(), reportHash: z.string().nullable() }).nullable(),
  saturation: z.object({ verdict: saturationVerdict, contentHash: z.string() }).nullable(),
  deployments: z.array(z.object({ action: z.enum(['promote', 'rollback']), actor: z.string(), reason: z.string(), runId: z.string().nullable(), createdAt: timestamp })),
  createdAt: timestamp,
});

// ---- compile-time agreement between the schemas and the types they mirror ----

/** Intersections and interfaces flattened, so two spellings of one shape compare equal. */
type Flat<T> = T extends readonly unknown[] ? { [K in keyof T]: Flat<T[K]> } : T extends object ? { [K in keyof T]: Flat<T[K]> } : T;
type Equals<A, B> = (<X>() => X extends Flat<A> ? 1 : 2) extends <X>() => X extends Flat<B> ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
/** The keys of every member of a union. */
type Keys<T> = T extends unknown ? keyof T : never;
type SameKeys<A, B> = Equals<Keys<A>, Keys<B>>;
type Saturation = z.infer<typeof saturationReportOutput>;

export type SaturationReport = z.infer<typeof saturationReportOutput>;

export type OutputTypeChecks = [
  // analysis/policy may not import db/schema: its copy of the held-out design's shape must stay the stored one.
  Assert<Equals<HeldOutDesign, HeldOutDesignRecord>>,
  Assert<Equals<z.infer<typeof heldOutDesignOutput>, HeldOutDesign>>,
  Assert<Equals<SnapshotLabelMix, LabelMixRecord>>,
  Assert<Equals<z.infer<typeof labelMixOutput>, SnapshotLabelMix>>,
  Assert<Equals<z.infer<typeof approvalPacketOutput>, ApprovalPacket>>,
  Assert<Equals<z.infer<typeof fairlearnFairnessOutput>, FairlearnCompatibleFairness>>,
  Assert<Equals<z.infer<typeof versionEvaluationOutput>, VersionEvaluation>>,
  Assert<Equals<z.infer<typeof intersectionReportOutput>, IntersectionReport>>,
  Assert<Equals<z.infer<typeof fairnessReportOutput>, FairnessReport>>,
  Assert<Equals<z.infer<typeof versionCalibrationOutput>, VersionCalibration>>,
  Assert<Equals<z.infer<typeof thresholdChoiceOutput>, ThresholdChoice>>,
  Assert<Equals<z.infer<typeof untestedSegmentOutput>, UntestedSegment>>,
  Assert<Equals<z.infer<typeof policyJudgementOutput>, PolicyJudgement>>,
  Assert<Equals<z.infer<typeof ruleResultOutput>, RuleResult>>,
  Assert<Equals<z.infer<typeof runStatusOutput>, RunStatusView>>,
  Assert<Equals<(typeof RUN_STEPS)[number], RunStep>>,
  Assert<Equals<Required<z.infer<typeof runResultOutput>>, Required<RetrainingRunResult> & { step: RunStep }>>,
  // The saturation report has no TypeScript type of its own; its parts mirror the learning-curve types
  // key for key, with numbers that a degenerate fit or interval can leave undefined nullable here.
  Assert<Equals<Saturation['verdict']['verdict'], LearningCurveVerdict['verdict']>>,
  Assert<Equals<Saturation['verdict']['thresholds'], VerdictThresholds>>,
  Assert<SameKeys<Saturation['fit'], InversePowerLawFit>>,
  Assert<SameKeys<NonNullable<Extract<Saturation['fit'], { ok: false }>['optimum']>, NonNullable<InversePowerLawFitFailure['optimum']>>>,
  Assert<SameKeys<NonNullable<NonNullable<Saturation['ablation']>['interval']>, IntervalEvidence>>,
  Assert<SameKeys<NonNullable<NonNullable<NonNullable<Saturation['ablation']>['interval']>['interval']>, MeanDifferenceInterval>>,
  Assert<Equals<NonNullable<Saturation['ablation']>['perSeed'][number], AblationSeed>>,
  Assert<Equals<NonNullable<NonNullable<Saturation['ablation']>['rowTest']>, AblationRowTest>>,
  Assert<SameKeys<Saturation['evidence'], Omit<LearningCurveVerdict['evidence'], 'fit' | 'ablation'>>>,
  Assert<SameKeys<Saturation['evidence']['sizeComparisons'][number], LearningCurveVerdict['evidence']['sizeComparisons'][number]>>,
  Assert<SameKeys<NonNullable<Saturation['evidence']['fallback']>, NonNullable<LearningCurveVerdict['evidence']['fallback']>>>,
  Assert<SameKeys<NonNullable<Saturation['recency']>, RecencyEvidence>>,
  Assert<Equals<NonNullable<Saturation['recency']>['finding'], RecencyEvidence['finding']>>,
];
