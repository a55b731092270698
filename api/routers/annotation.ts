// The annotation workforce's face: the pool (annotators and their attributes), the guidelines (specs,
// versioned; a new version marks affected labels for relabelling), and the task loop annotators pull:
// next task, submit a label, skip. Every call is idempotent: asking again for the next task returns the
// task you already hold, and submitting the same label twice stores it once.
import { WorkflowNotFoundError } from '@temporalio/client';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { taskVerdict } from '../../analysis/annotationTasks';
import { goldAccuracyDrift } from '../../analysis/labelQuality';
import { poolGoldBias, tallyGold } from '../../analysis/poolBias';
import {
  aggregatedLabelsOf,
  AnnotationRefused,
  annotatorPool,
  assignNextTask,
  batchCounts,
  batchesOf,
  compositionStatus,
  currentSpec,
  findAnnotator,
  findAssignment,
  findBatch,
  goldCountsByAnnotator,
  goldLabelsOf,
  heldTask,
  latestEstimatedBatch,
  publishSpec,
  skipAssignment,
  submitLabel,
  upsertAnnotator,
} from '../../db/annotation';
import type { Db } from '../../db/index';
import { TASK_STATUSES } from '../../db/schema';
import { canonicalSubject } from '../../db/tokens';
import { labelSubmittedSignal, type LabelSubmittedSignal } from '../../workflows/messages';
import { batchEstimateOutput, batchSlaOutput, goldDriftOutput, heldTaskOutput, type BatchEstimate } from '../outputsB';
import { interval, modelName, PG_INT_MAX, positiveInt, subject, timestamp } from '../schemas';
import { roleProcedure, router, type Context } from '../trpc';
import { requireModel } from '../lookups';

const attributes = z.record(z.string().min(1).max(64), z.string().max(200));

const specOutput = z.object({
  version: z.number().int(),
  guidelines: z.string(),
  labels: z.array(z.string()),
  affects: z.record(z.string(), z.array(z.string())),
  createdBy: z.string(),
  createdAt: timestamp,
});

const taskId = positiveInt();

/** A batch's tasks by status, its live labels and reassignments (db/annotation batchCounts). */
const batchProgressOutput = z.object({ tasks: z.number().int(), open: z.number().int(), adjudication: z.number().int(), done: z.number().int(), labels: z.number().int(), reassigned: z.number().int() });

/** analysis/poolBias PoolSliceAccuracy: the pool's gold accuracy on one slice value. */
const poolSliceOutput = z.object({
  slice: z.string(),
  value: z.string(),
  goldLabels: z.number().int(),
  correct: z.number().int(),
  /** Gold items behind the labels (the test's clusters) and the labels' design effect. */
  items: z.number().int(),
  designEffect: z.number().nullable(),
  accuracy: interval,
  rest: interval,
  gap: interval,
  z: z.number().nullable(),
  p: z.number().nullable(),
  pAdjusted: z.number().nullable(),
  insufficient: z.boolean(),
  belowRest: z.boolean(),
  belowFloor: z.boolean(),
  flagged: z.boolean(),
});

/** db/annotation CompositionStatus: one pool composition requirement of a batch and how far it is met. */
const compositionOutput = z.object({
  slice: z.string(),
  value: z.string(),
  attribute: z.string(),
  equals: z.string(),
  min: z.number().int(),
  qualified: z.number().int(),
  annotators: z.number().int(),
  openTasks: z.number().int(),
  poolQualified: z.number().int(),
  met: z.boolean(),
});

const poolBiasOutput = z.object({
  /** The batch the report covers (null: every batch of the model) and the one whose composition is shown. */
  batchId: z.string().nullable(),
  compositionBatchId: z.string().nullable(),
  goldLabels: z.number().int(),
  goldItems: z.number().int(),
  overall: interval,
  slices: z.array(poolSliceOutput),
  tested: z.number().int(),
  floorTested: z.number().int(),
  alpha: z.number(),
  minGold: z.number().int(),
  minItems: z.number().int(),
  minAccuracy: z.number().nullable(),
  rule: z.string(),
  composition: z.array(compositionOutput),
});

