// Output schemas of the larger answers (the approval packet, the saturation report, a run's result
// and live status, a version's lineage), so the tRPC client, the OpenAPI document and generated
// clients all see the shapes. Each schema mirrors a TypeScript type from analysis/ or workflows/;
// the checks at the end make `tsc` fail when the two drift apart.
//
// Stored JSON is what these validate: JSON has no NaN or Infinity (both are stored as null), so a
// number that can be undefined in the maths is nullable here and in its type.
import { z } from 'zod';
import { jsonObject } from './schemas';
import type { FairnessReport } from '../analysis/fairness';
import type { AblationRowTest } from '../analysis/ablation';
import { METRICS, thresholdConstraintsSchema, type PolicyJudgement, type RuleResult } from '../analysis/policy';
import type { ApprovalPacket, VersionEvaluation } from '../analysis/report';
import type { ThresholdChoice } from '../analysis/thresholds';
import type { UntestedSegment } from '../analysis/untested';
import type { AblationSeed, IntervalEvidence, LearningCurveVerdict, VerdictThresholds } from '../analysis/learningCurve';
import type { InversePowerLawFit, InversePowerLawFitFailure } from '../analysis/powerLaw';
import type { MeanDifferenceInterval } from '../analysis/numerics/intervals';
import { VERSION_STATUSES } from '../db/schema';
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
  support: z.number(),
  positives: z.number(),
  negatives: z.number(),
  counts: z.object({ tp: z.number(), fp: z.number(), tn: z.number(), fn: z.number() }),
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

const bootstrapIntervalOutput = intervalOutput.extend({ replicates: z.number(), undefinedReplicates: z.number() });

const fairnessReportOutput = z.object({
  attribute: z.string(),
  groups: z.array(z.object({ group: z.string(), count: z.number(), selection_rate: z.number().nullable(), tpr: z.number().nullable(), fpr: z.number().nullable() })),
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

export const versionEvaluationOutput = z
  .object({
    schemaVersion: z.literal(2),
    settings: z.object({ threshold: z.number(), confidence: z.number(), B: z.number(), seed: z.number() }),
    classification: z.object({
      threshold: z.number(),
      overall: sliceEvaluationOutput,
      slices: z.array(sliceEvaluationOutput),
      intersections: z.array(sliceEvaluationOutput),
    }),
    aucInterval: intervalOutput.extend({ method: z.enum(['bootstrap', 'delong']) }),
    fairness: z.array(fairnessReportOutput.extend({ excludedGroups: z.array(z.object({ group: z.string(), count: z.number() })) })),
    prCurve: chartCurveOutput,
    slicePrCurves: z.array(z.object({ attribute: z.string(), value: z.string(), curve: chartCurveOutput })),
  })
  .meta({ id: 'VersionEvaluation', description: 'One version evaluated on the held-out set: rates with Wilson intervals per slice, AUC interval, fairness gaps with bootstrap intervals, PR curves.' });

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
  candidatesScanned: z.number(),
  skippedSlices: z.array(z.object({ attribute: z.string(), value: z.string(), negatives: z.number() })),
});

const versionRef = z.object({ versionId: z.number(), version: z.number(), reportHash: z.string() });

const untestedSegmentOutput = z.object({
  attribute: z.string(),
  value: z.string(),
  trafficCount: z.number(),
  trafficShare: z.number(),
  heldOutSupport: z.number(),
  reason: z.enum(['absent', 'insufficient']),
});

