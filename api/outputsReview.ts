// Output schemas of the served decision rule, the review queue and the abstain report (models.resolve,
// models.review, models.abstainReport), each held against the TypeScript type it describes, as
// api/outputsB does, so a field added on one side and not the other breaks `tsc`, not a client.
import { z } from 'zod';
import type { AbstainGroup, BandSide, ReviewQueueSummary, Share } from '../analysis/abstainReport';
import type { DecisionRule } from '../db/schema';
import { interval, timestampText } from './schemas';

type Agrees<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;

/** What a version serves (db/schema DecisionRule); a version evaluated before rules were frozen serves its threshold alone. */
export const decisionRuleOutput = z
  .object({
    threshold: z.number().describe('A score at or above it is a positive decision (spam: blocked); the decision an abstained request falls back to'),
    abstain: z
      .object({ lower: z.number(), upper: z.number() })
      .nullable()
      .describe("Scores s with lower <= s < upper are answered 'abstain' and queued for review; null: every request is decided"),
    policyVersion: z.number().int().nullable().describe('The gate policy version whose abstainHalfWidth made the band; null: none'),
  })
  .describe("The version's decision rule, frozen when its candidate was evaluated");

const shareOutput = z.object({ count: z.number().int(), n: z.number().int(), interval });

export const reviewQueueOutput = z.object({
  model: z.string(),
  /** The model's review SLA: an abstained request is due this long after it was served. */
  slaSeconds: z.number().int(),
  items: z.number().int(),
  pending: z.number().int(),
  overdue: z.number().int().describe('Pending past their due time'),
  reviewed: z.number().int(),
  withinSla: shareOutput.describe('Reviewed at or before their due time, of the reviewed, with a Wilson interval'),
  medianSecondsToReview: z.number().nullable().describe('From queued (served) to labelled, over reviewed items'),
  p90SecondsToReview: z.number().nullable(),
  oldestPendingDueAt: timestampText.nullable(),
});

const bandSideOutput = z.object({
  n: z.number().int(),
  abstained: shareOutput,
  coverage: z.number().nullable().describe('Decided share, 1 - abstained share'),
  errorOutside: shareOutput.describe('Wrong threshold decisions among decided rows with a label'),
});

export const abstainReportOutput = z.object({
  model: z.string(),
  version: z.number().int(),
  rule: decisionRuleOutput,
  /** False when the version has no frozen rule (it serves its threshold alone): the report shows what nothing abstains looks like. */
  ruleFrozen: z.boolean(),
  confidence: z.number(),
  /** Held-out rows the before side was computed on; null when the version's held-out scores are not stored. */
  heldOutRows: z.number().int().nullable(),
  groups: z.array(
    z.object({
      attribute: z.string().nullable(),
      value: z.string().nullable(),
      before: bandSideOutput.nullable(),
      after: bandSideOutput,
    }),
  ),
});

type _Checks = [
  Assert<Agrees<z.infer<typeof decisionRuleOutput>, DecisionRule>>,
  Assert<Agrees<z.infer<typeof shareOutput>, Share>>,
  Assert<Agrees<z.infer<typeof bandSideOutput>, BandSide>>,
  Assert<Agrees<z.infer<typeof abstainReportOutput>['groups'][number], AbstainGroup>>,
  Assert<Agrees<Omit<z.infer<typeof reviewQueueOutput>, 'model' | 'slaSeconds' | 'oldestPendingDueAt'>, Omit<ReviewQueueSummary, 'oldestPendingDueAt'>>>,
];
export type { _Checks as ReviewOutputChecks };
