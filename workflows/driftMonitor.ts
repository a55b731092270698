// driftMonitor: started by a Temporal Schedule. Population drift (PSI per slice attribute of the
// window's traffic against the production version's pre-launch population) and feedback-signal drift
// (the override rate against the previous window); when the policy says so, starts a retraining run
// with trigger 'drift' (it outlives this workflow) and sends a signed alert.
import { workflowInfo } from '@temporalio/workflow';
import type { DriftMonitorInput, DriftMonitorResult } from './messages';
import { alerting, scheduledActivities as activities, scheduledWindow, startTriggeredRun } from './scheduled';

export async function driftMonitor(input: DriftMonitorInput): Promise<DriftMonitorResult> {
  const info = workflowInfo();
  const { from, to: end } = scheduledWindow(input.windowDays, input.windowEnd);
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