export const approvalPacketOutput = z
  .object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    model: z.string(),
    policyVersion: z.number().nullable(),
    candidate: versionRef,
    champion: versionRef.nullable(),
    heldOut: z.object({ rows: z.number(), positives: z.number(), negatives: z.number() }),
    candidateEvaluation: versionEvaluationOutput,
    championEvaluation: versionEvaluationOutput.nullable(),
    /** Candidate minus champion per metric, overall and per slice value, paired on the same rows; null without a champion. */
    deltas: z.array(z.object({ attribute: z.string(), value: z.string(), metric: z.enum(METRICS), interval: intervalOutput })).nullable(),
    thresholds: z.array(z.object({ constraintsKey: z.string(), constraints: thresholdConstraintsSchema, choice: thresholdChoiceOutput })),
    costs: z
      .union([
        z.object({
          atThreshold: z.object({
            total: z.number(),
            perExample: z.number(),
            falsePositives: z.number(),
            falseNegatives: z.number(),
            bySlice: z.array(z.object({ attribute: z.string(), value: z.string(), cost: z.number(), share: z.number() })),
          }),
          cheapest: z.object({ threshold: z.number(), cost: z.number() }),
        }),
        z.object({ error: z.string() }),
      ])
      .nullable(),
    abstain: z
      .object({ lower: z.number(), upper: z.number(), coverage: z.number(), deferred: z.number(), errorRateOutside: z.number().nullable(), errorRateAll: z.number() })
      .nullable(),
    untested: z.array(untestedSegmentOutput),
    saturation: z
      .object({ verdict: z.enum(['improving', 'plateau', 'degrading']), reasons: z.array(z.string()), recommendation: z.string(), reportHash: z.string() })
      .optional(),
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
  by_group: z.record(z.string(), z.object({ selection_rate: z.number().nullable(), tpr: z.number().nullable(), fpr: z.number().nullable(), count: z.number() })),
});

// ---- the saturation report (activities/saturation storeSaturationReport) ----

const meanDifferenceOutput = z.object({
  method: z.enum(['paired', 'welch']),
  n: z.union([z.number(), z.tuple([z.number(), z.number()])]),
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
    degreesOfFreedom: z.number(),
    distinctSizes: z.number(),
    nMax: z.number(),
    errorAtMax: z.number(),
    projectedErrorAtDouble: z.number(),
    projectedGainFromDoubling: z.number(),
    projectedGainStandardError: z.number().nullable(),
    asymptoteGap: z.number(),
    asymptoteAtBound: z.boolean(),
  }),
  z.object({
    ok: z.literal(false),
    reason: z.enum(['fewer than 4 distinct sizes', 'error does not decrease with n', 'fit did not converge', 'parameters not identifiable (c unbounded)']),
    detail: z.string(),
    distinctSizes: z.number(),
    optimum: powerLawOutput.extend({ ssr: z.number().nullable(), standardErrors: powerLawErrorsOutput.nullable() }).nullable(),
  }),
]);

const mcnemarOutput = z.object({ worse: z.number(), better: z.number(), p: z.number() });
const saturationVerdict = z.enum(['improving', 'plateau', 'degrading']);

export const saturationReportOutput = z
  .object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    snapshotId: z.number(),
    settings: z.object({ fractions: z.array(z.number()), seeds: z.number(), trainerParams: jsonObject, threshold: z.number() }),
    /** Every training of the check: the nested subsets (curve) and the ablation without the newest batch. */
    points: z.array(
      z.object({
        variant: z.enum(['curve', 'without_newest']),
        fraction: z.number(),
        seed: z.number(),
        trainSize: z.number(),
        error: z.object({ estimate: z.number(), lower: z.number(), upper: z.number() }),
        heldOut: z.number(),
        seconds: z.number(),
      }),
    ),
    curve: z.array(z.object({ n: z.number(), fraction: z.number(), errors: z.array(z.number()), mean: z.number() })),
    /** The inverse power-law fit error = a + b n^-c, or why it could not be fitted. */
    fit: fitOutput,
    /** Ready for a chart: the measured sizes and twice the largest, with the fitted error at each; null without a fit. */
    chart: z.object({ n: z.array(z.number()), fitted: z.array(z.number()) }).nullable(),
    ablation: z
      .object({
        batch: z.object({ batchId: z.string(), examples: z.number(), annotators: z.array(z.string()) }),
        composition: z.array(z.object({ slice: z.string(), share: z.number(), lift: z.number() })),
        perSeed: z.array(
          z.object({
            seed: z.union([z.number(), z.string()]).optional(),
            withNewest: z.number(),
            withoutNewest: z.number(),
            slices: z.array(z.object({ slice: z.string(), withNewest: z.number(), withoutNewest: z.number() })).optional(),
          }),
        ),
        interval: intervalEvidenceOutput.nullable(),
        rowTest: z
          .object({
            overall: mcnemarOutput.extend({ significant: z.boolean() }),
            slices: z.array(mcnemarOutput.extend({ slice: z.string(), rows: z.number(), excessErrors: z.number(), errorRateIncrease: z.number(), significant: z.boolean() })),
            alpha: z.number(),
            rule: z.string(),
          })
          .nullable(),
        slicesMostAffected: z.array(
          z.object({ slice: z.string(), errorRateIncrease: z.number(), excessErrors: z.number(), worse: z.number(), better: z.number(), p: z.number(), significant: z.boolean() }),
        ),
      })
      .nullable(),
    evidence: z.object({
      sizeComparisons: z.array(intervalEvidenceOutput.extend({ smallerN: z.number(), largestN: z.number() })),
      fallback: intervalEvidenceOutput.extend({ previousN: z.number(), largestN: z.number(), gainPerDoubling: z.number() }).nullable(),
      ablationSlices: z.array(intervalEvidenceOutput.extend({ slice: z.string() })),
    }),
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
    snapshotId: z.number().nullable(),
    candidateVersionId: z.number().nullable(),
    candidateVersion: z.number().nullable(),
    championVersionId: z.number().nullable(),
    candidateReportId: z.number().nullable(),
    championReportId: z.number().nullable(),
    candidateReportHash: z.string().nullable(),
    gate: z.object({ policyVersion: z.number().nullable(), decision: gateDecision, reasons: z.array(z.string()), rules: z.array(ruleResultOutput) }).nullable(),
    approval: z
      .object({ deadline: z.string(), decision: z.enum(['approve', 'reject']).nullable(), approver: z.string().nullable(), reason: z.string().nullable() })
      .nullable(),
    outcome: z.enum(RUN_OUTCOMES).nullable(),
    annotation: z.object({ batchId: z.string(), tasks: z.number(), aggregated: z.number().nullable() }).nullable().optional(),
    saturation: z.object({ verdict: z.string(), recommendation: z.string(), reportId: z.number() }).nullable().optional(),
    trainer: z.object({ name: z.string(), taskQueue: z.string(), timeToStartSeconds: z.number() }).nullable().optional(),
  })
  .meta({ id: 'RunStatus' });

