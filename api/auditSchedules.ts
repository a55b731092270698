// Audits are Temporal Schedules (no table: the schedule is the record), so this is to the audits router
// what db/ is to the others: how an audit is written onto a schedule and read back from one. The spec as
// the operator wrote it (Temporal compiles cron strings into calendars), the model and who created it
// live in the schedule's memo; the policy in the action's first argument; the model is also the
// schedule's and each started workflow's RetrainModel search attribute.
import { ScheduleOverlapPolicy, type ScheduleDescription, type ScheduleExecutionResult, type ScheduleSpec, type ScheduleSummary } from '@temporalio/client';
import { z } from 'zod';
import { AUDIT_KINDS, type AuditKind } from '../db/schema';
import { BIAS_REAUDIT_WORKFLOW_TYPE, DRIFT_MONITOR_WORKFLOW_TYPE, modelSearchAttribute } from '../workflows/messages';
import { AUDIT_OVERLAP_POLICIES } from './schemas';

/** The workflow each kind of audit starts. */
export const AUDIT_WORKFLOW_TYPE: Record<AuditKind, string> = { bias_reaudit: BIAS_REAUDIT_WORKFLOW_TYPE, drift_monitor: DRIFT_MONITOR_WORKFLOW_TYPE };
/** The kind of audit a schedule is, from the workflow it starts; null for a schedule that is no audit. */
export const auditKindOf = (workflowType: string | undefined): AuditKind | null => AUDIT_KINDS.find((k) => AUDIT_WORKFLOW_TYPE[k] === workflowType) ?? null;

export type AuditOverlap = (typeof AUDIT_OVERLAP_POLICIES)[number];

export const OVERLAP_TO_TEMPORAL: Record<AuditOverlap, ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  buffer_all: ScheduleOverlapPolicy.BUFFER_ALL,
  cancel_other: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminate_other: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

export function overlapFromTemporal(overlap: ScheduleOverlapPolicy | undefined): AuditOverlap {
  const found = (Object.entries(OVERLAP_TO_TEMPORAL) as [AuditOverlap, ScheduleOverlapPolicy][]).find(([, v]) => v === overlap);
  return found?.[0] ?? 'skip';
}

/** The spec as the operator wrote it. */
export const auditSpecView = z.object({
  cron: z.string().nullable(),
  interval: z.object({ everySeconds: z.number().int() }).nullable(),
  timezone: z.string(),
});
export type AuditSpecView = z.infer<typeof auditSpecView>;

/** The schedule's memo, written by audits.create. */
export const auditMemo = z.object({
  model: z.string(),
  spec: auditSpecView,
  createdBy: z.string(),
});
export type AuditMemo = z.infer<typeof auditMemo>;

/** The action's first argument (BiasReauditInput or DriftMonitorInput), read back leniently. */
const storedInput = z.object({
  modelId: z.number(),
  model: z.string(),
  scheduleId: z.string().nullable(),
  windowDays: z.number(),
  policy: z.record(z.string(), z.unknown()),
});

/** A spec as audits.create takes it (exactly one of cron and interval), as Temporal takes it. */
export function temporalSpec(spec: { cron?: string; interval?: { everySeconds: number }; timezone: string }): ScheduleSpec {
  return spec.cron !== undefined
    ? { cronExpressions: [spec.cron], timezone: spec.timezone }
    : { intervals: [{ every: spec.interval!.everySeconds * 1000 }], timezone: spec.timezone };
}

export function recentActions(list: ScheduleExecutionResult[]) {
  return list.map((a) => ({
    workflowId: a.action.workflow.workflowId,
    runId: a.action.workflow.firstExecutionRunId,
    scheduledAt: a.scheduledAt,
    takenAt: a.takenAt,
  }));
}

/** The spec as written (memo); for a schedule without one, what can be read back from Temporal. */
function specOf(memo: AuditMemo | undefined, spec: ScheduleDescription['spec'] | undefined): AuditSpecView {
  if (memo) return memo.spec;
  const every = spec?.intervals?.[0]?.every;
  return { cron: null, interval: every !== undefined ? { everySeconds: Math.round(every / 1000) } : null, timezone: spec?.timezone || 'UTC' };
}

function modelOf(memo: AuditMemo | undefined, s: Pick<ScheduleSummary, 'typedSearchAttributes'>): string | null {
  return memo?.model ?? s.typedSearchAttributes?.get(modelSearchAttribute) ?? null;
}

/** What a schedule listing says of an audit. */
export function auditSummaryOf(s: ScheduleSummary, kind: AuditKind) {
  const memo = auditMemo.safeParse(s.memo).data;
  return {
    id: s.scheduleId,
    kind,
    model: modelOf(memo, s),
    spec: specOf(memo, s.spec),
    paused: s.state.paused,
    note: s.state.note || null,
    nextActionTimes: s.info.nextActionTimes,
    recentActions: recentActions(s.info.recentActions),
  };
}

/** An audit as its schedule describes it; the policy is returned as stored, for the caller to hold to its kind's schema. */
export function auditOf(d: ScheduleDescription, kind: AuditKind) {
  const memo = auditMemo.safeParse(d.memo).data;
  const args = storedInput.safeParse(d.action.args?.[0]).data;
  return {
    id: d.scheduleId,
    kind,
    model: modelOf(memo, d) ?? args?.model ?? null,
    spec: specOf(memo, d.spec),
    paused: d.state.paused,
    note: d.state.note || null,
    nextActionTimes: d.info.nextActionTimes,
    recentActions: recentActions(d.info.recentActions),
    workflowType: d.action.workflowType,
    taskQueue: d.action.taskQueue ?? null,
    windowDays: args?.windowDays ?? null,
    storedPolicy: args?.policy ?? null,
    overlap: overlapFromTemporal(d.policies.overlap),
    catchupWindowSeconds: Math.round(d.policies.catchupWindow / 1000),
    createdBy: memo?.createdBy ?? null,
    createdAt: d.info.createdAt,
    actionsTaken: d.info.numActionsTaken,
    actionsSkippedOverlap: d.info.numActionsSkippedOverlap,
    actionsMissedCatchupWindow: d.info.numActionsMissedCatchupWindow,
    runningWorkflowIds: d.info.runningActions.map((a) => a.workflow.workflowId),
  };
}
