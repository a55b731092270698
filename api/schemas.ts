// zod schemas shared by the routers: one definition per concept, with messages a user can act on.
import { z } from 'zod';
import { ROLES } from '../db/schema';

export const modelName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{1,62}$/, 'model names are 2-63 characters: lower-case letters, digits and dashes, starting with a letter');
export const runId = z.string().regex(/^run-[a-z0-9-]{4,120}$/, 'run ids look like run-<model>-<id>');
export const reason = z.string().trim().min(3, 'a reason of at least 3 characters is required').max(2000);
export const role = z.enum(ROLES);
export const subject = z
  .string()
  .regex(/^[a-zA-Z0-9_.@:-]{2,100}$/, 'subjects are 2-100 characters: letters, digits and _ . @ : -');
export const isoDate = z.iso.datetime({ offset: true });

export const trainerParamsInput = z
  .strictObject({
    dimsLog2: z.number().int().min(10).max(22),
    epochs: z.number().int().min(1).max(1000),
    learningRate: z.number().positive().max(10),
    l2: z.number().min(0).max(1),
    seed: z.number().int().min(0).max(2 ** 31 - 1),
    ngramMax: z.union([z.literal(1), z.literal(2)]),
  })
  .partial();

// PostgreSQL text and jsonb cannot hold U+0000: refuse it at the edge with a message, not a failed insert.
const storableText = (max: number) => z.string().max(max).refine((s) => !s.includes('\u0000'), 'contains a NUL character (U+0000), which cannot be stored; strip it');

export const exampleInput = z.strictObject({
  externalId: z.string().min(1).max(300),
  input: z.record(z.string().max(64), storableText(200_000)),
  label: z.union([z.literal(0), z.literal(1)]).nullable(),
  slices: z.record(z.string().max(64), z.string().max(200)).default({}),
  split: z.enum(['train', 'heldout']),
  observedAt: isoDate.optional(),
});

const interval = z.object({ estimate: z.number().nullable(), lower: z.number().nullable(), upper: z.number().nullable() });
const ruleOutcome = z.enum(['passed', 'failed', 'insufficient', 'needs_approval']);
export const ruleResultOutput = z.object({
  id: z.string(),
  kind: z.string(),
  outcome: ruleOutcome,
  onFail: z.enum(['block', 'ask']),
  detail: z.string(),
  checks: z.array(z.object({ slice: z.string(), outcome: ruleOutcome, observed: interval.nullable(), detail: z.string() })),
});

/** A positive integer from JSON or from a REST path/query string; no loose coercion (true, [7], '0x10' are refused). */
export const positiveInt = (max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.number().int().positive(), z.string().regex(/^[1-9]\d{0,15}$/, 'must be a positive integer').transform(Number)]).pipe(
    z.number().int().positive().max(max),
  );

/** How a run asks for labels before it trains (workflows/messages AnnotationSettings). */
export const annotationSettingsInput = z.strictObject({
  budget: z.number().int().min(1).max(100_000),
  overlap: z.number().int().min(1).max(9).optional(),
  goldShare: z.number().min(0).max(0.5).optional(),
  quorum: z.number().gt(0).max(1).optional(),
  deadlineSeconds: z.number().int().min(5).max(90 * 86400),
  assignmentSeconds: z.number().int().min(1).max(7 * 86400).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  explorationShare: z.number().min(0).max(1).optional(),
  sliceFloors: z.array(z.strictObject({ slice: z.string().min(1).max(64), value: z.string().max(200), min: z.number().int().min(1) })).max(100).optional(),
  longTailFloor: z.number().int().min(0).max(10_000).optional(),
  assignmentRules: z
    .array(z.strictObject({ slice: z.string().min(1).max(64), value: z.string().max(200), requires: z.record(z.string().min(1).max(64), z.string().max(200)) }))
    .max(100)
    .optional(),
});

/** How a run checks whether more data still helps (workflows/messages SaturationSettings). */
export const saturationSettingsInput = z.strictObject({
  fractions: z.array(z.number().gt(0).max(1)).min(4).max(12).optional(),
  seeds: z.number().int().min(2).max(10).optional(),
  minGainFromDoubling: z.number().min(0).max(1).optional(),
});

/** A staged rollout after the gate (workflows/messages RolloutPlan). */
export const rolloutPlanInput = z.strictObject({
  shadowSeconds: z.number().int().min(0).max(30 * 86400).optional(),
  steps: z
    .array(z.strictObject({ weight: z.number().gt(0).lt(1), analysisSeconds: z.number().int().min(1).max(30 * 86400) }))
    .min(1)
    .max(10)
    .optional(),
  rules: z
    .array(
      z.strictObject({
        metric: z.enum(['override_rate', 'report_rate']),
        maxIncrease: z.number().min(0).max(1),
        minRequests: z.number().int().min(1).optional(),
        perSlice: z.boolean().optional(),
      }),
    )
    .min(1)
    .max(10)
    .optional(),
  failureLimit: z.number().int().min(0).max(10).optional(),
  inconclusiveLimit: z.number().int().min(0).max(10).optional(),
});
