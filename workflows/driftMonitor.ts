// driftMonitor: started by a Temporal Schedule. Population drift (PSI per slice attribute of the
// window's traffic against the production version's pre-launch population) and feedback-signal drift
// (the override rate against the previous window); when the policy says so, starts a retraining run
// with trigger 'drift' (it outlives this workflow) and sends a signed alert.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { DriftMonitorInput, DriftMonitorResult } from './messages';
import { startTriggeredRun } from './triggeredRun';

const activities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});
const alerting = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
});

const DAY_MS = 86_400_000;

export async function driftMonitor(input: DriftMonitorInput): Promise<DriftMonitorResult> {
  const info = workflowInfo();
  const scheduled = (info.searchAttributes?.TemporalScheduledStartTime as unknown[] | undefined)?.[0];
  const end = input.windowEnd ? new Date(input.windowEnd) : scheduled ? new Date(scheduled as string | Date) : new Date(Date.now());
  const from = new Date(end.getTime() - input.windowDays * DAY_MS);
  const found = await activities.measureDrift({ modelId: input.modelId, from: from.toISOString(), to: end.toISOString(), policy: input.policy });
  let retrainingRunId: string | null = null;
  if (found.drift && input.policy.startRetraining) {
    retrainingRunId = await startTriggeredRun({
      modelId: input.modelId,
      model: input.model,
      trigger: 'drift',
      scheduleId: input.scheduleId,
      ...(input.trainingTaskQueue ? { trainingTaskQueue: input.trainingTaskQueue } : {}),
      ...(input.approvalTimeoutSeconds ? { approvalTimeoutSeconds: input.approvalTimeoutSeconds } : {}),
    });
  }
  if (found.drift) {
    await alerting.sendAlert({
      alertKey: `${info.workflowId}:drift`,
      modelId: input.modelId,
      kind: 'drift',
      severity: 'medium',
      summary: `${input.model}: production traffic drifted${retrainingRunId ? `; retraining run ${retrainingRunId} started` : ''}`,
      payload: { window: { from: from.toISOString(), to: end.toISOString() }, reasons: found.reasons, retrainingRunId },
      webhook: input.policy.webhook ?? null,
    });
  }
  return { drift: found.drift, reasons: found.reasons, windowFrom: from.toISOString(), windowTo: end.toISOString(), retrainingRunId };
}
