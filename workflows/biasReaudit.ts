// biasReaudit: started by a Temporal Schedule (audits router). Re-measures the production version on
// the window of labelled traffic that ends at the schedule's nominal time (so a backfill audits each
// past period), compares it with the version's pre-launch audit (data drift and concept drift apart),
// stores the report, and when a gap crosses the policy sends a signed alert, retried with backoff.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { BiasReauditInput, BiasReauditResult } from './messages';
import { startTriggeredRun } from './triggeredRun';

const activities = proxyActivities<Activities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 10 },
});

// One delivery attempt per call; the backoff between attempts is this policy's.
const alerting = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 12 },
});

const DAY_MS = 86_400_000;

export async function biasReaudit(input: BiasReauditInput): Promise<BiasReauditResult> {
  const info = workflowInfo();
  // Temporal sets the schedule's nominal time on every action it starts, backfills included.
  const scheduled = (info.searchAttributes?.TemporalScheduledStartTime as unknown[] | undefined)?.[0];
  const end = input.windowEnd ? new Date(input.windowEnd) : scheduled ? new Date(scheduled as string | Date) : new Date(Date.now());
  const from = new Date(end.getTime() - input.windowDays * DAY_MS);
  const report = await activities.reauditWindow({
    workflowId: info.workflowId,
    scheduleId: input.scheduleId,
    modelId: input.modelId,
    from: from.toISOString(),
    to: end.toISOString(),
    policy: input.policy,
  });
  let retrainingRunId: string | null = null;
  if (report.alert && input.policy.startRetraining) {
    retrainingRunId = await startTriggeredRun({
      modelId: input.modelId,
      model: input.model,
      trigger: 'schedule',
      scheduleId: input.scheduleId,
      ...(input.trainingTaskQueue ? { trainingTaskQueue: input.trainingTaskQueue } : {}),
    });
  }
  // A rollback is proposed, not done: the alert asks an approver, who rolls back with models.rollback.
  const proposal = report.alert && input.policy.proposeRollback ? `roll back ${input.model} to its previous production version (models.rollback)` : null;
  if (report.alert) {
    await alerting.sendAlert({
      alertKey: `${info.workflowId}:bias-reaudit`,
      modelId: input.modelId,
      kind: 'bias_reaudit',
      severity: 'high',
      summary: `${input.model}: the production version drifted from its pre-launch audit (${report.reasons.length} finding${report.reasons.length === 1 ? '' : 's'})`,
      payload: {
        reportId: report.reportId,
        versionId: report.versionId,
        window: { from: from.toISOString(), to: end.toISOString() },
        reasons: report.reasons,
        reportHash: report.contentHash,
        retrainingRunId,
        proposal,
      },
      webhook: input.policy.webhook ?? null,
    });
  }
  return {
    reportId: report.reportId,
    alert: report.alert,
    reasons: report.reasons,
    windowFrom: from.toISOString(),
    windowTo: end.toISOString(),
    labelledRequests: report.labelledRequests,
    retrainingRunId,
    proposal,
  };
}
