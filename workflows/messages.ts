// Signals, queries and updates of the workflows, and the types they carry. The API imports this file,
// so it stays free of I/O and of activity code.
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PolicyDecision, RuleResult } from '../analysis/policy';

export const RUN_WORKFLOW_TYPE = 'retrainingRun';

export const modelSearchAttribute = defineSearchAttributeKey('RetrainModel', SearchAttributeType.KEYWORD);
export const triggerSearchAttribute = defineSearchAttributeKey('RetrainTrigger', SearchAttributeType.KEYWORD);
export const stepSearchAttribute = defineSearchAttributeKey('RetrainStep', SearchAttributeType.KEYWORD);

export type RunTrigger = 'manual' | 'bootstrap' | 'schedule' | 'drift' | 'feedback';

export interface RetrainingRunInput {
  runId: string;
  modelId: number;
  model: string;
  trigger: RunTrigger;
  /** The identity that started the run (from its token); it may never approve the run's gate. */
  requestedBy: string;
  trainerParams?: Record<string, number>;
  /** How long a gate waits for a human before it is rejected. */
  approvalTimeoutSeconds: number;
  /** Task queue of the training workers; defaults to 'training'. */
  trainingTaskQueue?: string;
}

export type RunStep =
  | 'started'
  | 'snapshot'
  | 'training'
  | 'evaluating'
  | 'gate'
  | 'awaiting_approval'
  | 'promoting'
  | 'rejecting'
  | 'done';

export type RunOutcome = 'promoted' | 'rejected' | 'cancelled';

export interface GateApprovalView {
  /** ISO time after which the gate is rejected. */
  deadline: string;
  decision: 'approve' | 'reject' | null;
  approver: string | null;
  reason: string | null;
}

/** The gate's judgement; 'passed' is how runs recorded before gate policies said 'approved'. */
export interface GateView {
  policyVersion: number | null;
  decision: PolicyDecision | 'passed';
  reasons: string[];
  rules: RuleResult[];
}

export interface RunStatusView {
  runId: string;
  model: string;
  requestedBy: string;
  step: RunStep;
  snapshotId: number | null;
  candidateVersionId: number | null;
  candidateVersion: number | null;
  championVersionId: number | null;
  candidateReportId: number | null;
  championReportId: number | null;
  /** Hash of the approval packet an approver signs. */
  candidateReportHash: string | null;
  gate: GateView | null;
  approval: GateApprovalView | null;
  outcome: RunOutcome | null;
}

export interface RetrainingRunResult {
  runId: string;
  outcome: RunOutcome;
  candidateVersionId: number | null;
  candidateVersion: number | null;
  gateDecision: GateView['decision'] | null;
  humanDecision: 'approve' | 'reject' | 'timeout' | null;
  productionVersionId: number | null;
  reason: string;
}

/** The caller's identity travels from the API's auth context, never from a request body. */
export interface CallerIdentity {
  subject: string;
  role: string;
}

export interface DecideGateInput {
  decision: 'approve' | 'reject';
  reason: string;
  approver: CallerIdentity;
}

export interface DecideGateResult {
  decision: 'approve' | 'reject';
  approver: string;
  reportHash: string | null;
}

/** Failure types a rejected update carries, so the API can map them to its error codes. */
export const GATE_FAILURE = {
  forbidden: 'GateForbidden',
  conflict: 'GateConflict',
  badRequest: 'GateBadRequest',
} as const;

export const decideGateUpdate = defineUpdate<DecideGateResult, [DecideGateInput]>('decideGate');
export const statusQuery = defineQuery<RunStatusView>('status');

export const MIN_REASON_LENGTH = 3;
export const APPROVER_ROLES: readonly string[] = ['approver', 'admin'];
