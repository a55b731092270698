// The activity proxies of every workflow, declared once, each option set under its own name. Their
// timeouts and retry policies are recorded in the histories: change a value and new runs schedule their
// activities differently (replay still passes, the behaviour does not stay the same).
import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities, TrainerRef } from '../activities';
import type { TrainerActivities } from '../trainers/contract';
import { TASK_QUEUES } from './names';

/** Retry quickly at first, then back off to at most 30 seconds between attempts. */
const backoff = { initialInterval: '1 second', maximumInterval: '30 seconds' } as const;

/** Light database work on the workflow's own task queue ('control' by default). */
export const controlActivities = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...backoff, maximumAttempts: 10 },
});

// Sweeps are quick; a short timeout means a worker killed mid-sweep delays the batch by seconds, not a minute.
export const annotationSweepActivities = proxyActivities<Activities>({
  startToCloseTimeout: '20 seconds',
  retry: { ...backoff, maximumAttempts: 20 },
});

/** What the scheduled workflows (bias re-audit, drift monitor) measure and record. */
export const scheduledActivities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { ...backoff, maximumAttempts: 10 },
});

/** One delivery attempt per call; the backoff between attempts is this policy's. */
export const alerting = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
});

/**
 * Training and scoring run on their own queue so training workers can live on other machines. The
 * heartbeat timeout is what notices a killed worker: the attempt is retried elsewhere within it.
 */
const trainingOptions = {
  startToCloseTimeout: '60 minutes',
  retry: { ...backoff, maximumAttempts: 5 },
} as const;

/** The run's candidate training and evaluation, on the training queue the run names. */
export function trainingActivitiesOn(taskQueue: string | undefined) {
  return proxyActivities<Activities>({ ...trainingOptions, heartbeatTimeout: '15 seconds', taskQueue: taskQueue ?? TASK_QUEUES.training });
}

/**
 * A trainer's jobs (trainer contract), on the trainer's own queue: a heartbeat every 30 s at most, and a
 * job nobody takes within the model's time-to-start fails the run, saying which trainer and queue.
 */
export async function trainerJob<A extends 'trainer.train' | 'trainer.score'>(
  trainer: TrainerRef,
  activity: A,
  input: Parameters<TrainerActivities[A]>[0],
): Promise<Awaited<ReturnType<TrainerActivities[A]>>> {
  const jobs = proxyActivities<TrainerActivities>({
    ...trainingOptions,
    heartbeatTimeout: '30 seconds',
    scheduleToStartTimeout: `${trainer.timeToStartSeconds} seconds`,
    taskQueue: trainer.taskQueue,
  });
  try {
    return (await (jobs[activity] as (i: typeof input) => Promise<unknown>)(input)) as Awaited<ReturnType<TrainerActivities[A]>>;
  } catch (err) {
    if (err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START) {
      throw ApplicationFailure.nonRetryable(
        `no worker of trainer '${trainer.name}' took ${activity} from task queue '${trainer.taskQueue}' within ${trainer.timeToStartSeconds} s: start the trainer's worker on that queue, or change the model's trainer`,
        'TrainerUnavailable',
      );
    }
    throw err;
  }
}

/**
 * The training activities of runs and checks recorded before the trainer contract (their histories
 * replay through the unpatched branches); no worker serves them any more.
 */
export interface PreContractTrainingActivities {
  trainCandidate(input: { runId: string; modelId: number; snapshotId: number; trainerParams?: Record<string, unknown> }): Promise<{ versionId: number; version: number; artifactHash: string; trainedOn: number }>;
  trainSaturationPoint(input: Record<string, unknown>): Promise<{ reused: boolean }>;
}

export function preContractTrainingOn(taskQueue: string | undefined, heartbeatTimeout: string) {
  return proxyActivities<PreContractTrainingActivities>({ ...trainingOptions, heartbeatTimeout, taskQueue: taskQueue ?? TASK_QUEUES.training });
}
