// Output schemas of the feedback, annotation and audits routers whose shapes are too big to sit beside
// their procedures: flywheel health, the stored bodies of annotation batches and audit reports. Each is
// held against the TypeScript type of what it describes (the `Agrees` checks at the end), so a field
// added on one side and not the other breaks `tsc`, not a client.
import { z } from 'zod';
import type { FlywheelHealth } from '../analysis/flywheel';
import type { chooseLabelDesign, judgeDriftSignals, judgedFindings } from '../analysis/drift';
import type { GoldDrift, LabelsQuality } from '../analysis/labelQuality';
import type { HeldTask } from '../db/annotation';
import { interval, timestamp, timestampText } from './schemas';

/** True when A and B are assignable both ways. */
type Agrees<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

// ---- feedback.health ----------------------------------------------------------------------------------

const ci95Output = z.object({ lower: z.number().nullable(), upper: z.number().nullable() });
const sourceMixOutput = z.object({
  total: z.number().int(),
  mix: z.array(z.object({ source: z.string(), count: z.number().int(), share: z.number().nullable() })),
});

export const flywheelHealthOutput = z.object({
  model: z.string(),
  window: z.object({ from: timestampText, to: timestampText, buckets: z.number().int(), bucketSeconds: z.number().describe('The window’s length divided by the buckets, in seconds (real-valued)') }),
  /** Coverage-kind feedback events in the window, and how many name a request_id found in the window's traffic. */
  feedback: z.object({ events: z.number().int(), linkedToTraffic: z.number().int() }),
  /** Attribute keys seen in traffic beyond the most frequent (db/feedback MAX_FLYWHEEL_ATTRIBUTES) (only when slices were not given). */
  attributesOmitted: z.number().int(),
  settings: z.object({
    minSliceSupport: z.number().int(),
    underRatio: z.number(),
    selfLabelLimit: z.number(),
    alpha: z.number(),
    minRelativeRise: z.number(),
    minBucketSupport: z.number().int(),
  }),
  explicitRate: z.object({ kinds: z.array(z.string()), requests: z.number().int(), withExplicit: z.number().int(), rate: z.number().nullable(), ci95: ci95Output }),
  coverage: z.object({
    kinds: z.array(z.string()),
    rule: z.string(),
    attributes: z.array(
      z.object({
        attribute: z.string(),
        traffic: z.number().int(),
        feedback: z.number().int(),
        valuesOmitted: z.number().int(),
        values: z.array(
          z.object({
            value: z.string(),
            traffic: z.number().int(),
            feedback: z.number().int(),
            trafficShare: z.number().nullable(),
            feedbackShare: z.number().nullable(),
            feedbackShareCi95: ci95Output,
            ratio: z.number().nullable(),
            ratioUpper: z.number().nullable(),
            status: z.enum(['ok', 'under', 'insufficient']),
          }),
        ),
      }),
    ),
    under: z.array(
      z.object({ attribute: z.string(), value: z.string(), trafficShare: z.number(), feedbackShare: z.number(), ratio: z.number(), ratioUpper: z.number() }),
    ),
  }),
  labelSources: z.object({
    overall: sourceMixOutput,
    latestSnapshot: sourceMixOutput
      .extend({
        snapshotId: z.number().int(),
        createdAt: timestampText,
        /** Training labels by who chose them (design, model, user): the snapshot's label_mix, or its members' selections for older snapshots. */
        bySelector: z.object({ total: z.number().int(), mix: z.array(z.object({ selector: z.string(), count: z.number().int(), share: z.number().nullable() })) }).nullable(),
      })
      .nullable(),
    /** Source 'model' or selector 'model'. */
    selfLabelShare: z.number().nullable(),
    /** Selector 'user': feedback corrections. */
    userSelectedShare: z.number().nullable(),
    selfLabelLimit: z.number(),
    selfLabelAlert: z.boolean(),
    rule: z.string(),
  }),
  overrideTrend: z.object({
    kinds: z.array(z.string()),
    buckets: z.array(z.object({ start: timestampText, traffic: z.number().int(), corrections: z.number().int(), rate: z.number().nullable(), ci95: ci95Output })),
    slope: z.number().nullable(),
    staleness: z.object({
      status: z.enum(['alert', 'ok', 'insufficient']),
      alert: z.boolean(),
      latestRate: z.number().nullable(),
      baselineRate: z.number().nullable(),
      relativeRise: z.number().nullable(),
      z: z.number().nullable(),
      p: z.number().nullable(),
      rule: z.string(),
      detail: z.string(),
    }),
  }),
  alerts: z.array(z.string()),
});

/** What feedback.health returns: the flywheel's judgement and the window it judged. */
export type FlywheelHealthView = FlywheelHealth & {
  model: string;
  window: { from: string; to: string; buckets: number; bucketSeconds: number };
  feedback: { events: number; linkedToTraffic: number };
  attributesOmitted: number;
};

// ---- annotation: tasks, batches' stored SLA and estimate, annotators' gold accuracy -------------------

