import { TRPCError } from '@trpc/server';
import { asc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { gatePolicySchema } from '../../analysis/policy';
import type { ApprovalPacket } from '../../analysis/report';
import { evaluatePredictionsFile } from '../evaluateFile';
import { PredictionsFileError } from '../predictionsFile';
import { approvals, evalReports, gateResults, modelVersions, saturationReports } from '../../db/schema';
import { ruleResultOutput, runId } from '../schemas';
import { roleProcedure, router } from '../trpc';
import { requireRun } from '../lookups';

const reportRefOutput = z.object({
  reportId: z.number(),
  role: z.enum(['candidate', 'champion']),
  version: z.number(),
  contentHash: z.string(),
  snapshotId: z.number(),
  createdAt: z.date(),
});

const columnList = z.array(z.string().min(1).max(100)).max(50);

export const reportsRouter = router({
  evaluateFile: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'POST',
        path: '/reports/evaluate-file',
        tags: ['reports'],
        summary: "Evaluate uploaded predictions (CSV or JSONL with label and score): the packet, and fairness in Fairlearn's names",
      },
    })
    .input(
      z.strictObject({
        content: z.string().min(1).max(50_000_000),
        fileName: z.string().max(300).optional(),
        format: z.enum(['csv', 'jsonl']).optional(),
        slices: columnList.optional(),
        sensitive: columnList.optional(),
        threshold: z.number().min(0).max(1).optional(),
        policy: gatePolicySchema.optional(),
        bootstrap: z.number().int().min(10).max(10_000).optional(),
      }),
    )
    .output(z.object({ rows: z.number(), threshold: z.number(), packet: z.record(z.string(), z.unknown()), fairness: z.record(z.string(), z.unknown()) }))
    .mutation(({ input }) => {
      try {
        const result = evaluatePredictionsFile(input.content, {
          ...(input.fileName ? { fileName: input.fileName } : {}),
          ...(input.format ? { format: input.format } : {}),
          ...(input.slices ? { slices: input.slices } : {}),
          ...(input.sensitive ? { sensitive: input.sensitive } : {}),
          ...(input.threshold !== undefined ? { threshold: input.threshold } : {}),
          ...(input.bootstrap !== undefined ? { B: input.bootstrap } : {}),
          policy: input.policy ?? null,
        });
        return { ...result, packet: result.packet as unknown as Record<string, unknown> };
      } catch (err) {
        if (err instanceof PredictionsFileError) throw new TRPCError({ code: 'BAD_REQUEST', message: err.message });
        throw err;
      }
    }),

  saturation: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/reports/{runId}/saturation',
        tags: ['reports'],
        summary: "A run's saturation report: learning-curve points with intervals, the inverse power-law fit, the newest-batch ablation and the verdict",
      },
    })
    .input(z.strictObject({ runId }))
    .output(z.object({ runId: z.string(), verdict: z.string(), contentHash: z.string(), createdAt: z.date(), report: z.record(z.string(), z.unknown()) }))
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const [row] = await ctx.db.select().from(saturationReports).where(eq(saturationReports.runId, input.runId));
      if (!row) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `run ${input.runId} has no saturation report (it ran without a check, or has not reached it; a policy 'saturation' rule or runs.start { saturation } asks for one)`,
        });
      }
      return { runId: row.runId, verdict: row.verdict, contentHash: row.contentHash, createdAt: row.createdAt, report: row.report as Record<string, unknown> };
    }),

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
