import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { z } from 'zod';
import { RUN_STATUSES } from '../../db/schema';
import {
  RUN_WORKFLOW_TYPE,
  canonicalSubject,
  modelSearchAttribute,
  pauseUpdate,
  promoteNowUpdate,
  resumeUpdate,
  rollbackUpdate,
  rolloutStatusQuery,
  stepSearchAttribute,
  triggerSearchAttribute,
  type RetrainingRunInput,
  type RoleName,
  type RunStatusView,
} from '../../workflows/messages';
import { findModelByName } from '../../db/models';
import { TRAINER_ACTIVITIES } from '../../trainers/contract';
import { currentPolicy } from '../../db/policies';
import { chainOf, requireFourEyes } from '../fourEyes';
import { insertQueuedRun, listRuns, markRunNotStarted, type RunRow } from '../../db/runs';
import { heldOutOptionSchema, runOptionsOf } from '../../analysis/policy';
import { runResultOutput, runStatusOutput } from '../outputs';
import { annotationSettingsInput, interval, modelName, positiveInt, reason, rolloutPlanInput, runId, saturationSettingsInput, timestamp, timestampText, trainerParamsInput } from '../schemas';
import { authedProcedure, roleAllows, roleProcedure, router, type Context } from '../trpc';
import { temporalFailure, updateRefusal } from '../workflowUpdates';
import { liveStatus, requireModel, requireRun } from '../lookups';
import { WAIT_UNTIL, waitForRun } from '../runWait';
import { runParams } from './trainers';

/** What started a run: a person, the first version's bootstrap, a schedule, the drift monitor, feedback. */
const RUN_TRIGGERS = ['manual', 'bootstrap', 'schedule', 'drift', 'feedback'] as const;

const runOutput = z.object({
  runId: z.string(),
  model: z.string(),
  trigger: z.string(),
  requestedBy: z.string(),
  status: z.enum(RUN_STATUSES),
  step: z.string(),
  candidateVersion: z.number().int().nullable(),
  gateDecision: z.string().nullable(),
  /** How the run ended; null while it runs. */
  result: runResultOutput.nullable(),
  startedAt: timestamp,
  finishedAt: timestamp.nullable(),
});

