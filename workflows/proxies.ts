// The activity proxies of every workflow, declared once, each option set under its own name. Their
// timeouts and retry policies are recorded in the histories: change a value and new runs schedule their
// activities differently (replay still passes, the behaviour does not stay the same).
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
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

/** The saturation check's subset trainings: the same options with a 30-second heartbeat timeout. */
export function saturationTrainingActivitiesOn(taskQueue: string | undefined) {
  return proxyActivities<Activities>({ ...trainingOptions, heartbeatTimeout: '30 seconds', taskQueue: taskQueue ?? TASK_QUEUES.training });
}
