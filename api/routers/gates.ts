import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { gatePolicySchema, judgePolicy, type GatePolicy } from '../../analysis/policy';
import { policyEvidence, type ApprovalPacket } from '../../analysis/report';
import { gateResultOf, runsAwaitingApproval } from '../../db/gates';
import { currentPolicy, policyVersions, setPolicy } from '../../db/policies';
import { decideGateUpdate, type DecideGateResult } from '../../workflows/messages';
import { requireFourEyes } from '../fourEyes';
import { verifyStoredPacket } from '../packetIntegrity';
import { updateRefusal } from '../workflowUpdates';
import { policyJudgementOutput } from '../outputs';
import { modelName, reason, runId, timestamp, timestampText } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { liveStatus, requireModel, requireRun } from '../lookups';

/** The approval packet's hash as reports.get and gates.list show it: what the approver read and signs. */
const packetHash = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'packetHash is the packet hash reports.get and gates.list show (sha256:<64 hex digits>)')
  .describe('The packet hash the approver read (reports.get packetHash)');

const decisionOutput = z.object({ runId: z.string(), decision: z.enum(['approve', 'reject']), approver: z.string(), reportHash: z.string().nullable() });

type AuthedContext = Context & { identity: NonNullable<Context['identity']> };

/** Evidence of a stored packet for a policy (as the dry run judges it). */
function judgeOnPacket(policy: GatePolicy | null, packet: ApprovalPacket) {
  return judgePolicy(policy, { ...policyEvidence(packet.candidateEvaluation, packet.deltas, packet.thresholds), saturation: packet.saturation ?? null });
}

async function decide(ctx: AuthedContext, id: string, decision: 'approve' | 'reject', why: string, packetHash: string | undefined) {
  const { run } = await requireRun(ctx.db, id);
  // Checked here for a clear answer, and again in the workflow's update validator, which is authoritative.
  const approverChain = await requireFourEyes(ctx, run);
  if (run.status !== 'awaiting_approval') {
    throw new TRPCError({ code: 'CONFLICT', message: `run ${id} is not waiting for a gate decision (status: ${run.status})` });
  }
  // The approval is bound to what was judged: the packet the approver read, intact, under the policy in force.
  const gate = await gateResultOf(ctx.db, id);
  verifyStoredPacket(id, gate);
  // (A run recorded before packets has no stored packet hash; the workflow compares with the hash it holds.)
  if (packetHash !== undefined && gate?.packetHash && packetHash !== gate.packetHash) {
    throw new TRPCError({
      code: 'CONFLICT',
      message: `packet hash mismatch: you signed ${packetHash}, run ${id}'s stored packet is ${gate.packetHash}; read it again (reports.get) and decide on what it says`,
    });
  }
  const current = await currentPolicy(ctx.db, run.modelId);
  const currentPolicyVersion = current?.version ?? null;
  if (decision === 'approve' && gate && currentPolicyVersion !== gate.policyVersion) {
    const packet = gate.packet as ApprovalPacket | null;
    let now: ReturnType<typeof judgeOnPacket> | null = null;
    try {
      now = packet ? judgeOnPacket(current ? gatePolicySchema.parse(current.document) : null, packet) : null;
    } catch {
      // A packet of an older shape the current policy cannot be judged on: the refusal stands without the dry run.
    }
    throw new TRPCError({
      code: 'CONFLICT',
      message:
        `run ${id} was judged under policy version ${String(gate.policyVersion)}, the model's policy is now version ${String(currentPolicyVersion)}` +
        (now ? ` (its dry run on this packet says ${now.decision}${now.reasons.length ? `: ${now.reasons.join('; ')}` : ''})` : '') +
        `: the judgement is stale and is not approved; reject this run and start a new one, which is judged under the policy in force`,
    });
  }
  let result: DecideGateResult;
  try {
    result = await ctx.temporal.workflow.getHandle(id).executeUpdate(decideGateUpdate, {
      args: [
        {
          decision,
          reason: why,
          approver: { subject: ctx.identity.subject, role: ctx.identity.role },
          approverChain,
          ...(packetHash !== undefined ? { packetHash } : {}),
          currentPolicyVersion,
        },
      ],
    });
  } catch (err) {
    throw updateRefusal(err, 'the gate decision');
  }
  ctx.log.info({ runId: id, workflowId: id, decision }, 'gate decided');
  return { runId: id, ...result };
}

const policyOutput = z.object({ model: z.string(), version: z.number().int(), policy: gatePolicySchema, createdBy: z.string(), createdAt: timestamp });

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
    .output(z.object({ model: z.string(), version: z.number().int() }))
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
    .output(policyJudgementOutput.extend({ runId: z.string(), policyVersion: z.number().int().nullable() }))
    .query(async ({ ctx, input }) => {
      const { run } = await requireRun(ctx.db, input.runId);
      const gate = await gateResultOf(ctx.db, input.runId);
      // Stored by activities/retraining evaluateVersions from buildApprovalPacket.
      const packet = gate?.packet as ApprovalPacket | null | undefined;
      if (!packet) throw new TRPCError({ code: 'CONFLICT', message: `run ${input.runId} has no approval packet yet (step: ${run.step})` });
      verifyStoredPacket(input.runId, gate);
      const current = input.policy ? null : await currentPolicy(ctx.db, run.modelId);
      const policy = input.policy ?? (current ? gatePolicySchema.parse(current.document) : null);
      // Threshold rules read the analyses stored in the packet; constraints it lacks fail closed as missing evidence.
      const judgement = judgeOnPacket(policy, packet);
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
          candidateVersion: z.number().int().nullable(),
          deadline: timestampText.nullable(),
          /** The stored approval packet's hash: what gates.approve must send back as packetHash. */
          packetHash: z.string().nullable(),
          /** The hash the workflow holds (the same as packetHash); kept for older clients. */
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
            packetHash: r.gate?.packetHash ?? null,
            reportHash: live?.candidateReportHash ?? null,
            reasons: r.gate?.reasons ?? [],
          };
        }),
      );
    }),

  approve: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/gates/{runId}/approve', tags: ['gates'], summary: 'Approve a gate: send the packet hash you read; never a run you started or whose starter issued your token' } })
    .input(z.strictObject({ runId, reason, packetHash }))
    .output(decisionOutput)
    .mutation(({ ctx, input }) => decide(ctx, input.runId, 'approve', input.reason, input.packetHash)),

  reject: roleProcedure('approver')
    .meta({ openapi: { method: 'POST', path: '/gates/{runId}/reject', tags: ['gates'], summary: 'Reject a gate' } })
    .input(z.strictObject({ runId, reason, packetHash: packetHash.optional() }))
    .output(decisionOutput)
    .mutation(({ ctx, input }) => decide(ctx, input.runId, 'reject', input.reason, input.packetHash)),
});
