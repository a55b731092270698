// Signals, queries and updates of the workflows, and the types they carry. The API imports this file,
// so it stays free of I/O and of activity code.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { PolicyDecision, RuleResult } from '../analysis/policy';
import { SEARCH_ATTRIBUTES } from './names';

export const RUN_WORKFLOW_TYPE = 'retrainingRun';

export const modelSearchAttribute = defineSearchAttributeKey(SEARCH_ATTRIBUTES.model, SearchAttributeType.KEYWORD);
export const triggerSearchAttribute = defineSearchAttributeKey(SEARCH_ATTRIBUTES.trigger, SearchAttributeType.KEYWORD);
export const stepSearchAttribute = defineSearchAttributeKey(SEARCH_ATTRIBUTES.step, SearchAttributeType.KEYWORD);

export type RunTrigger = 'manual' | 'bootstrap' | 'schedule' | 'drift' | 'feedback';

// trainerCall: one trainer activity on a trainer's queue (workflows/trainerCall.ts)

export const TRAINER_CALL_WORKFLOW_TYPE = 'trainerCall';

export interface TrainerCallInput {
  taskQueue: string;
  activity: 'trainer.describe' | 'trainer.train' | 'trainer.score';
  /** The activity's input (none for trainer.describe). */
  input?: unknown;
  /** How long the job may wait for a worker of the queue (schedule-to-start); default 60 s. */
  timeToStartSeconds?: number;
  /** default 3600 s */
  startToCloseSeconds?: number;
  /** default 30 s */
  heartbeatSeconds?: number;
  /** default 1: the conformance suite judges each attempt itself. */
  maximumAttempts?: number;
}

export interface RetrainingRunInput {
  runId: string;
  modelId: number;
  model: string;
  trigger: RunTrigger;
  /** The identity that started the run (from its token); it may never approve the run's gate. */
  requestedBy: string;
  /** Who controls the token that started the run (absent on runs started before it was recorded, and on system runs). */
  requesterChain?: IssuanceChain;
  trainerParams?: Record<string, unknown>;
  /** How long a gate waits for a human before it is rejected. */
  approvalTimeoutSeconds: number;
  /** Task queue of the training workers; defaults to 'training'. */
  trainingTaskQueue?: string;
  /** When set, the run samples recent traffic for annotation and waits for the labels first. */
  annotation?: AnnotationSettings;
  /** When set, the run checks whether more data still helps before it trains the candidate. */
  saturation?: SaturationSettings;
  /** When set, an approved candidate is rolled out (shadow, canary steps with analysis) instead of promoted at once. */
  rollout?: RolloutPlan;
  /**
   * How the snapshot chooses its held-out set: the examples' recorded split column (absent: as before),
   * or the newest window by observedAt (a duration such as '30d', or a fraction of the dated examples).
   */
  heldOut?: { kind: 'split' } | { kind: 'time'; newest: string | number };
}

/** The saturation check's design (issue: saturation check). */
export interface SaturationSettings {
  /** Nested fractions of the training set (default 0.1, 0.2, 0.4, 0.6, 0.8, 1.0). */
  fractions?: number[];
  /** Seeds per fraction (default 3). */
  seeds?: number;
  /** Absolute error the fitted curve must still gain from doubling the data (default 0.002). */
  minGainFromDoubling?: number;
}

export const DEFAULT_SATURATION_FRACTIONS = [0.1, 0.2, 0.4, 0.6, 0.8, 1.0];
export const DEFAULT_SATURATION_SEEDS = 3;

export interface SaturationCheckInput {
  runId: string;
  modelId: number;
  snapshotId: number;
  settings: SaturationSettings;
  trainerParams?: Record<string, unknown>;
  trainingTaskQueue?: string;
}

export interface SaturationSummary {
  verdict: 'improving' | 'plateau' | 'degrading';
  reasons: string[];
  recommendation: string;
  reportId: number;
  contentHash: string;
  /** Trainings this check ran, and how many were found already stored (a resumed check). */
  points: number;
  reused: number;
}

export const saturationProgressQuery = defineQuery<{ points: number; done: number }>('saturationProgress');

