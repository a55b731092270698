// driftMonitor: started by a Temporal Schedule. Population drift (PSI per slice attribute of the
// window's traffic against the production version's pre-launch population) and feedback-signal drift
// (the override rate against the previous window); when the policy says so, starts a retraining run
// with trigger 'drift' (it outlives this workflow) and sends a signed alert.
import type { DriftMonitorInput, DriftMonitorResult } from './messages';
import { alerting, scheduledActivities as activities } from './proxies';
import { scheduledRunWindow, startTriggeredRun } from './scheduled';

export async function driftMonitor(input: DriftMonitorInput): Promise<DriftMonitorResult> {
  const window = scheduledRunWindow(input);
  const found = await activities.measureDrift({ ...window, policy: input.policy });
  let run: { runId: string; started: boolean } | null = null;
  if (found.drift && input.policy.startRetraining) {
    run = await startTriggeredRun(input, 'drift');
  }
  const retrainingRunId = run?.runId ?? null;
  const runNote = run ? (run.started ? `; retraining run ${run.runId} started` : `; retraining run ${run.runId} already under way`) : '';
  if (found.drift) {
    await alerting.sendAlert({
      alertKey: `${window.workflowId}:drift`,
      modelId: input.modelId,
      kind: 'drift',
      severity: 'medium',
      summary: `${input.model}: production traffic drifted${runNote}`,
      payload: { reportId: found.reportId, window: { from: window.from, to: window.to }, reasons: found.reasons, retrainingRunId, retrainingRunStarted: run?.started ?? false },
      webhook: input.policy.webhook ?? null,
    });
  }
  return { reportId: found.reportId, drift: found.drift, reasons: found.reasons, windowFrom: window.from, windowTo: window.to, retrainingRunId, retrainingRunStarted: run?.started ?? false };
}