async function requireAnnotator(db: Db, who: string) {
  const row = await findAnnotator(db, who);
  if (!row || row.active !== 1) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `${who} is not in the annotator pool; an operator adds them with annotation.registerAnnotator`,
    });
  }
  return row;
}

const REFUSAL_CODE = { missing: 'NOT_FOUND', conflict: 'CONFLICT', invalid: 'BAD_REQUEST' } as const;

/** db/annotation's refusals as the API's errors; anything else passes through. */
function refusalAsTrpcError(err: unknown): unknown {
  return err instanceof AnnotationRefused ? new TRPCError({ code: REFUSAL_CODE[err.kind], message: err.message }) : err;
}

async function requireBatch(db: Db, batchId: string) {
  const batch = await findBatch(db, batchId);
  if (!batch) throw new TRPCError({ code: 'NOT_FOUND', message: `annotation batch '${batchId}' not found` });
  return batch;
}

/** Best effort: the batch's periodic sweep recounts from the database, so a lost signal only delays it. */
async function signalBatch(ctx: Context, batchId: string, payload: LabelSubmittedSignal) {
  try {
    await ctx.temporal.workflow.getHandle(batchId).signal(labelSubmittedSignal, payload);
  } catch (err) {
    // Not found: the batch workflow has not started yet or has closed; either way the database has the label.
    if (err instanceof WorkflowNotFoundError) return;
    ctx.log.warn({ workflowId: batchId, err: { type: (err as Error).name, message: err instanceof Error ? err.message : String(err) } }, 'could not signal the annotation batch');
  }
}