export const heldTaskOutput = z.object({
  taskId: z.number().int(),
  batchId: z.string(),
  example: z.object({ externalId: z.string(), input: z.record(z.string(), z.string()) }),
  spec: z.object({ version: z.number().int(), guidelines: z.string(), labels: z.array(z.string()) }),
  /** You adjudicate: other annotators disagreed on this item. */
  adjudication: z.boolean(),
  expiresAt: timestamp,
});

/** What closing a batch recorded (activities/annotation closeAnnotationBatch); null while it is open. */
export const batchSlaOutput = z.object({
  closedBy: z.enum(['complete', 'deadline', 'cancelled']),
  hoursOpen: z.number(),
  labels: z.number().int(),
  medianSecondsToLabel: z.number().nullable(),
  p90SecondsToLabel: z.number().nullable(),
  backlogAtClose: z.number().int(),
  adjudicationPending: z.number().int(),
  reassigned: z.number().int(),
});

const biasFlag = z.object({
  slice: z.string(),
  value: z.string(),
  /** Disagreement rate of the annotator's labels on items in the slice value. */
  disagreement: z.number(),
  /** Disagreement rate on the annotator's other (referenced) labels. */
  rest: z.number(),
  n: z.number().int(),
  /** Holm-adjusted two-sided Fisher p-value. */
  p: z.number(),
});

/** Agreement and annotator quality of a batch's labels (analysis/labelQuality), without the per-item aggregations. */
const batchQuality = z.object({
  labels: z.number().int(),
  items: z.number().int(),
  annotators_count: z.number().int(),
  class_balance: z.array(z.object({ category: z.string(), share: z.number() })),
  cohen_kappa_mean: z.number().nullable(),
  cohen_pairs: z.array(z.object({ a: z.string(), b: z.string(), n: z.number().int(), kappa: z.number().nullable() })),
  fleiss_kappa: z.number().nullable(),
  fleiss_items_used: z.number().int(),
  krippendorff_alpha: z.number().nullable(),
  annotators: z.record(z.string(), z.object({ labels: z.number().int(), gold_count: z.number().int(), gold_accuracy: interval, flags: z.array(biasFlag) })),
  dawid_skene_iterations: z.number().int(),
});

/** The aggregation summary of a batch (activities/annotation AggregationSummary). */
const aggregationSummary = z.object({
  batchId: z.string(),
  /** Items given a training label. */
  aggregated: z.number().int(),
  adjudicated: z.number().int(),
  /** Items where Dawid-Skene and majority vote disagree. */
  dsMajorityDisagreements: z.number().int(),
  /** Production accuracy estimated from the labelled sample (Horvitz-Thompson). */
  productionAccuracy: z
    .object({ estimate: z.number(), lower: z.number(), upper: z.number(), n: z.number().int(), populationSize: z.number().int(), nonresponse: z.number().int() })
    .nullable(),
  /** Annotators flagged for a slice bias: who, where, how strongly. */
  biasFlags: z.array(biasFlag.extend({ annotator: z.string() })),
  krippendorffAlpha: z.number().nullable(),
});

/** What aggregating a batch stored: its summary, and its agreement when it had labels; null before. */
export const batchEstimateOutput = z.object({ summary: aggregationSummary, quality: batchQuality.optional() });
export type BatchEstimate = z.infer<typeof batchEstimateOutput>;

/** An annotator's gold accuracy batch by batch, and whether the latest batch drifted below the earlier ones. */
export const goldDriftOutput = z.object({
  series: z.array(z.object({ batchId: z.string(), at: z.string().describe('When the batch was created, as PostgreSQL prints a timestamptz (e.g. 2026-01-31 12:00:00.123+00)'), gold: z.number().int(), correct: z.number().int(), accuracy: interval })),
  latest: interval.nullable(),
  baseline: interval.nullable(),
  p: z.number().nullable(),
  drifted: z.boolean(),
  rule: z.string(),
});

// ---- audits.report: the stored bodies (activities/audits) -----------------------------------------------

/** A proportion with its interval and the (effective) trials it rests on; a weighted window rate also carries its rows and weight. */
const rateEvidence = interval.extend({
  /** Trials: the denominator count, or the Kish effective size for weighted data. */
  n: z.number().describe('Trials: the denominator count, or the Kish effective size for weighted data (real-valued)'),
  events: z.number().describe('Events on the same scale as n (estimate ~ events / n); real-valued for weighted data'),
  /** Labelled rows in the denominator (weighted window rates). */
  rows: z.number().int().optional(),
  /** Sum of weights over them (weighted window rates). */
  weight: z.number().optional(),
});

const psiBand = z.enum(['stable', 'moderate', 'significant']);