function toRunOutput(row: RunRow) {
  const r = row.run;
  return {
    runId: r.id,
    model: row.model,
    trigger: r.trigger,
    requestedBy: r.requestedBy,
    status: r.status,
    step: r.step,
    candidateVersion: row.candidateVersion ?? null,
    gateDecision: r.gateDecision,
    // Written by the workflow's finishRun (or by runs.start when Temporal refused the run) in this shape.
    result: (r.result ?? null) as z.infer<typeof runResultOutput> | null,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

// ---- a run waiting for its trainer's queue (trainer contract) ----

const TRAINER_ACTIVITY_TYPES: ReadonlySet<string> = new Set(Object.values(TRAINER_ACTIVITIES));
/** temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED: no worker has taken it yet. */
const PENDING_ACTIVITY_STATE_SCHEDULED = 1;
/** Live reads wait at most this long for Temporal, as liveStatus does (api/lookups). */
const LIVE_DESCRIBE_MS = 5000;

export interface PendingTrainerJob {
  /** trainer.train, trainer.score or trainer.describe. */
  activity: string;
  /** ISO time it has waited since (scheduled, or its last attempt's start before a retry). */
  since: string | null;
  attempt: number;
}

/**
 * The trainer job a workflow has scheduled that no worker has taken yet (Temporal's describe: a pending
 * activity of a trainer type in state SCHEDULED), or null. What a run's status reads for the run's
 * workflow and its saturation check, to say the run waits for its trainer's queue.
 */
export async function pendingTrainerActivity(handle: Pick<WorkflowHandle, 'describe'>): Promise<PendingTrainerJob | null> {
  const { raw } = await handle.describe();
  for (const a of raw.pendingActivities ?? []) {
    const type = a.activityType?.name ?? '';
    if (!TRAINER_ACTIVITY_TYPES.has(type) || a.state !== PENDING_ACTIVITY_STATE_SCHEDULED) continue;
    const ms = optionalTsToMs(a.scheduledTime) ?? optionalTsToMs(a.lastStartedTime);
    return { activity: type, since: ms === undefined ? null : new Date(ms).toISOString(), attempt: a.attempt ?? 1 };
  }
  return null;
}

const waitingForTrainerOutput = z
  .object({
    trainer: z.string(),
    taskQueue: z.string(),
    activity: z.string(),
    since: timestampText.nullable(),
    timeToStartSeconds: z.number().int(),
  })
  .nullable();

/** Within a deadline, as the live status query is; null when Temporal does not answer in time. */
async function withinLiveDeadline<T>(ctx: Context, call: () => Promise<T>): Promise<T | null> {
  const connection = (ctx.temporal as Partial<Context['temporal']>).connection;
  try {
    return await (connection ? connection.withDeadline(Date.now() + LIVE_DESCRIBE_MS, call) : call());
  } catch {
    return null;
  }
}

/**
 * Whether a running run waits for its trainer: a trainer job of the run's workflow, or of its saturation
 * check (`saturation-<runId>`), not yet taken by any worker of the trainer's queue. The trainer is the
 * one the run's status names, else (runs from before it said) the model's.
 */
export async function waitingForTrainer(ctx: Context, runId: string, model: string, named: RunStatusView['trainer'] | undefined) {
  const describe = (id: string) => withinLiveDeadline(ctx, () => pendingTrainerActivity(ctx.temporal.workflow.getHandle(id)));
  const [own, saturation] = await Promise.all([describe(runId), describe(`saturation-${runId}`)]);
  const job = own ?? saturation;
  if (!job) return null;
  let trainer = named ?? null;
  if (!trainer) {
    const m = await findModelByName(ctx.db, model);
    trainer = m ? { name: m.trainerName, taskQueue: m.trainerQueue ?? ctx.taskQueues.training, timeToStartSeconds: m.trainerTimeToStartSeconds } : null;
  }
  return {
    trainer: trainer?.name ?? 'unknown',
    taskQueue: trainer?.taskQueue ?? 'unknown',
    activity: job.activity,
    since: job.since,
    timeToStartSeconds: trainer?.timeToStartSeconds ?? 0,
  };
}

/** A run as runs.get (and runs.wait) answer: its row, and the workflow's live state while it runs. */
const runDetailOutput = runOutput.extend({
  live: runStatusOutput.nullable(),
  /** Set while a trainer job of the run waits for a worker of its trainer's queue (none is serving it); null otherwise. */
  waitingForTrainer: waitingForTrainerOutput,
});

async function runDetail(ctx: Context, row: RunRow): Promise<z.infer<typeof runDetailOutput>> {
  if (row.run.finishedAt !== null) return { ...toRunOutput(row), live: null, waitingForTrainer: null };
  // The status query and the describes run side by side, each within the live deadline.
  const [live, pending] = await Promise.all([liveStatus(ctx, row.run.id), waitingForTrainer(ctx, row.run.id, row.model, undefined)]);
  const waiting = pending && live?.trainer ? { ...pending, trainer: live.trainer.name, taskQueue: live.trainer.taskQueue, timeToStartSeconds: live.trainer.timeToStartSeconds } : pending;
  return { ...toRunOutput(row), live, waitingForTrainer: waiting };
}

const rolloutStatusOutput = z.object({
  phase: z.string(),
  step: z.number().int(),
  weight: z.number(),
  analyses: z.array(z.object({ step: z.number().int(), weight: z.number(), from: timestampText, to: timestampText, phase: z.string(), reasons: z.array(z.string()) })),
  /** The shadow window's comparison of decisions (workflows/messages RolloutShadowView); null before it or without one. */
  shadow: z
    .object({
      from: timestampText,
      to: timestampText,
      phase: z.string(),
      reasons: z.array(z.string()),
      requests: z.number().int(),
      servedRequests: z.number().int(),
      coverage: z.number().nullable(),
      agreement: interval,
      newBlocks: interval.extend({ count: z.number().int() }),
      newPasses: interval.extend({ count: z.number().int() }),
      failedSlices: z.array(z.string()),
    })
    .nullable()
    .default(null),
  pausedBecause: z.string().nullable(),
  outcome: z.string().nullable(),
  reason: z.string().nullable(),
});

/**
 * Who may act on a rollout (README, Roles), the same table as the rollout workflow's validators:
 * promote-now is an approver's decision (never by the run's requester or anyone controlling its token:
 * four eyes); rollback is the safe direction (it restores the approved champion, as Argo Rollouts lets
 * operators abort), and pause and resume only stop and restart the approved plan's traffic shifting,
 * so operators and approvers both may.
 */
export const ROLLOUT_ROLES = {
  rollback: ['operator', 'approver'],
  'promote-now': ['approver'],
  pause: ['operator', 'approver'],
  resume: ['operator', 'approver'],
} as const satisfies Record<string, readonly RoleName[]>;

/** One rollout Update as a procedure: identity from the token, the workflow's validator decides. */
function rolloutCommand(path: keyof typeof ROLLOUT_ROLES, update: typeof rollbackUpdate, summary: string) {
  const roles: readonly RoleName[] = ROLLOUT_ROLES[path];
  return authedProcedure
    .use(({ ctx, next }) => {
      if (!roles.some((r) => roleAllows(ctx.identity.role, r))) {
        throw new TRPCError({ code: 'FORBIDDEN', message: `${ctx.identity.subject} has role '${ctx.identity.role}'; this needs '${roles.join("' or '")}'` });
      }
      return next();
    })
    .meta({ openapi: { method: 'POST', path: `/runs/{runId}/rollout/${path}`, tags: ['runs'], summary } })
    .input(z.strictObject({ runId, reason }))
    .output(rolloutStatusOutput)
    .mutation(async ({ ctx, input }) => {
      const { run } = await requireRun(ctx.db, input.runId);
      if (path === 'promote-now') {
        // Promoting early is an approval: the same four-eyes rule over issuance chains as gates.approve.
        await requireFourEyes(ctx, run);
      }
      const workflowId = `rollout-${input.runId}`;
      try {
        const status = await ctx.temporal.workflow
          .getHandle(workflowId)
          .executeUpdate(update, { args: [{ caller: { subject: ctx.identity.subject, role: ctx.identity.role }, reason: input.reason }] });
        ctx.log.info({ runId: input.runId, workflowId, command: path }, 'rollout update accepted');
        return status;
      } catch (err) {
        throw updateRefusal(err, `the rollout ${path}`);
      }
    });
}

export const runsRouter = router({
  start: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/runs', tags: ['runs'], summary: 'Start a retraining run' } })
    .input(
      z.strictObject({
        model: modelName,
        trigger: z.enum(RUN_TRIGGERS).default('manual'),
        trainerParams: trainerParamsInput.optional(),
        approvalTimeoutSeconds: z.number().int().min(1).max(30 * 86400).optional(),
        annotation: annotationSettingsInput.optional(),
        saturation: saturationSettingsInput.optional(),
        rollout: rolloutPlanInput.optional(),
        /** How the snapshot holds out: {kind: 'split'} (the examples' recorded split) or {kind: 'time', newest: '30d' | fraction}; default the policy's held_out rule, else split. */
        heldOut: heldOutOptionSchema.optional(),
      }),
    )
    .output(z.object({ runId: z.string(), workflowId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      // The caller's params over the model's, judged against the model's trainer's schema before the run is recorded.
      const trainerParams = await runParams(ctx.db, model, input.trainerParams);
      // Without a gate policy the run would train and then be rejected: refuse it now, saying what to do.
      const policy = await currentPolicy(ctx.db, model.id);
      if (!policy) {
        throw new TRPCError({
          code: 'PRECONDITION_FAILED',
          message: `model '${model.name}' has no gate policy, so no run of it can be approved: set one with gates.setPolicy (PUT /api/models/${model.name}/policy, or 'gatePolicy' at models.register) and start the run again`,
        });
      }
      const id = `run-${model.name}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const workflowInput: RetrainingRunInput = {
        runId: id,
        modelId: model.id,
        model: model.name,
        trigger: input.trigger,
        requestedBy: canonicalSubject(ctx.identity.subject),
        // Who controls the starting token: the gate's validator refuses an approver in it, or sharing an issuer with it.
        requesterChain: await chainOf(ctx, ctx.identity.tokenId, ctx.identity.subject),
        // Any JSON the trainer's schema allows; RetrainingRunInput still types them as the built-in trainer's numbers.
        ...(Object.keys(trainerParams).length > 0 ? { trainerParams } : {}),
        approvalTimeoutSeconds: input.approvalTimeoutSeconds ?? ctx.defaultApprovalTimeoutSeconds,
        trainingTaskQueue: ctx.taskQueues.training,
        ...(input.annotation ? { annotation: input.annotation } : {}),
        // The evidence the policy judges, unless the caller asked for its own design.
        ...runOptionsOf(policy.document),
        ...(input.saturation ? { saturation: input.saturation } : {}),
        ...(input.heldOut ? { heldOut: input.heldOut } : {}),
        ...(input.rollout ? { rollout: input.rollout } : {}),
      };
      await insertQueuedRun(ctx.db, {
        id,
        modelId: model.id,
        trigger: input.trigger,
        requestedBy: workflowInput.requestedBy,
        requestedByTokenId: ctx.identity.tokenId,
        params: { ...workflowInput },
      });
      try {
        await ctx.temporal.workflow.start(RUN_WORKFLOW_TYPE, {
          taskQueue: ctx.taskQueues.control,
          workflowId: id,
          args: [workflowInput],
          typedSearchAttributes: [
            { key: modelSearchAttribute, value: model.name },
            { key: triggerSearchAttribute, value: input.trigger },
            { key: stepSearchAttribute, value: 'queued' },
          ],
        });
      } catch (err) {
        // The run row must not claim a run that Temporal never accepted.
        await markRunNotStarted(ctx.db, id, String(err));
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new TRPCError({ code: 'CONFLICT', message: `run '${id}' already exists` });
        }
        throw temporalFailure(`Temporal refused to start the run: ${String(err)}`, err);
      }
      ctx.log.info({ runId: id, workflowId: id, model: model.name, trigger: input.trigger }, 'run started');
      return { runId: id, workflowId: id };
    }),

  get: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/runs/{runId}', tags: ['runs'], summary: 'A run, with live workflow state while it runs' } })
    .input(z.strictObject({ runId }))
    .output(runDetailOutput)
    .query(async ({ ctx, input }) => runDetail(ctx, await requireRun(ctx.db, input.runId))),

  wait: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/runs/{runId}/wait',
        tags: ['runs'],
        summary: "Wait for a run's status (long-poll): answers as soon as the run reaches its gate or finishes ('gate'), or finishes ('settled'), or when the timeout passes (timedOut: true), with the run as runs.get answers it",
      },
    })
    .input(
      z.strictObject({
        runId,
        until: z.enum(WAIT_UNTIL).default('gate').describe("'gate': awaiting_approval or a finished status; 'settled': a finished status"),
        timeoutSeconds: z.coerce.number().int().min(1).max(60).default(30).describe('Answer after this long at the latest, with timedOut: true'),
        step: z.string().max(100).optional().describe('The step the caller last saw: answer as well once the run has moved on from it (progress without polling)'),
      }),
    )
    .output(runDetailOutput.extend({ timedOut: z.boolean() }))
    .query(async ({ ctx, input, signal }) => {
      const { row, timedOut } = await waitForRun(ctx.db, input.runId, {
        until: input.until,
        timeoutMs: input.timeoutSeconds * 1000,
        step: input.step,
        // tRPC passes the request's signal to the procedure; REST (createCaller) only through the context.
        signal: signal ?? ctx.requestSignal,
      });
      return { ...(await runDetail(ctx, row)), timedOut };
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/runs', tags: ['runs'], summary: 'List runs, newest first' } })
    .input(
      z
        .strictObject({
          model: modelName.optional(),
          status: z.enum(RUN_STATUSES).optional(),
          trigger: z.enum(RUN_TRIGGERS).optional(),
          limit: positiveInt(500).default(50),
        })
        .default({ limit: 50 }),
    )
    .output(z.array(runOutput))
    .query(async ({ ctx, input }) => (await listRuns(ctx.db, input)).map(toRunOutput)),

  rollout: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/runs/{runId}/rollout', tags: ['runs'], summary: "A run's rollout: phase, the shadow window's comparison of decisions, canary step and weight, every analysis window's judgement" } })
    .input(z.strictObject({ runId }))
    .output(rolloutStatusOutput)
    .query(async ({ ctx, input }) => {
      await requireRun(ctx.db, input.runId);
      try {
        return await ctx.temporal.workflow.getHandle(`rollout-${input.runId}`).query(rolloutStatusQuery);
      } catch (err) {
        throw new TRPCError({ code: 'NOT_FOUND', message: `run ${input.runId} has no rollout (${err instanceof Error ? err.message : String(err)})` });
      }
    }),
  rollback: rolloutCommand('rollback', rollbackUpdate, 'Roll the candidate back now (skips analysis; operator or approver)'),
  promoteNow: rolloutCommand('promote-now', promoteNowUpdate, 'Skip the remaining canary steps (an approver who did not request the run, nor issued or shares an issuer with its token)'),
  pause: rolloutCommand('pause', pauseUpdate, 'Pause the rollout (the analysis clock stops; operator or approver)'),
  resume: rolloutCommand('resume', resumeUpdate, 'Resume a paused rollout (operator or approver)'),
});