/**
 * How a finished run ended (runs.result): the workflow's RetrainingRunResult when it finished, or a
 * reason (with the step it reached) when it was cancelled, failed, or never started.
 */
export const runResultOutput = z.object({
  runId: z.string().optional(),
  outcome: z.enum(RUN_OUTCOMES).optional(),
  candidateVersionId: z.number().nullable().optional(),
  candidateVersion: z.number().nullable().optional(),
  gateDecision: gateDecision.nullable().optional(),
  humanDecision: z.enum(['approve', 'reject', 'timeout']).nullable().optional(),
  productionVersionId: z.number().nullable().optional(),
  reason: z.string(),
  step: z.enum(RUN_STEPS).optional(),
});

// ---- models.lineage ----

export const lineageOutput = z.object({
  model: z.string(),
  version: z.number(),
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
  artifact: z.object({ uri: z.string().nullable(), sha256: z.string(), size: z.number().nullable() }),
  /** Examples in the version's snapshot by where their label came from (annotation batch, import, feedback); null before the contract. */
  labelSources: z.record(z.string(), z.number()).nullable(),
  parentVersion: z.number().nullable(),
  runId: z.string().nullable(),
  snapshot: z.object({ id: z.number(), contentHash: z.string(), trainCount: z.number(), heldoutCount: z.number(), runId: z.string() }).nullable(),
  reports: z.array(z.object({ id: z.number(), runId: z.string(), role: z.enum(['candidate', 'champion']), contentHash: z.string(), createdAt: z.date() })),
  gate: z.object({ decision: z.enum(['approved', 'failed', 'needs_approval']), policyVersion: z.number().nullable(), packetHash: z.string().nullable() }).nullable(),
  approval: z.object({ decision: z.enum(['approved', 'rejected']), approver: z.string(), reason: z.string(), reportHash: z.string().nullable() }).nullable(),
  saturation: z.object({ verdict: saturationVerdict, contentHash: z.string() }).nullable(),
  deployments: z.array(z.object({ action: z.enum(['promote', 'rollback']), actor: z.string(), reason: z.string(), runId: z.string().nullable(), createdAt: z.date() })),
  createdAt: z.date(),
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
  Assert<Equals<z.infer<typeof approvalPacketOutput>, ApprovalPacket>>,
  Assert<Equals<z.infer<typeof fairlearnFairnessOutput>, FairlearnCompatibleFairness>>,
  Assert<Equals<z.infer<typeof versionEvaluationOutput>, VersionEvaluation>>,
  Assert<Equals<z.infer<typeof fairnessReportOutput>, FairnessReport>>,
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
];