/** A re-audit's findings against the pre-launch audit (analysis/drift compareWithPrelaunch, judgedFindings). */
const driftComparison = z.object({
  dataDrift: z.array(
    z.object({
      attribute: z.string(),
      psi: z.number(),
      band: psiBand,
      p: z.number().nullable(),
      df: z.number(),
      statistic: z.number(),
      categories: z.array(
        z.object({ category: z.string(), expectedCount: z.number().int(), actualCount: z.number().int(), expected: z.number(), actual: z.number(), contribution: z.number() }),
      ),
      crossed: z.boolean(),
    }),
  ),
  conceptDrift: z.array(
    z.object({
      slice: z.string(),
      attribute: z.string(),
      value: z.string(),
      metric: z.enum(['fpr', 'fnr']),
      prelaunch: rateEvidence,
      window: rateEvidence,
      /** Window minus pre-launch, with its Newcombe interval. */
      difference: interval,
      threshold: z.number().nullable(),
      crossed: z.boolean(),
    }),
  ),
  fairness: z.array(
    z.object({
      attribute: z.string(),
      metric: z.enum(['fpr_difference', 'tpr_difference', 'demographic_parity_difference']),
      prelaunch: interval.extend({ high: z.string(), low: z.string(), groups: z.number().int() }).nullable(),
      window: interval.extend({ high: z.string(), low: z.string(), groups: z.number().int() }).nullable(),
      threshold: z.number(),
      crossed: z.boolean(),
    }),
  ),
  insufficient: z.array(
    z.object({
      slice: z.string(),
      metric: z.enum(['fpr', 'fnr', 'selectionRate', 'distribution']),
      prelaunchSupport: z.number().nullable().describe('Pre-launch trials: a count, or the Kish effective size of weighted rates (real-valued)'),
      windowSupport: z.number().nullable().describe('Window trials: a count, or the Kish effective size of weighted rates (real-valued)'),
      detail: z.string(),
    }),
  ),
  alert: z.boolean(),
  reasons: z.array(z.string()),
  policy: z.object({
    maxFprIncrease: z.number(),
    maxFnrIncrease: z.number().nullable(),
    maxFairnessGap: z.number(),
    fairnessMetrics: z.array(z.enum(['fpr_difference', 'tpr_difference', 'demographic_parity_difference'])),
    maxPsi: z.number(),
    psiAlpha: z.number(),
    minSupport: z.number().int(),
    confidence: z.number(),
    psiEpsilon: z.number(),
  }),
});

/** What every stored audit report starts with. */
const auditReportHead = {
  schemaVersion: z.number().int(),
  /** The production version audited, and the evaluation report its pre-launch audit came from. */
  versionId: z.number().int(),
  prelaunchEvalReportId: z.number().int(),
  window: z.object({ from: timestampText, to: timestampText }),
  /** Requests in the window. */
  requests: z.number().int(),
};

/** A bias re-audit's stored report (activities/audits reauditWindow). */
export const biasReauditReportOutput = z.object({
  ...auditReportHead,
  /** Requests with a label of the chosen design. */
  labelled: z.number().int(),
  labelDesign: z.enum(['annotation_sample', 'review', 'none']),
  labelCounts: z.object({ annotation: z.number().int(), review: z.number().int() }),
  /** How the window's rates were estimated. */
  method: z.string(),
  comparison: driftComparison,
});

const overrideCounts = z.object({ requests: z.number().int(), overridden: z.number().int() });

/** A drift monitor's stored report (activities/audits measureDrift). */
export const driftMonitorReportOutput = z.object({
  ...auditReportHead,
  drift: z.boolean(),
  reasons: z.array(z.string()),
  /** PSI of each watched attribute's traffic against the pre-launch population; null where the window has no traffic. */
  population: z.array(
    z.union([
      z.object({ attribute: z.string(), psi: z.number(), band: psiBand, p: z.number().nullable(), crossed: z.boolean() }),
      z.object({ attribute: z.string(), psi: z.null(), band: z.null(), p: z.null(), crossed: z.boolean() }),
    ]),
  ),
  /** The correction rate against the previous window of the same length. */
  overrides: z.object({ current: overrideCounts, previous: overrideCounts, difference: interval, crossed: z.boolean(), enough: z.boolean() }),
});

// ---- checks: each schema against the type it describes -----------------------------------------------
// The batch SLA, the aggregation summary and the reports' heads are built in activities/, whose types
// api/ may not import; the tests that read them through the API (e2e annotation, drift monitor,
// bias re-audit) validate those against these schemas at run time.

export type OutputChecks = [
  Assert<Agrees<z.infer<typeof flywheelHealthOutput>, FlywheelHealthView>>,
  Assert<Agrees<z.infer<typeof heldTaskOutput>, HeldTask>>,
  Assert<Agrees<z.infer<typeof batchQuality>, Omit<LabelsQuality, 'dawid_skene' | 'majority'>>>,
  Assert<Agrees<z.infer<typeof biasFlag>, LabelsQuality['annotators'][string]['flags'][number]>>,
  Assert<Agrees<z.infer<typeof goldDriftOutput>, GoldDrift>>,
  Assert<Agrees<z.infer<typeof driftComparison>, ReturnType<typeof judgedFindings>>>,
  Assert<Agrees<Pick<z.infer<typeof biasReauditReportOutput>, 'labelDesign' | 'labelCounts'>, { labelDesign: ReturnType<typeof chooseLabelDesign>['design']; labelCounts: ReturnType<typeof chooseLabelDesign>['counts'] }>>,
  Assert<Agrees<Omit<z.infer<typeof driftMonitorReportOutput>, keyof typeof auditReportHead>, ReturnType<typeof judgeDriftSignals>>>,
];
