// What the scheduled workflows (bias re-audit, drift monitor) share: the window that ends at the
// schedule's nominal time, the activity options, and a retraining run they start (recorded once under a
// key of the starting workflow, a child that outlives its parent, found already started on a retry).
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { modelSearchAttribute, stepSearchAttribute, triggerSearchAttribute, type RunTrigger } from './messages';

export const scheduledActivities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

/** One delivery attempt per call; the backoff between attempts is this policy's. */
export const alerting = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
});

const DAY_MS = 86_400_000;

/**
 * The window a scheduled run looks at: `windowDays` ending at `windowEnd` when given, else at the
 * schedule's nominal time (Temporal sets it on every action, backfills included), else now.
 */
export function scheduledWindow(windowDays: number, windowEnd?: string): { from: Date; to: Date } {
  const scheduled = (workflowInfo().searchAttributes?.TemporalScheduledStartTime as unknown[] | undefined)?.[0];
  const to = windowEnd ? new Date(windowEnd) : scheduled ? new Date(scheduled as string | Date) : new Date(Date.now());
  return { from: new Date(to.getTime() - windowDays * DAY_MS), to };
}

/** What a scheduled workflow's input says about the run it may start (BiasReauditInput, DriftMonitorInput). */
export interface TriggeredRunSource {
  modelId: number;
  model: string;
  scheduleId: string | null;
  trainingTaskQueue?: string;
  approvalTimeoutSeconds?: number;
}

/** What every scheduled run's activity is told: who asks (its workflow, its schedule), about which model, for which window. */
export function scheduledRunWindow(input: { windowDays: number; windowEnd?: string; scheduleId: string | null; modelId: number }) {
  const { from, to } = scheduledWindow(input.windowDays, input.windowEnd);
  return { workflowId: workflowInfo().workflowId, scheduleId: input.scheduleId, modelId: input.modelId, from: from.toISOString(), to: to.toISOString() };
}

export async function startTriggeredRun(input: TriggeredRunSource, trigger: RunTrigger): Promise<{ runId: string; started: boolean }> {
  const info = workflowInfo();
  const run = await scheduledActivities.recordTriggeredRun({
    modelId: input.modelId,
    model: input.model,
    trigger,
    requestedBy: `schedule:${input.scheduleId ?? info.workflowId}`,
    key: info.workflowId,
    approvalTimeoutSeconds: input.approvalTimeoutSeconds ?? 7 * 86400,
    trainingTaskQueue: input.trainingTaskQueue ?? 'training',
  });
  // Another run of the model is under way: it is the answer, and nothing new starts.
  if (run.activeRunId) return { runId: run.activeRunId, started: false };
  try {
    await startChild('retrainingRun', {
      workflowId: run.runId,
      args: [run.input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: modelSearchAttribute, value: input.model },
        { key: triggerSearchAttribute, value: trigger },
        { key: stepSearchAttribute, value: 'queued' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return { runId: run.runId, started: true };
}
