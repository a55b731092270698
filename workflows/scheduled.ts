// What the scheduled workflows (bias re-audit, drift monitor) share: the window that ends at the
// schedule's nominal time, and a retraining run they start (recorded once under a key of the starting
// workflow, a child that outlives its parent, found already started on a retry). Their activity
// proxies are in proxies.ts.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { modelSearchAttribute, stepSearchAttribute, triggerSearchAttribute, type RunTrigger } from './messages';
import { TASK_QUEUES } from './names';
import { scheduledActivities } from './proxies';

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
    trainingTaskQueue: input.trainingTaskQueue ?? TASK_QUEUES.training,
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
