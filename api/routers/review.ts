// The served abstain band, for readers: the review queue's status and SLA (abstained requests waiting for a
// person, db/review), and the band judged before (held-out, as the packet predicted) and after (served traffic).
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { abstainReport, reviewQueueSummary } from '../../analysis/abstainReport';
import { routedVersion } from '../../db/models';
import { snapshotMembers } from '../../db/queries';
import { heldOutScoresOf, reviewTimesOf, servedBandTallies, versionRow } from '../../db/review';
import { abstainReportOutput, reviewQueueOutput } from '../outputsReview';
import { requireModel } from '../lookups';
import { modelName, positiveInt } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { servingRule } from './models';

const CONFIDENCE = 0.95;

export const reviewRouter = router({
  queue: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{name}/review',
        tags: ['models'],
        summary:
          "The review queue of abstained requests (scores inside the serving version's abstain band): pending, overdue, reviewed, the share reviewed within the SLA (Wilson interval), median and p90 time to review, the oldest pending due time",
      },
    })
    .input(z.strictObject({ name: modelName }))
    .output(reviewQueueOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const items = await reviewTimesOf(ctx.db, model.id);
      const s = reviewQueueSummary(
        items.map((t) => ({ queuedAt: t.queuedAt.getTime(), dueAt: t.dueAt.getTime(), reviewedAt: t.reviewedAt?.getTime() ?? null })),
        Date.now(),
        CONFIDENCE,
      );
      return { model: model.name, slaSeconds: model.reviewSlaSeconds, ...s, oldestPendingDueAt: s.oldestPendingDueAt === null ? null : new Date(s.oldestPendingDueAt).toISOString() };
    }),

  abstainReport: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{name}/abstain-report',
        tags: ['models'],
        summary:
          "A version's abstain band before and after, overall and per slice value: before, the band's share and the error rate outside it on held-out (the packet's prediction); after, the abstained share of served requests and the error rate outside the band among served requests whose example has a label selected by design (imports, annotation samples; review labels are left out, selected by the model and inside the band by construction, and so are feedback labels, selected by users mostly where the decision was wrong), each with Wilson intervals and counts. Default version: production",
      },
    })
    .input(z.strictObject({ name: modelName, version: positiveInt().optional() }))
    .output(abstainReportOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.name);
      const v = input.version !== undefined ? await versionRow(ctx.db, model.id, input.version) : await routedVersion(ctx.db, model.id, 'production');
      if (!v) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: input.version !== undefined ? `model '${model.name}' has no version ${input.version}` : `model '${model.name}' has no production version; name one with version`,
        });
      }
      const { rule } = await servingRule(ctx.db, v.versionId, v.decisionRule ?? null);
      const scored = await heldOutScoresOf(ctx.db, v.versionId);
      let heldOut: { label: number; score: number; slices: Record<string, string> }[] | null = null;
      if (scored) {
        const members = await snapshotMembers(ctx.db, scored.snapshotId, 'heldout');
        // The score set is in the held-out split's exampleId order, as snapshotMembers reads it; a mismatch means it is not this split's.
        if (members.length === scored.scores.length) heldOut = members.map((m, i) => ({ label: m.label, score: scored.scores[i]!, slices: m.slices }));
      }
      const served = await servedBandTallies(ctx.db, model.id, v.versionId, rule.threshold);
      return {
        model: model.name,
        version: v.version,
        rule,
        ruleFrozen: v.decisionRule !== null && v.decisionRule !== undefined,
        confidence: CONFIDENCE,
        heldOutRows: heldOut?.length ?? null,
        groups: abstainReport({ rule, heldOut, served, confidence: CONFIDENCE }),
      };
    }),
});
