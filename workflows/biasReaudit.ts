// biasReaudit: started by a Temporal Schedule (audits router). Re-measures the production version on
// the window of labelled traffic that ends at the schedule's nominal time (so a backfill audits each
// past period), compares it with the version's pre-launch audit (data drift and concept drift apart),
// stores the report, and when a gap crosses the policy sends a signed alert, retried with backoff.
import type { BiasReauditInput, BiasReauditResult } from './messages';
import { alerting, scheduledActivities as activities } from './proxies';
import { scheduledRunWindow, startTriggeredRun } from './scheduled';

export async function biasReaudit(input: BiasReauditInput): Promise<BiasReauditResult> {
  const window = scheduledRunWindow(input);
  const report = await activities.reauditWindow({ ...window, policy: input.policy });
  let run: { runId: string; started: boolean } | null = null;
  if (report.alert && input.policy.startRetraining) {
    run = await startTriggeredRun(input, 'schedule');
  }
  const retrainingRunId = run?.runId ?? null;
  // A rollback is proposed, not done: the alert asks an approver, who rolls back with models.rollback.
  const proposal = report.alert && input.policy.proposeRollback ? `roll back ${input.model} to its previous production version (models.rollback)` : null;
  if (report.alert) {
    await alerting.sendAlert({
      alertKey: `${window.workflowId}:bias-reaudit`,
      modelId: input.modelId,
      kind: 'bias_reaudit',
      severity: 'high',
      summary: `${input.model}: the production version drifted from its pre-launch audit (${report.reasons.length} finding${report.reasons.length === 1 ? '' : 's'})`,
      payload: {
        reportId: report.reportId,
        versionId: report.versionId,
        window: { from: window.from, to: window.to },
        reasons: report.reasons,
        reportHash: report.contentHash,
        retrainingRunId,
        retrainingRunStarted: run?.started ?? false,
        proposal,
      },
      webhook: input.policy.webhook ?? null,
    });
  }
  return {
    reportId: report.reportId,
    alert: report.alert,
    reasons: report.reasons,
    windowFrom: window.from,
    windowTo: window.to,
    labelledRequests: report.labelledRequests,
    retrainingRunId,
    retrainingRunStarted: run?.started ?? false,
    proposal,
  };
}
