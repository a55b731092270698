// The trainers registry (trainer contract): an operator names a task queue, the control plane asks the
// trainer serving it to describe itself (trainer.describe, through the trainerCall workflow, since only a
// workflow can schedule an activity on another worker's queue), checks the answer against the contract
// and stores it by name. Models then name the trainer; their params are checked against its schema.
import { randomUUID } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { z } from 'zod';
import { unsupportedFeatureKinds, type FeatureSpec } from '../../analysis/featureSchema';
import { checkParams, paramsSchemaProblem } from '../../analysis/paramsSchema';
import type { Db } from '../../db/index';
import type { ModelTrainer } from '../../db/models';
import { listTrainers, trainerByName, upsertTrainer, type TrainerRow } from '../../db/trainers';
import { BUILTIN_TRAINER_NAME, DEFAULT_TRAINER_TIME_TO_START_SECONDS, type Json } from '../../db/schema';
import { trainerDescription, TRAINER_ACTIVITIES, type TrainerDescription } from '../../trainers/contract';
import { TRAINER_CALL_WORKFLOW_TYPE, type TrainerCallInput } from '../../workflows/messages';
import type { Context } from '../trpc';
import { roleProcedure, router } from '../trpc';
import { builtinTrainerParamsInput, jsonObject, taskQueueName, timestamp, trainerName } from '../schemas';
import { temporalFailure } from '../workflowUpdates';

/** The control plane's own trainers: upserted by its worker at start, never through the API. */
export const BUILTIN_TRAINER_PREFIX = 'builtin/';

const trainerOutput = z.object({
  name: z.string(),
  version: z.string(),
  codeDigest: z.string(),
  taskQueue: z.string(),
  /** JSON Schema (draft 2020-12) of the trainer's params, as it declared it. */
  paramsSchema: jsonObject,
  labelSets: z.array(z.string()),
  featureKinds: z.array(z.string()),
  registeredBy: z.string(),
  registeredAt: timestamp,
});

function toTrainerOutput(row: TrainerRow) {
  const d = row.description;
  return {
    name: row.name,
    version: row.version,
    codeDigest: row.codeDigest,
    taskQueue: row.taskQueue,
    paramsSchema: d.paramsSchema ?? {},
    labelSets: d.labelSets ?? [],
    featureKinds: d.featureKinds ?? [],
    registeredBy: row.registeredBy,
    registeredAt: row.registeredAt,
  };
}

/** TASK_QUEUE_TYPE_ACTIVITY (temporal.api.enums.v1.TaskQueueType). */
const ACTIVITY_QUEUE = 2;

/**
 * Whether any worker has polled a queue for activities lately (Temporal keeps pollers for a few minutes);
 * null when Temporal cannot say (then the call waits its time-to-start like any other).
 */
async function queueHasPollers(ctx: Context, taskQueue: string): Promise<boolean | null> {
  try {
    const res = await ctx.temporal.workflowService.describeTaskQueue({ namespace: ctx.namespace, taskQueue: { name: taskQueue }, taskQueueType: ACTIVITY_QUEUE });
    return (res.pollers?.length ?? 0) > 0;
  } catch {
    return null;
  }
}

const noAnswer = (message: string) => new TRPCError({ code: 'PRECONDITION_FAILED', message });
const notServedWithin = (taskQueue: string, seconds: number, detail = '') =>
  noAnswer(`no worker served ${TRAINER_ACTIVITIES.describe} on queue ${taskQueue} within ${seconds} s: is the trainer running?${detail}`);