export const annotationRouter = router({
  registerAnnotator: roleProcedure('operator')
    .meta({ openapi: { method: 'PUT', path: '/annotation/annotators/{subject}', tags: ['annotation'], summary: 'Add or update an annotator of the pool' } })
    // adjudicator: reviews items without quorum instead of labelling new ones.
    .input(z.strictObject({ subject, attributes: attributes.default({}), adjudicator: z.boolean().default(false), active: z.boolean().default(true) }))
    .output(z.object({ subject: z.string(), attributes: z.record(z.string(), z.string()), adjudicator: z.boolean(), active: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      // The pool is matched against token subjects, which are stored canonical ('Ann-DE' labels as 'ann-de').
      const member = { ...input, subject: canonicalSubject(input.subject) };
      await upsertAnnotator(ctx.db, member);
      return { subject: member.subject, attributes: member.attributes, adjudicator: member.adjudicator, active: member.active };
    }),

  getSpec: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/annotation-spec', tags: ['annotation'], summary: 'The annotation guidelines in force' } })
    .input(z.strictObject({ model: modelName }))
    .output(specOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      return currentSpec(ctx.db, model.id);
    }),

  setSpec: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'PUT',
        path: '/models/{model}/annotation-spec',
        tags: ['annotation'],
        summary: 'Publish a new guidelines version; labels made under older versions on affected items are marked for relabelling',
      },
    })
    .input(
      z.strictObject({
        model: modelName,
        guidelines: z.string().trim().min(20, 'guidelines of at least 20 characters are required').max(20_000),
        labels: z.array(z.string().min(1).max(50)).min(2).max(20).optional(),
        /** slice attribute → values the change concerns; omitted or {} = every item. */
        affects: z.record(z.string().min(1).max(64), z.array(z.string().max(200)).min(1)).default({}),
      }),
    )
    .output(specOutput.extend({ relabel: z.object({ labels: z.number().int(), tasksReopened: z.number().int() }) }))
    .mutation(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      return publishSpec(
        ctx.db,
        { modelId: model.id, modelName: model.name, guidelines: input.guidelines, ...(input.labels ? { labels: input.labels } : {}), affects: input.affects, createdBy: ctx.identity.subject },
        taskVerdict,
      ).catch((err: unknown) => {
        throw refusalAsTrpcError(err);
      });
    }),

  next: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/next', tags: ['annotation'], summary: 'Your next task (the one you hold, or a new one); null when none is waiting' } })
    .input(z.strictObject({}).default({}))
    // progress: the held task's batch (tasks done of all), so an annotator sees how far it is.
    .output(z.object({ task: heldTaskOutput.nullable(), progress: batchProgressOutput.nullable() }))
    .mutation(async ({ ctx }) => {
      const who = ctx.identity.subject;
      const me = await requireAnnotator(ctx.db, who);
      const held = await heldTask(ctx.db, who);
      const assigned = held ? null : await assignNextTask(ctx.db, me);
      const task = held ?? (assigned === null ? null : await heldTask(ctx.db, who, assigned));
      return { task, progress: task ? await batchCounts(ctx.db, task.batchId) : null };
    }),

  submit: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/{taskId}/label', tags: ['annotation'], summary: 'Label a task you hold (idempotent)' } })
    .input(z.strictObject({ taskId, label: z.number().int().min(0).max(19), specVersion: z.number().int().positive().max(PG_INT_MAX) }))
    .output(z.object({ taskId: z.number().int(), duplicate: z.boolean(), taskStatus: z.enum(TASK_STATUSES) }))
    .mutation(async ({ ctx, input }) => {
      const who = ctx.identity.subject;
      await requireAnnotator(ctx.db, who);
      const outcome = await submitLabel(ctx.db, { taskId: input.taskId, annotator: who, label: input.label, specVersion: input.specVersion }, taskVerdict).catch((err: unknown) => {
        throw refusalAsTrpcError(err);
      });
      // A review batch has no workflow (db/review): its label is applied in submitLabel's transaction.
      if (!outcome.duplicate && outcome.batchKind === 'sample') await signalBatch(ctx, outcome.batchId, { taskId: input.taskId, annotator: who, taskStatus: outcome.taskStatus });
      return { taskId: input.taskId, duplicate: outcome.duplicate, taskStatus: outcome.taskStatus };
    }),

  skip: roleProcedure('annotator')
    .meta({ openapi: { method: 'POST', path: '/annotation/tasks/{taskId}/skip', tags: ['annotation'], summary: 'Give a task back (it goes to someone else; idempotent)' } })
    .input(z.strictObject({ taskId, reason: z.string().max(500).optional() }))
    .output(z.object({ taskId: z.number().int(), skipped: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      const who = ctx.identity.subject;
      await requireAnnotator(ctx.db, who);
      const row = await findAssignment(ctx.db, input.taskId, who);
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.taskId} is not assigned to you` });
      if (row.status === 'labelled') throw new TRPCError({ code: 'CONFLICT', message: `you labelled task ${input.taskId} already` });
      if (row.status === 'assigned') await skipAssignment(ctx.db, input.taskId, who);
      return { taskId: input.taskId, skipped: true };
    }),

  batch: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/annotation/batches/{batchId}', tags: ['annotation'], summary: 'A batch: progress, SLA figures, aggregation and quality' } })
    .input(z.strictObject({ batchId: z.string().min(1).max(200) }))
    .output(
      z.object({
        batchId: z.string(),
        runId: z.string().nullable(),
        status: z.string(),
        specVersion: z.number().int(),
        overlap: z.number().int(),
        deadline: timestamp,
        progress: batchProgressOutput,
        sla: batchSlaOutput.nullable(),
        estimate: batchEstimateOutput.nullable(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const b = await requireBatch(ctx.db, input.batchId);
      return {
        batchId: b.id,
        runId: b.runId,
        status: b.status,
        specVersion: b.specVersion,
        overlap: b.overlap,
        deadline: b.deadline,
        progress: await batchCounts(ctx.db, b.id),
        sla: b.sla as z.infer<typeof batchSlaOutput> | null,
        estimate: b.estimate as BatchEstimate | null,
      };
    }),

  aggregated: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/annotation/batches/{batchId}/labels', tags: ['annotation'], summary: 'A batch’s aggregated labels: Dawid-Skene (or adjudication) beside majority vote, per item' } })
    .input(z.strictObject({ batchId: z.string().min(1).max(200) }))
    .output(
      z.array(
        z.object({
          externalId: z.string(),
          label: z.number().int(),
          posterior: z.number(),
          majorityLabel: z.number().int().nullable(),
          dawidSkeneLabel: z.number().int().nullable(),
          method: z.string(),
          labelCount: z.number().int(),
          stratum: z.string(),
          inclusionProbability: z.number(),
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      await requireBatch(ctx.db, input.batchId);
      return aggregatedLabelsOf(ctx.db, input.batchId);
    }),

  annotators: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{model}/annotators',
        tags: ['annotation'],
        summary: 'The pool’s quality on this model: labels, gold accuracy per batch with drift, and slice-bias flags from the latest batch',
      },
    })
    .input(z.strictObject({ model: modelName }))
    .output(
      z.array(
        z.object({
          subject: z.string(),
          attributes: z.record(z.string(), z.string()),
          adjudicator: z.boolean(),
          labels: z.number().int(),
          gold: goldDriftOutput,
          biasFlags: z.array(z.object({ batchId: z.string(), slice: z.string(), value: z.string(), disagreement: z.number(), rest: z.number(), n: z.number().int(), p: z.number() })),
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await goldCountsByAnnotator(ctx.db, model.id);
      const latest = await latestEstimatedBatch(ctx.db, model.id);
      const flags = ((latest?.estimate as BatchEstimate | null)?.summary?.biasFlags ?? []).map((f) => ({ ...f, batchId: latest!.id }));
      const pool = await annotatorPool(ctx.db);
      const subjects = [...new Set(rows.map((r) => r.annotator))].sort();
      return subjects.map((subject) => {
        const mine = rows.filter((r) => r.annotator === subject);
        const member = pool.find((p) => p.subject === subject);
        return {
          subject,
          attributes: member?.attributes ?? {},
          adjudicator: member?.adjudicator === 1,
          labels: mine.reduce((a, r) => a + r.labels, 0),
          gold: goldAccuracyDrift(mine.map((r) => ({ batchId: r.batchId, at: r.at, gold: r.gold, correct: r.correct }))),
          biasFlags: flags.filter((f) => f.annotator === subject).map(({ annotator: _a, ...f }) => f),
        };
      });
    }),

  poolBias: roleProcedure('viewer')
    .meta({
      openapi: {
        method: 'GET',
        path: '/models/{model}/annotation-pool-bias',
        tags: ['annotation'],
        summary: 'The whole pool’s gold accuracy per slice value with intervals, flagged where the pool disagrees with gold (a bias every annotator shares), and the pool composition requirements of the batch',
      },
    })
    .input(
      z.strictObject({
        model: modelName,
        /** One batch only; omitted: every batch of the model (composition: the newest batch). */
        batchId: z.string().min(1).max(200).optional(),
        /** Flag a value whose Bonferroni-adjusted upper bound is below this accuracy. */
        minAccuracy: z.coerce.number().gt(0).max(1).optional(),
      }),
    )
    .output(poolBiasOutput)
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      if (input.batchId !== undefined) {
        const b = await requireBatch(ctx.db, input.batchId);
        if (b.modelId !== model.id) throw new TRPCError({ code: 'NOT_FOUND', message: `annotation batch '${input.batchId}' is not a batch of model ${model.name}` });
      }
      const { tallies, total } = tallyGold(await goldLabelsOf(ctx.db, model.id, input.batchId));
      const report = poolGoldBias(tallies, total, { minAccuracy: input.minAccuracy ?? null });
      const compositionBatchId = input.batchId ?? (await batchesOf(ctx.db, model.id, 1))[0]?.id ?? null;
      return {
        batchId: input.batchId ?? null,
        compositionBatchId,
        ...report,
        composition: compositionBatchId === null ? [] : await compositionStatus(ctx.db, compositionBatchId),
      };
    }),

  batches: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/models/{model}/annotation-batches', tags: ['annotation'], summary: 'A model’s batches, newest first' } })
    .input(z.strictObject({ model: modelName, limit: z.coerce.number().int().min(1).max(200).default(20) }))
    .output(
      z.array(
        z.object({
          batchId: z.string(),
          runId: z.string().nullable(),
          status: z.string(),
          createdAt: timestamp,
          closedAt: timestamp.nullable(),
          deadline: timestamp,
          progress: batchProgressOutput,
        }),
      ),
    )
    .query(async ({ ctx, input }) => {
      const model = await requireModel(ctx.db, input.model);
      const rows = await batchesOf(ctx.db, model.id, input.limit);
      return Promise.all(
        rows.map(async (b) => ({ batchId: b.id, runId: b.runId, status: b.status, createdAt: b.createdAt, closedAt: b.closedAt, deadline: b.deadline, progress: await batchCounts(ctx.db, b.id) })),
      );
    }),
});
