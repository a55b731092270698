// A retraining run started by a scheduled workflow (drift monitor, bias re-audit): recorded once under a
// key of the starting workflow, started as a child that outlives its parent (it may wait days at its
// gate), and a retried parent finds it already started.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { modelSearchAttribute, stepSearchAttribute, triggerSearchAttribute, type RunTrigger } from './messages';

const activities = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

export async function startTriggeredRun(input: {
  modelId: number;
  model: string;
  trigger: RunTrigger;
  scheduleId: string | null;
  trainingTaskQueue?: string;
  approvalTimeoutSeconds?: number;
}): Promise<string> {
  const info = workflowInfo();
  const run = await activities.recordTriggeredRun({
    modelId: input.modelId,
    model: input.model,
    trigger: input.trigger,
    requestedBy: `schedule:${input.scheduleId ?? info.workflowId}`,
    key: info.workflowId,
    approvalTimeoutSeconds: input.approvalTimeoutSeconds ?? 7 * 86400,
    trainingTaskQueue: input.trainingTaskQueue ?? 'training',
  });
  try {
    await startChild('retrainingRun', {
      workflowId: run.runId,
      args: [run.input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: modelSearchAttribute, value: input.model },
        { key: triggerSearchAttribute, value: input.trigger },
        { key: stepSearchAttribute, value: 'queued' },
      ],
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  return run.runId;
}