/** Asks the trainer on a queue to describe itself; the answer unchecked, or the error a caller should get. */
async function describeOnQueue(ctx: Context, taskQueue: string, timeToStartSeconds: number): Promise<unknown> {
  // A queue no worker has ever polled cannot answer: say so now rather than after the whole wait.
  if ((await queueHasPollers(ctx, taskQueue)) === false) {
    throw noAnswer(`no worker served ${TRAINER_ACTIVITIES.describe} on queue ${taskQueue}: no worker has polled that queue lately; is the trainer running?`);
  }
  const call: TrainerCallInput = {
    taskQueue,
    activity: TRAINER_ACTIVITIES.describe,
    timeToStartSeconds,
    startToCloseSeconds: 60,
    heartbeatSeconds: 60,
    maximumAttempts: 1,
  };
  // Bounded even when no control-plane worker runs the workflow itself.
  const boundSeconds = timeToStartSeconds + 60;
  let handle;
  try {
    handle = await ctx.temporal.workflow.start(TRAINER_CALL_WORKFLOW_TYPE, {
      taskQueue: ctx.taskQueues.control,
      workflowId: `trainer-describe-${randomUUID()}`,
      args: [call],
      workflowExecutionTimeout: `${boundSeconds} seconds`,
    });
  } catch (err) {
    throw temporalFailure(`Temporal refused to start ${TRAINER_ACTIVITIES.describe} on queue ${taskQueue}: ${String(err)}`, err);
  }
  ctx.log.info({ workflowId: handle.workflowId, taskQueue }, 'trainer describe started');
  try {
    return await handle.result();
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw temporalFailure(`${TRAINER_ACTIVITIES.describe} on queue ${taskQueue} could not be awaited: ${String(err)}`, err);
    const activity = err.cause instanceof ActivityFailure ? err.cause : undefined;
    const cause = activity?.cause;
    if (cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START') throw notServedWithin(taskQueue, timeToStartSeconds);
    if (cause instanceof ApplicationFailure || cause instanceof TimeoutFailure) {
      throw new TRPCError({ code: 'BAD_GATEWAY', message: `the trainer on queue ${taskQueue} failed ${TRAINER_ACTIVITIES.describe}: ${cause.message}` });
    }
    if (err.cause instanceof TimeoutFailure) {
      // The workflow itself ran out of time: no control-plane worker picked it up.
      throw notServedWithin(taskQueue, boundSeconds, ` (the control plane's worker on queue ${ctx.taskQueues.control} did not run the call either)`);
    }
    throw temporalFailure(`${TRAINER_ACTIVITIES.describe} on queue ${taskQueue} failed: ${err.cause?.message ?? err.message}`, err);
  }
}

/** The describe answer checked against the contract; a 502 naming the first bad field when it is not. */
function parseDescription(taskQueue: string, answer: unknown): TrainerDescription {
  const parsed = trainerDescription.safeParse(answer);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(the answer)'}: ${i.message}`);
    throw new TRPCError({
      code: 'BAD_GATEWAY',
      message: `the trainer on queue ${taskQueue} answered ${TRAINER_ACTIVITIES.describe} with a description that does not follow the trainer contract (trainers/contract/v1/describe.output.schema.json): ${problems.join('; ')}`,
    });
  }
  const schemaProblem = paramsSchemaProblem(parsed.data.paramsSchema);
  if (schemaProblem) {
    throw new TRPCError({ code: 'BAD_GATEWAY', message: `the trainer on queue ${taskQueue} declared a paramsSchema that is not a JSON Schema the control plane can use: ${schemaProblem}` });
  }
  return parsed.data;
}

/**
 * A trainer name from a REST path, where a name holds '/' (builtin/hashed-logreg) and arrives
 * percent-encoded (trpc-to-openapi does not decode path parameters); tRPC callers send it as it is.
 */
const trainerNameParam = z
  .string()
  .max(300)
  .transform((s) => {
    try {
      return s.includes('%') ? decodeURIComponent(s) : s;
    } catch {
      return s;
    }
  })
  .pipe(trainerName);

export const trainersRouter = router({
  register: roleProcedure('operator')
    .meta({
      openapi: {
        method: 'POST',
        path: '/trainers',
        tags: ['trainers'],
        summary: "Register (or refresh) the trainer a queue's worker serves: it is asked to describe itself (trainer.describe), and its answer is checked and stored by name",
      },
    })
    .input(
      z.strictObject({
        taskQueue: taskQueueName,
        /** How long to wait for a worker of the queue to take the call. */
        timeToStartSeconds: z.number().int().min(1).max(300).default(30),
      }),
    )
    .output(trainerOutput)
    .mutation(async ({ ctx, input }) => {
      if (input.taskQueue === ctx.taskQueues.control || input.taskQueue === ctx.taskQueues.training) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: `taskQueue '${input.taskQueue}' is the control plane's own queue; a trainer serves a queue of its own` });
      }
      const description = parseDescription(input.taskQueue, await describeOnQueue(ctx, input.taskQueue, input.timeToStartSeconds));
      if (description.name.startsWith(BUILTIN_TRAINER_PREFIX)) {
        throw new TRPCError({ code: 'CONFLICT', message: `the trainer on queue ${input.taskQueue} calls itself '${description.name}': names under ${BUILTIN_TRAINER_PREFIX} belong to the control plane's own trainers` });
      }
      const row = await upsertTrainer(ctx.db, { description, taskQueue: input.taskQueue, registeredBy: ctx.identity.subject });
      return toTrainerOutput(row);
    }),

  list: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/trainers', tags: ['trainers'], summary: 'Registered trainers, by name' } })
    .input(z.strictObject({}).optional())
    .output(z.array(trainerOutput))
    .query(async ({ ctx }) => (await listTrainers(ctx.db)).map(toTrainerOutput)),

  get: roleProcedure('viewer')
    .meta({ openapi: { method: 'GET', path: '/trainers/{name}', tags: ['trainers'], summary: "A registered trainer: what it said of itself, its queue (a name with '/' goes percent-encoded: builtin%2Fhashed-logreg)" } })
    .input(z.strictObject({ name: trainerNameParam }))
    .output(trainerOutput)
    .query(async ({ ctx, input }) => {
      const row = await trainerByName(ctx.db, input.name);
      if (!row) throw new TRPCError({ code: 'NOT_FOUND', message: `trainer '${input.name}' is not registered; register it with trainers.register (POST /trainers) naming the queue its worker serves` });
      return toTrainerOutput(row);
    }),
});