/** How a run asks people for labels (issue: sampling for annotation, the annotation workforce). */
export interface AnnotationSettings {
  /** Items sampled from the candidate pool (gold items come on top). */
  budget: number;
  /** Annotators per item (default 3). */
  overlap?: number;
  /** Share of the batch that is gold (default 0.10). */
  goldShare?: number;
  /** Minimum share of an item's labels that must agree, else it goes to adjudication (default 1: all k). */
  quorum?: number;
  /** The batch closes after this many seconds even if labels are missing. */
  deadlineSeconds: number;
  /** An assignment not labelled within this many seconds is taken back and given to someone else (default 600). */
  assignmentSeconds?: number;
  seed?: number;
  /** Uniform share of the budget (default 0.10). */
  explorationShare?: number;
  /** Long-tail quotas: at least `min` items of slice=value. */
  sliceFloors?: { slice: string; value: string; min: number }[];
  /** Floor for each slice the last evaluation found insufficient or untested (default 20; 0 turns them off). */
  longTailFloor?: number;
  /** Items whose slice=value need annotators with these pool attributes (e.g. language). */
  assignmentRules?: { slice: string; value: string; requires: Record<string, string> }[];
  /**
   * Pool composition per slice: items of slice=value wait for annotators with attribute=equals until
   * at least `min` of them have labelled the slice (analysis/poolBias CompositionRequirement).
   */
  composition?: { slice: string; value: string; attribute: string; equals: string; min: number }[];
}

export type RunStep =
  | 'started'
  | 'sampling'
  | 'annotating'
  | 'aggregating'
  | 'saturation'
  | 'snapshot'
  | 'training'
  | 'evaluating'
  | 'gate'
  | 'awaiting_approval'
  | 'promoting'
  | 'rolling_out'
  | 'rejecting'
  | 'done';

export type RunOutcome = 'promoted' | 'rejected' | 'cancelled' | 'rolled_back';

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
  /** The run's annotation batch (null when the run asked for no labels). */
  annotation?: { batchId: string; tasks: number; aggregated: number | null } | null;
  /** The run's saturation verdict (null when the run had no check). */
  saturation?: { verdict: string; recommendation: string; reportId: number } | null;
  /** The trainer the run's jobs go to (trainer contract): the API says when a job waits for its queue. Absent on runs from before it. */
  trainer?: { name: string; taskQueue: string; timeToStartSeconds: number } | null;
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

/**
 * A subject as identities are compared: Unicode NFKC, trimmed, lower case, so 'Operator1', 'operator1'
 * and 'Ｏｐｅｒａｔｏｒ１' are one person. db/tokens.ts stores subjects in this form (its copy of this
 * function is held equal to this one by test/api/fourEyes.test.ts; db/ may import nothing).
 */
export function canonicalSubject(subject: string): string {
  return subject.normalize('NFKC').toLowerCase().normalize('NFKC').trim();
}

/**
 * Who controls a token: its subject, every subject that issued it through the API (transitively), and
 * the root of trust above them (a token made with database access: the bootstrap admin or `retrain
 * tokens create`). Canonical subjects throughout.
 */
export interface IssuanceChain {
  subject: string;
  /** Subjects of the API-issued tokens that issued this one, nearest first (the root excluded). */
  issuers: string[];
  /** The subject at the chain's top when it is not the token itself; null for a root token. */
  root: string | null;
}

/** Everyone in a chain: the subject, its issuers and its root. */
export function controllersOf(chain: IssuanceChain): string[] {
  return [chain.subject, ...chain.issuers, ...(chain.root === null ? [] : [chain.root])];
}

/**
 * The four-eyes rule, one definition for the API and the workflow's update validator: the reason a
 * decision by `approver` on a run requested through `requester` is refused, or null when it is not.
 * Refused when (1) the approver controls the requester's token (is its subject or issued it, directly
 * or not), (2) the requester controls the approver's token, or (3) both tokens were issued through a
 * common issuer below the root of trust (one admin's two puppets). Tokens issued by the root itself are
 * the one case the rule cannot see: the root of trust is trusted (README, Roles).
 */
