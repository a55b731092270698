// Output schemas of the feedback, annotation and audits routers whose shapes are too big to sit beside
// their procedures: flywheel health, the stored bodies of annotation batches and audit reports. Each is
// held against the TypeScript type of what it describes (the `Agrees` checks at the end), so a field
// added on one side and not the other breaks `tsc`, not a client.
import { z } from 'zod';
import type { FlywheelHealth } from '../analysis/flywheel';

/** True when A and B are assignable both ways. */
type Agrees<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

// ---- feedback.health ----------------------------------------------------------------------------------

const ci95Output = z.object({ lower: z.number().nullable(), upper: z.number().nullable() });
const sourceMixOutput = z.object({
  total: z.number(),
  mix: z.array(z.object({ source: z.string(), count: z.number(), share: z.number().nullable() })),
});

export const flywheelHealthOutput = z.object({
  model: z.string(),
  window: z.object({ from: z.string(), to: z.string(), buckets: z.number(), bucketSeconds: z.number() }),
  /** Coverage-kind feedback events in the window, and how many name a request_id found in the window's traffic. */
  feedback: z.object({ events: z.number(), linkedToTraffic: z.number() }),
  /** Attribute keys seen in traffic beyond the most frequent (db/feedback MAX_FLYWHEEL_ATTRIBUTES) (only when slices were not given). */
  attributesOmitted: z.number(),
  settings: z.object({
    minSliceSupport: z.number(),
    underRatio: z.number(),
    selfLabelLimit: z.number(),
    alpha: z.number(),
    minRelativeRise: z.number(),
    minBucketSupport: z.number(),
  }),
  explicitRate: z.object({ kinds: z.array(z.string()), requests: z.number(), withExplicit: z.number(), rate: z.number().nullable(), ci95: ci95Output }),
  coverage: z.object({
    kinds: z.array(z.string()),
    rule: z.string(),
    attributes: z.array(
      z.object({
        attribute: z.string(),
        traffic: z.number(),
        feedback: z.number(),
        valuesOmitted: z.number(),
        values: z.array(
          z.object({
            value: z.string(),
            traffic: z.number(),
            feedback: z.number(),
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
    latestSnapshot: sourceMixOutput.extend({ snapshotId: z.number(), createdAt: z.string() }).nullable(),
    selfLabelShare: z.number().nullable(),
    selfLabelLimit: z.number(),
    selfLabelAlert: z.boolean(),
    rule: z.string(),
  }),
  overrideTrend: z.object({
    kinds: z.array(z.string()),
    buckets: z.array(z.object({ start: z.string(), traffic: z.number(), corrections: z.number(), rate: z.number().nullable(), ci95: ci95Output })),
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

// ---- checks: each schema against the type it describes -----------------------------------------------

export type OutputChecks = [Assert<Agrees<z.infer<typeof flywheelHealthOutput>, FlywheelHealthView>>];
