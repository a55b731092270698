import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { gatePolicySchema, type RuleResult } from '../../analysis/policy';
import type { ApprovalPacket } from '../../analysis/report';
import { approvalOf, gateResultOf } from '../../db/gates';
import { evalReportsOfRun, saturationReportOf } from '../../db/reports';
import { evaluatePredictionsFile } from '../evaluateFile';
import { approvalPacketOutput, fairlearnFairnessOutput, policyJudgementOutput, saturationReportOutput, type SaturationReport } from '../outputs';
import { verifyStoredPacket } from '../packetIntegrity';
import { PredictionsFileError } from '../predictionsFile';
import { runId } from '../schemas';
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
    .output(z.object({ rows: z.number(), threshold: z.number(), packet: approvalPacketOutput, fairness: z.record(z.string(), fairlearnFairnessOutput) }))
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
        return result;
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
    .output(z.object({ runId: z.string(), verdict: z.enum(['improving', 'plateau', 'degrading']), contentHash: z.string(), createdAt: z.date(), report: saturationReportOutput }))
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const row = await saturationReportOf(ctx.db, input.runId);
      if (!row) {
        throw new TRPCError({
          code: 'NOT_FOUND',
          message: `run ${input.runId} has no saturation report (it ran without a check, or has not reached it; a policy 'saturation' rule or runs.start { saturation } asks for one)`,
        });
      }
      return { runId: row.runId, verdict: row.verdict, contentHash: row.contentHash, createdAt: row.createdAt, report: row.report as SaturationReport };
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
        gate: policyJudgementOutput.extend({ policyVersion: z.number().nullable() }).nullable(),
        packetHash: z.string().nullable(),
        /** The approval packet (analysis/report.ts ApprovalPacket), immutable and content-hashed. */
        packet: approvalPacketOutput.nullable(),
        approval: z
          .object({ decision: z.enum(['approved', 'rejected']), approver: z.string(), reason: z.string(), reportHash: z.string().nullable(), createdAt: z.date() })
          .nullable(),
      }),
    )
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      const reports = await evalReportsOfRun(ctx.db, input.runId);
      const gate = await gateResultOf(ctx.db, input.runId);
      // A packet that no longer hashes to its stored hash is refused (CONFLICT naming both), never served.
      verifyStoredPacket(input.runId, gate);
      const approval = await approvalOf(ctx.db, input.runId);
      return {
        runId: input.runId,
        reports,
        gate: gate
          ? { decision: gate.decision, policyVersion: gate.policyVersion, reasons: gate.reasons, rules: gate.rules as RuleResult[] }
          : null,
        packetHash: gate?.packetHash ?? null,
        // Stored by activities/retraining evaluateVersions from buildApprovalPacket.
        packet: (gate?.packet ?? null) as ApprovalPacket | null,
        approval: approval
          ? { decision: approval.decision, approver: approval.approver, reason: approval.reason, reportHash: approval.reportHash, createdAt: approval.createdAt }
          : null,
      };
    }),
});
