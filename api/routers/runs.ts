import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { and, desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import { runs, models, modelVersions, RUN_STATUSES, type RunStatus } from '../../db/schema';
import {
  RUN_WORKFLOW_TYPE,
  modelSearchAttribute,
  statusQuery,
  stepSearchAttribute,
  triggerSearchAttribute,
  type RetrainingRunInput,
  type RunStatusView,
} from '../../workflows/messages';
import type { Db } from '../../db/index';
import { currentPolicy } from '../../db/queries';
import { gatePolicySchema } from '../../analysis/policy';
import { annotationSettingsInput, modelName, positiveInt, runId, saturationSettingsInput, trainerParamsInput } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { requireModel } from './models';

export async function requireRun(db: Db, id: string) {
  const [row] = await db
    .select({ run: runs, model: models.name, candidateVersion: modelVersions.version })
    .from(runs)
    .innerJoin(models, eq(models.id, runs.modelId))
    .leftJoin(modelVersions, eq(modelVersions.id, runs.candidateVersionId))
    .where(eq(runs.id, id))
    .limit(1);
  if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `run '${id}' not found` });
  return row;
}

/** Live state from the workflow itself while it runs; null when it has finished or cannot be reached. */
export async function liveStatus(ctx: Context, id: string): Promise<RunStatusView | null> {
  try {
    return await ctx.temporal.workflow.getHandle(id).query(statusQuery);
  } catch {
    return null;
  }
}

const runOutput = z.object({
  runId: z.string(),
  model: z.string(),
  trigger: z.string(),
  requestedBy: z.string(),
  status: z.enum(RUN_STATUSES),
  step: z.string(),
  candidateVersion: z.number().nullable(),
  gateDecision: z.string().nullable(),
  result: z.unknown(),
  startedAt: z.date(),
  finishedAt: z.date().nullable(),
});

function toRunOutput(row: Awaited<ReturnType<typeof requireRun>>) {
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
    result: r.result ?? null,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

/**
 * The saturation check runs when the caller asks for it, or when the model's gate policy has a
 * saturation rule (then with the rule's design): a policy that judges the verdict always gets one.
 */
async function saturationFor(db: Db, modelId: number, asked: RetrainingRunInput['saturation']): Promise<{ saturation?: NonNullable<RetrainingRunInput['saturation']> }> {
  if (asked) return { saturation: asked };
  const current = await currentPolicy(db, modelId);
  const rule = current ? gatePolicySchema.parse(current.document).rules.find((r) => r.kind === 'saturation') : undefined;
  if (!rule || rule.kind !== 'saturation') return {};
  return {
    saturation: {
      ...(rule.fractions ? { fractions: rule.fractions } : {}),
      ...(rule.seeds ? { seeds: rule.seeds } : {}),
      ...(rule.minGainFromDoubling !== undefined ? { minGainFromDoubling: rule.minGainFromDoubling } : {}),
    },
  };
}

export const runsRouter = router({
  start: roleProcedure('operator')
    .meta({ openapi: { method: 'POST', path: '/runs', tags: ['runs'], summary: 'Start a retraining run' } })
    .input(
      z.strictObject({
        model: modelName,
        trigger: z.enum(['manual', 'bootstrap', 'schedule', 'drift', 'feedback']).default('manual'),
        trainerParams: trainerParamsInput.optional(),
        approvalTimeoutSeconds: z.number().int().min(1).max(30 * 86400).optional(),
        annotation: annotationSettingsInput.optional(),
        saturation: saturationSettingsInput.optional(),
      }),
    )
    .output(z.object({ runId: z.string(), workflowId: z.string() }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const id = `run-${model.name}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
      const workflowInput: RetrainingRunInput = {
        runId: id,
        modelId: model.id,
        model: model.name,
        trigger: input.trigger,
        requestedBy: ctx.identity.subject,
        ...(input.trainerParams ? { trainerParams: input.trainerParams as Record<string, number> } : {}),
        approvalTimeoutSeconds: input.approvalTimeoutSeconds ?? ctx.defaultApprovalTimeoutSeconds,
        trainingTaskQueue: ctx.taskQueues.training,
        ...(input.annotation ? { annotation: input.annotation } : {}),
        ...(await saturationFor(ctx.db, model.id, input.saturation)),
      };
      await ctx.db.insert(runs).values({
        id,
        modelId: model.id,
        trigger: input.trigger,
        requestedBy: ctx.identity.subject,
        status: 'running',
        step: 'queued',
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
        await ctx.db.update(runs).set({ status: 'failed', step: 'done', finishedAt: new Date(), result: { reason: String(err) } }).where(eq(runs.id, id));
        if (err instanceof WorkflowExecutionAlreadyStartedError) {
          throw new TRPCError({ code: 'CONFLICT', message: `run '${id}' already exists` });
        }
        throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `Temporal refused to start the run: ${String(err)}` });
      }
      return { runId: id, workflowId: id };
    }),

  get: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/runs/{runId}', tags: ['runs'], summary: 'A run, with live workflow state while it runs' } })
    .input(z.strictObject({ runId }))
    .output(runOutput.extend({ live: z.unknown().nullable() }))
    .query(async ({ ctx, input }) => {
      const row = await requireRun(ctx.db, input.runId);
      const finished = row.run.finishedAt !== null;
      return { ...toRunOutput(row), live: finished ? null : await liveStatus(ctx, input.runId) };
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/runs', tags: ['runs'], summary: 'List runs, newest first' } })
    .input(
      z
        .strictObject({
          model: modelName.optional(),
          status: z.enum(RUN_STATUSES).optional(),
          limit: positiveInt(500).default(50),
        })
        .default({ limit: 50 }),
    )
    .output(z.array(runOutput))
    .query(async ({ ctx, input }) => {
      const filters = [];
      if (input.model) filters.push(eq(models.name, input.model));
      if (input.status) filters.push(eq(runs.status, input.status as RunStatus));
      const rows = await ctx.db
        .select({ run: runs, model: models.name, candidateVersion: modelVersions.version })
        .from(runs)
        .innerJoin(models, eq(models.id, runs.modelId))
        .leftJoin(modelVersions, eq(modelVersions.id, runs.candidateVersionId))
        .where(filters.length ? and(...filters) : undefined)
        .orderBy(desc(runs.startedAt))
        .limit(input.limit);
      return rows.map(toRunOutput);
    }),
});
