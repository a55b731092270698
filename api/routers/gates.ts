import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { gatePolicySchema, judgePolicy } from '../../analysis/policy';
import { policyEvidence, type ApprovalPacket } from '../../analysis/report';
import { gateResultOf, runsAwaitingApproval } from '../../db/gates';
import { currentPolicy, policyVersions, setPolicy } from '../../db/policies';
import { decideGateUpdate, type DecideGateResult } from '../../workflows/messages';
import { updateRefusal } from '../workflowUpdates';
import { policyJudgementOutput } from '../outputs';
import { modelName, reason, runId } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { liveStatus, requireModel, requireRun } from '../lookups';

const decisionOutput = z.object({ runId: z.string(), decision: z.enum(['approve', 'reject']), approver: z.string(), reportHash: z.string().nullable() });

async function decide(ctx: Context & { identity: NonNullable<Context['identity']> }, id: string, decision: 'approve' | 'reject', why: string) {
  const { run } = await requireRun(ctx.db, id);
  // Checked here for a clear answer, and again in the workflow's update validator, which is authoritative.
  if (run.requestedBy === ctx.identity.subject) {
    throw new TRPCError({ code: 'FORBIDDEN', message: `${ctx.identity.subject} started run ${id} and may not decide its gate (four eyes)` });
  }
  if (run.status !== 'awaiting_approval') {
    throw new TRPCError({ code: 'CONFLICT', message: `run ${id} is not waiting for a gate decision (status: ${run.status})` });
  }
  let result: DecideGateResult;
  try {
    result = await ctx.temporal.workflow.getHandle(id).executeUpdate(decideGateUpdate, {
      args: [{ decision, reason: why, approver: { subject: ctx.identity.subject, role: ctx.identity.role } }],
    });
  } catch (err) {
    throw updateRefusal(err, 'the gate decision');
  }
  return { runId: id, ...result };
}

const policyOutput = z.object({ model: z.string(), version: z.number(), policy: gatePolicySchema, createdBy: z.string(), createdAt: z.date() });

export const gatesRouter = router({
  getPolicy: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/policy', tags: ['gates'], summary: 'The gate policy in force (highest version)' } })
    .input(z.strictObject({ model: modelName }))
    .output(policyOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const current = await currentPolicy(ctx.db, model.id);
      if (!current) throw new TRPCError({ code: 'NOT_FOUND', message: `model '${input.model}' has no gate policy; until one is set no run is approved` });
      return { model: model.name, version: current.version, policy: gatePolicySchema.parse(current.document), createdBy: current.createdBy, createdAt: current.createdAt };
    }),

  setPolicy: roleProcedure('operator')
    .meta({ openapi: { method: 'PUT', path: '/models/{model}/policy', tags: ['gates'], summary: 'Store a new gate policy version' } })
    .input(z.strictObject({ model: modelName, policy: gatePolicySchema }))
    .output(z.object({ model: z.string(), version: z.number() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const version = await setPolicy(ctx.db, model.id, input.policy, ctx.identity.subject);
      return { model: model.name, version };
    }),

  dryRun: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'POST',
        path: '/gates/{runId}/dry-run',
        tags: ['gates'],
        summary: "Judge a policy (given, or the model's current one) against a run's stored packet; starts and writes nothing",
      },
    })
    .input(z.strictObject({ runId, policy: gatePolicySchema.optional() }))
    .output(policyJudgementOutput.extend({ runId: z.string(), policyVersion: z.number().nullable() }))
    .query(async ({ ctx, input }) => {
      const { run } = await requireRun(ctx.db, input.runId);
      const gate = await gateResultOf(ctx.db, input.runId);
      // Stored by activities/retraining evaluateVersions from buildApprovalPacket.
      const packet = gate?.packet as ApprovalPacket | null | undefined;
      if (!packet) throw new TRPCError({ code: 'CONFLICT', message: `run ${input.runId} has no approval packet yet (step: ${run.step})` });
      const current = input.policy ? null : await currentPolicy(ctx.db, run.modelId);
      const policy = input.policy ?? (current ? gatePolicySchema.parse(current.document) : null);
      // Threshold rules read the analyses stored in the packet; constraints it lacks fail closed as missing evidence.
      const judgement = judgePolicy(policy, { ...policyEvidence(packet.candidateEvaluation, packet.deltas, packet.thresholds), saturation: packet.saturation ?? null });
      return { runId: input.runId, policyVersion: current?.version ?? null, ...judgement };
    }),

  policyHistory: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/policy/versions', tags: ['gates'], summary: 'Every version of the gate policy' } })
    .input(z.strictObject({ model: modelName }))
    .output(z.array(policyOutput))
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await policyVersions(ctx.db, model.id);
      return rows.map((r) => ({ model: model.name, version: r.version, policy: gatePolicySchema.parse(r.document), createdBy: r.createdBy, createdAt: r.createdAt }));
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/gates', tags: ['gates'], summary: 'Gates waiting for a human, oldest first' } })
    .input(z.strictObject({}).optional())
    .output(
      z.array(
        z.object({
          runId: z.string(),
          model: z.string(),
          requestedBy: z.string(),
          candidateVersion: z.number().nullable(),
          deadline: z.string().nullable(),
          reportHash: z.string().nullable(),
          reasons: z.array(z.string()),
        }),
      ),
    )
    .query(async ({ ctx }) => {
      const rows = await runsAwaitingApproval(ctx.db);
      return Promise.all(
        rows.map(async (r) => {
          const live = await liveStatus(ctx, r.run.id);
          return {
            runId: r.run.id,
            model: r.model,
            requestedBy: r.run.requestedBy,
            candidateVersion: live?.candidateVersion ?? null,
            deadline: live?.approval?.deadline ?? null,
            reportHash: live?.candidateReportHash ?? null,
            reasons: r.gate?.reasons ?? [],
          };
        }),
      );
    }),

  approve: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/gates/{runId}/approve', tags: ['gates'], summary: 'Approve a gate (never your own run)' } })
    .input(z.strictObject({ runId, reason }))
    .output(decisionOutput)
    .mutation(({ ctx, input }) => decide(ctx, input.runId, 'approve', input.reason)),

  reject: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/gates/{runId}/reject', tags: ['gates'], summary: 'Reject a gate' } })
    .input(z.strictObject({ runId, reason }))
    .output(decisionOutput)
    .mutation(({ ctx, input }) => decide(ctx, input.runId, 'reject', input.reason)),
});