export function fourEyesRefusal(requester: IssuanceChain, approver: IssuanceChain): string | null {
  const req = canonicalChain(requester);
  const app = canonicalChain(approver);
  if (req.subject === app.subject) return `${app.subject} started this run and may not decide its gate (four eyes)`;
  if (controllersOf(req).includes(app.subject)) {
    return `${app.subject} issued (directly or through another token) the token ${req.subject} started this run with, so may not decide its gate (four eyes)`;
  }
  if (controllersOf(app).includes(req.subject)) {
    return `the token of ${app.subject} was issued (directly or not) by ${req.subject}, who started this run (four eyes)`;
  }
  const shared = req.issuers.filter((s) => app.issuers.includes(s));
  if (shared.length > 0) {
    return `the tokens of ${req.subject} (who started this run) and ${app.subject} were both issued through ${shared[0]}, one person's word for both sides (four eyes)`;
  }
  return null;
}

function canonicalChain(chain: IssuanceChain): IssuanceChain {
  return {
    subject: canonicalSubject(chain.subject),
    issuers: (Array.isArray(chain.issuers) ? chain.issuers : []).map(canonicalSubject),
    root: typeof chain.root === 'string' ? canonicalSubject(chain.root) : null,
  };
}

/** The chain of a run's requester when none was recorded (older runs, system runs): the subject alone. */
export function bareChain(subject: string): IssuanceChain {
  return { subject: canonicalSubject(subject), issuers: [], root: null };
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
  /** Who controls the approver's token (the API reads it from api_tokens); absent: the subject alone. */
  approverChain?: IssuanceChain;
  /** The packet hash the approver read and signs; required to approve, checked when given to reject. */
  packetHash?: string;
  /** The model's gate policy version when the decision was made; an approval is refused when it differs from the judged one. */
  currentPolicyVersion?: number | null;
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

/**
 * What each role may do beyond itself: admin everything; operator and approver can also read. One table
 * for the API's role-guarded procedures and the workflows' update validators.
 */
export const ROLE_IMPLIES = {
  admin: ['admin', 'operator', 'approver', 'viewer', 'annotator', 'ingest', 'trainer'],
  operator: ['operator', 'viewer'],
  approver: ['approver', 'viewer'],
  viewer: ['viewer'],
  annotator: ['annotator'],
  ingest: ['ingest'],
  /** A trainer worker: reads snapshots and writes scores and artifacts on the data plane (trainer contract). */
  trainer: ['trainer'],
} as const satisfies Record<string, readonly string[]>;
export type RoleName = keyof typeof ROLE_IMPLIES;

/** Whether a caller holding role `held` may act as `required`; an unknown role (an update carries a plain string) may not. */
export function roleAllows(held: string, required: RoleName): boolean {
  return Object.hasOwn(ROLE_IMPLIES, held) && (ROLE_IMPLIES[held as RoleName] as readonly string[]).includes(required);
}

// annotationBatch

export const ANNOTATION_BATCH_WORKFLOW_TYPE = 'annotationBatch';

export interface AnnotationBatchInput {
  batchId: string;
  modelId: number;
  /** Tasks in the batch (sampled + gold). */
  tasks: number;
  deadlineSeconds: number;
  assignmentSeconds: number;
  /**
   * Each label adds a signal to the batch's history, so a large batch continues as new (its state is in
   * the database) after this many events, or when Temporal suggests it; default 10,000.
   */
  continueAfterEvents?: number;
  /** Set by a batch that continued as new: its deadline (ISO) and the signals it had received. */
  continued?: { deadline: string; signals: number };
}

/** What the API tells the batch after it stored a label: the task's status afterwards. */
export interface LabelSubmittedSignal {
  taskId: number;
  annotator: string;
  taskStatus: 'open' | 'adjudication' | 'done' | 'unresolved';
}

export interface BatchProgress {
  tasks: number;
  open: number;
  adjudication: number;
  done: number;
  labels: number;
  /** Assignments taken back after their time ran out (cumulative). */
  reassigned: number;
}

export interface AnnotationBatchResult {
  batchId: string;
  closedBy: 'complete' | 'deadline';
  progress: BatchProgress;
  /** Signals received (labels reported by the API). */
  signals: number;
}

export const labelSubmittedSignal = defineSignal<[LabelSubmittedSignal]>('labelSubmitted');
export const batchProgressQuery = defineQuery<BatchProgress & { signals: number; deadline: string }>('progress');

// rollout

export interface RolloutPlan {
  /**
   * Seconds the candidate scores traffic silently beside production before any canary (0 skips it); its
   * decisions are then compared with production's (analysis/rollout judgeShadowCounts): Failed rolls back,
   * Inconclusive pauses for a human, Successful goes on to the canary steps.
   */
  shadowSeconds?: number;
  /** How the shadow window is judged (analysis/rollout.ts ShadowRules; defaults there). */
  shadowRules?: { maxNewBlockRate?: number; maxNewPassRate?: number; minRequests?: number; minSupport?: number };
  /** Canary steps: the share of traffic (sticky by request key) and the analysis window after it. */
  steps?: { weight: number; analysisSeconds: number }[];
  /** How a window is judged against the version being replaced (analysis/rollout.ts CanaryRule). */
  rules?: { metric: 'override_rate' | 'report_rate'; maxIncrease: number; minRequests?: number; perSlice?: boolean }[];
  failureLimit?: number;
  inconclusiveLimit?: number;
}

export const DEFAULT_ROLLOUT_STEPS = [
  { weight: 0.05, analysisSeconds: 3600 },
  { weight: 0.25, analysisSeconds: 3600 },
  { weight: 0.5, analysisSeconds: 3600 },
];
export const DEFAULT_ROLLOUT_RULES: NonNullable<RolloutPlan['rules']> = [
  { metric: 'override_rate', maxIncrease: 0.01 },
  { metric: 'report_rate', maxIncrease: 0.01 },
];

export interface RolloutInput {
  runId: string;
  modelId: number;
  candidateVersionId: number;
  /** The production version the candidate may replace; null: nothing to compare with, promote. */
  championVersionId: number | null;
  requestedBy: string;
  plan: RolloutPlan;
}

export type RolloutPhase = 'shadow' | 'canary' | 'paused' | 'promoting' | 'rolling_back' | 'done';

export interface RolloutAnalysisView {
  step: number;
  weight: number;
  from: string;
  to: string;
  phase: 'Successful' | 'Failed' | 'Inconclusive';
  reasons: string[];
}

/** The shadow window's comparison of decisions: the candidate's (silent) against the served version's. */
export interface RolloutShadowView {
  from: string;
  to: string;
  phase: 'Successful' | 'Failed' | 'Inconclusive';
  reasons: string[];
  /** Requests with both decisions; the serving version's logged requests in the window; their ratio. */
  requests: number;
  servedRequests: number;
  coverage: number | null;
  /** Share of requests decided alike, with its Wilson 95% interval. */
  agreement: { estimate: number | null; lower: number | null; upper: number | null };
  /** Served pass → shadow block, and served block → shadow pass: counts and shares of all compared requests. */
  newBlocks: { count: number; estimate: number | null; lower: number | null; upper: number | null };
  newPasses: { count: number; estimate: number | null; lower: number | null; upper: number | null };
  /** Slice values judged Failed (the rest are in the activity's result, not kept in the status). */
  failedSlices: string[];
}

export interface RolloutStatus {
  phase: RolloutPhase;
  step: number;
  weight: number;
  analyses: RolloutAnalysisView[];
  /** null until the shadow window has been compared (and always without one, or on older histories). */
  shadow: RolloutShadowView | null;
  pausedBecause: string | null;
  outcome: 'promoted' | 'rolled_back' | null;
  reason: string | null;
}

export interface RolloutResult {
  outcome: 'promoted' | 'rolled_back';
  reason: string;
  analyses: RolloutAnalysisView[];
  shadow?: RolloutShadowView | null;
}

export interface RolloutCommand {
  caller: CallerIdentity;
  reason: string;
}

export const ROLLOUT_FAILURE = GATE_FAILURE;
export const rolloutStatusQuery = defineQuery<RolloutStatus>('rolloutStatus');
/** Fast path: skips analysis; any operator or approver (it restores the approved champion). */
export const rollbackUpdate = defineUpdate<RolloutStatus, [RolloutCommand]>('rollback');
/** Skip the remaining steps: an approver who did not request the run (the API also applies fourEyesRefusal to the chains). */
export const promoteNowUpdate = defineUpdate<RolloutStatus, [RolloutCommand]>('promoteNow');
/** Stop shifting traffic (the analysis clock stops): an operator or an approver (api/routers/runs ROLLOUT_ROLES). */
export const pauseUpdate = defineUpdate<RolloutStatus, [RolloutCommand]>('pause');
/** Go on with the approved plan: an operator or an approver. */
export const resumeUpdate = defineUpdate<RolloutStatus, [RolloutCommand]>('resume');

// biasReaudit (run by a Temporal Schedule)

export const BIAS_REAUDIT_WORKFLOW_TYPE = 'biasReaudit';

/** When a re-audit alerts, and what else it does (analysis/drift DriftPolicy plus actions). */
export interface ReauditPolicy {
  maxFprIncrease: number;
  maxFairnessGap: number;
  maxPsi?: number;
  minSupport?: number;
  /** Slice attributes whose fairness gaps are judged (default: every attribute of the held-out set). */
  attributes?: string[];
  /** Start a retraining run when the re-audit alerts. */
  startRetraining?: boolean;
  /** Record a rollback proposal for an approver when the re-audit alerts. */
  proposeRollback?: boolean;
  /** Where alerts go; the HMAC secret is read from this environment variable on the worker. */
  webhook?: { url: string; secretEnv?: string } | null;
}

export interface BiasReauditInput {
  modelId: number;
  model: string;
  /** The schedule that started it (null: triggered by hand outside a schedule). */
  scheduleId: string | null;
  /** Days of labelled traffic before the window's end. */
  windowDays: number;
  policy: ReauditPolicy;
  /** Window end; default: the schedule's nominal time (backfills audit past periods), else now. */
  windowEnd?: string;
  /** Where a started run trains (default 'training'). */
  trainingTaskQueue?: string;
}

export interface BiasReauditResult {
  reportId: number;
  alert: boolean;
  reasons: string[];
  windowFrom: string;
  windowTo: string;
  labelledRequests: number;
  /** The run the alert started, or the run of the model already under way. */
  retrainingRunId: string | null;
  retrainingRunStarted: boolean;
  /** What an approver is asked to do, when the policy proposes a rollback. */
  proposal: string | null;
}

// driftMonitor (run by a Temporal Schedule)

export const DRIFT_MONITOR_WORKFLOW_TYPE = 'driftMonitor';

export interface DriftMonitorPolicy {
  /** Population drift: PSI of an attribute's traffic against the production version's pre-launch population. */
  maxPsi?: number;
  /** Attributes watched (default: every attribute of the pre-launch audit except month). */
  attributes?: string[];
  /** Feedback-signal drift: the override rate may rise by at most this much over the previous window (on the interval's lower bound). */
  maxOverrideRise?: number;
  /** Start a retraining run (trigger 'drift') when drift is found. */
  startRetraining?: boolean;
  webhook?: { url: string; secretEnv?: string } | null;
}

export interface DriftMonitorInput {
  modelId: number;
  model: string;
  scheduleId: string | null;
  windowDays: number;
  policy: DriftMonitorPolicy;
  windowEnd?: string;
  /** Where a started run trains (default 'training'). */
  trainingTaskQueue?: string;
  approvalTimeoutSeconds?: number;
}

export interface DriftMonitorResult {
  /** The stored audit report (kind drift_monitor). */
  reportId: number;
  drift: boolean;
  reasons: string[];
  windowFrom: string;
  windowTo: string;
  /** The run the finding started, or the run of the model already under way. */
  retrainingRunId: string | null;
  /** False when retrainingRunId names a run that was already under way. */
  retrainingRunStarted: boolean;
}
