import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { ApprovalPacket } from '../../analysis/report';
import { approvals, evalReports, gateResults, modelVersions } from '../../db/schema';
import { ruleResultOutput, runId } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireRun } from './runs';

const reportRefOutput = z.object({
  reportId: z.number(),
  role: z.enum(['candidate', 'champion']),
  version: z.number(),
  contentHash: z.string(),
  snapshotId: z.number(),
  createdAt: z.date(),
});

export const reportsRouter = router({
  get: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/reports/{runId}',
        tags: ['reports'],
        summary: "A run's evidence: the approval packet (reports, deltas, fairness, thresholds, untested segments, rule outcomes) and the decision",
      },
    })
    .input(z.strictObject({ runId }))
    .output(
      z.object({
        runId: z.string(),
        reports: z.array(reportRefOutput),
        gate: z
          .object({ decision: z.string(), policyVersion: z.number().nullable(), reasons: z.array(z.string()), rules: z.array(ruleResultOutput) })
          .nullable(),
        packetHash: z.string().nullable(),
        /** The approval packet (analysis/report.ts ApprovalPacket), immutable and content-hashed. */
        packet: z.record(z.string(), z.unknown()).nullable(),
        approval: z
          .object({ decision: z.string(), approver: z.string(), reason: z.string(), reportHash: z.string().nullable(), createdAt: z.date() })
          .nullable(),
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const reports = await ctx.db
        .select({ report: evalReports, version: modelVersions.version })
        .from(evalReports)
        .innerJoin(modelVersions, eq(modelVersions.id, evalReports.versionId))
        .where(eq(evalReports.runId, input.runId))
        .orderBy(asc(evalReports.id));
      const [gate] = await ctx.db.select().from(gateResults).where(eq(gateResults.runId, input.runId));
      const [approval] = await ctx.db.select().from(approvals).where(eq(approvals.runId, input.runId));
      return {
        runId: input.runId,
        reports: reports.map(({ report, version }) => ({
          reportId: report.id,
          role: report.role,
          version,
          contentHash: report.contentHash,
          snapshotId: report.snapshotId,
          createdAt: report.createdAt,
        })),
        gate: gate
          ? { decision: gate.decision, policyVersion: gate.policyVersion, reasons: gate.reasons, rules: gate.rules as z.infer<typeof ruleResultOutput>[] }
          : null,
        packetHash: gate?.packetHash ?? null,
        packet: (gate?.packet as ApprovalPacket | null | undefined) ? (gate!.packet as Record<string, unknown>) : null,
        approval: approval
          ? { decision: approval.decision, approver: approval.approver, reason: approval.reason, reportHash: approval.reportHash, createdAt: approval.createdAt }
          : null,
      };
    }),
});