// ---- a model's trainer, checked against what the trainer declared (models.register, models.configureTrainer, runs.start) ----


const badRequest = (message: string) => new TRPCError({ code: 'BAD_REQUEST', message });

/** Params against a trainer's declared schema: a 400 naming each bad param ("trainer.params.C must be > 0"). */
export function requireParamsFollow(trainer: TrainerRow, params: Record<string, unknown>, prefix: string): void {
  const check = checkParams(trainer.description.paramsSchema ?? {}, params, prefix);
  if (!check.ok) {
    throw badRequest(`${check.errors.join('; ')} (trainer '${trainer.name}' version ${trainer.version}: see its paramsSchema with trainers.get); nothing was written`);
  }
}

/**
 * A model's trainer settings, checked before anything is written: the trainer is registered, the params
 * follow its schema, it supports the model's feature kinds and the binary label set. `current` is the
 * model's trainer when it is being changed (its params and time-to-start carry over where not given).
 */
export async function resolveModelTrainer(
  db: Db,
  asked: { name: string; params?: Record<string, Json> | undefined; timeToStartSeconds?: number | undefined } | undefined,
  features: readonly FeatureSpec[] | null,
  current?: ModelTrainer,
): Promise<ModelTrainer> {
  const name = asked?.name ?? BUILTIN_TRAINER_NAME;
  const sameTrainer = current?.name === name;
  const params = asked?.params ?? (sameTrainer ? current.params : {});
  const timeToStartSeconds = asked?.timeToStartSeconds ?? current?.timeToStartSeconds ?? DEFAULT_TRAINER_TIME_TO_START_SECONDS;
  const trainer = await trainerByName(db, name);
  if (!trainer) {
    // The built-in trainer is registered by the control plane's worker when it starts; until then a model
    // may still name it as every model did before the contract (no params, text fields): nothing to check.
    if (name === BUILTIN_TRAINER_NAME && Object.keys(params).length === 0 && features === null) {
      return { name, queue: null, params, timeToStartSeconds };
    }
    throw badRequest(
      name === BUILTIN_TRAINER_NAME
        ? `trainer.name: the built-in trainer '${name}' is not registered yet (the control plane's worker registers it when it starts: retrain up, or retrain worker), so its params and feature kinds cannot be checked`
        : `trainer.name: trainer '${name}' is not registered; start its worker, then register it with trainers.register (POST /trainers) naming the queue the worker serves`,
    );
  }
  requireParamsFollow(trainer, params, 'trainer.params');
  const kinds = trainer.description.featureKinds ?? [];
  const unsupported = unsupportedFeatureKinds(features, kinds);
  if (unsupported.length > 0) {
    const what = unsupported.map((u) => `${u.kind} (${u.features.join(', ')})`).join(', ');
    throw badRequest(`features: trainer '${name}' supports feature kinds ${kinds.join(', ')}, not ${what}; nothing was written`);
  }
  if (!(trainer.description.labelSets ?? []).includes('binary')) {
    throw badRequest(`trainer.name: trainer '${name}' supports the label sets ${(trainer.description.labelSets ?? []).join(', ')}, not binary, which models have; nothing was written`);
  }
  return { name, queue: name.startsWith(BUILTIN_TRAINER_PREFIX) ? null : trainer.taskQueue, params, timeToStartSeconds };
}

/**
 * A run's params: the caller's over the model's, checked against the model's trainer's schema (a 400
 * naming the param). A model of the built-in trainer before its worker registered it is checked with
 * the schema the built-in trainer's params had before trainers described themselves.
 */
export async function runParams(db: Db, model: { trainerName: string; trainerParams: Record<string, unknown> }, asked: Record<string, unknown> | undefined): Promise<Record<string, unknown>> {
  const merged = { ...model.trainerParams, ...asked };
  const trainer = await trainerByName(db, model.trainerName);
  if (trainer) {
    // `seed` is the contract's (every trainer takes a job's seed beside its params), not the trainer's schema's.
    const { seed, ...params } = merged;
    if (seed !== undefined && !(Number.isInteger(seed) && (seed as number) >= 0 && (seed as number) <= 2 ** 31 - 1)) {
      throw badRequest(`trainerParams.seed must be an integer in [0, 2^31 - 1] (the job's seed); nothing was written`);
    }
    requireParamsFollow(trainer, params, 'trainerParams');
    return merged;
  }
  if (model.trainerName === BUILTIN_TRAINER_NAME) {
    const parsed = builtinTrainerParamsInput.safeParse(merged);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `trainerParams${i.path.length > 0 ? `.${i.path.join('.')}` : ''} ${i.message}`);
      throw badRequest(`${problems.join('; ')}; nothing was written`);
    }
    return parsed.data;
  }
  throw new TRPCError({ code: 'PRECONDITION_FAILED', message: `the model's trainer '${model.trainerName}' is not registered; register it with trainers.register before starting a run` });
}
