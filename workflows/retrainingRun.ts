// retrainingRun: snapshot → train → evaluate candidate and champion → gate → (human sign-off) → promote or reject.
// Deterministic orchestration only: every side effect is an activity, every wait a durable timer or condition.
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  executeChild,
  isCancellation,
  patched,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  GATE_FAILURE,
  MIN_REASON_LENGTH,
  bareChain,
  decideGateUpdate,
  fourEyesRefusal,
  roleAllows,
  statusQuery,
  stepSearchAttribute,
  type DecideGateInput,
  type RetrainingRunInput,
  type RetrainingRunResult,
  type RunStatusView,
  type RunStep,
} from './messages';
import { annotationBatch } from './annotationBatch';
import { TASK_QUEUES } from './names';
import type { CandidateRef } from '../activities';
import { controlActivities, preContractTrainingOn, trainerJob, trainingActivitiesOn } from './proxies';
import { rollout } from './rollout';
import { saturationCheck } from './saturationCheck';

export async function retrainingRun(input: RetrainingRunInput): Promise<RetrainingRunResult> {
  const trainingActivities = trainingActivitiesOn(input.trainingTaskQueue);
  const status: RunStatusView = {
    runId: input.runId,
    model: input.model,
    requestedBy: input.requestedBy,
    step: 'started',
    snapshotId: null,
    candidateVersionId: null,
    candidateVersion: null,
    championVersionId: null,
    candidateReportId: null,
    championReportId: null,
    candidateReportHash: null,
    gate: null,
    approval: null,
    outcome: null,
    annotation: null,
    saturation: null,
  };
  let humanDecision: DecideGateInput | undefined;

  setHandler(statusQuery, () => status);
  setHandler(
    decideGateUpdate,
    (decision) => {
      humanDecision = decision;
      status.approval = {
        deadline: status.approval?.deadline ?? '',
        decision: decision.decision,
        approver: decision.approver.subject,
        reason: decision.reason.trim(),
      };
      return { decision: decision.decision, approver: decision.approver.subject, reportHash: status.candidateReportHash };
    },
    {
      // Validators run before anything is written to history: a refused decision leaves the run untouched.
      validator: (decision) => {
        if (status.step !== 'awaiting_approval' || humanDecision !== undefined) {
          throw ApplicationFailure.create({
            type: GATE_FAILURE.conflict,
            message: `run ${input.runId} is not waiting for a gate decision (step: ${status.step})`,
          });
        }
        if (!roleAllows(decision.approver.role, 'approver')) {
          throw ApplicationFailure.create({
            type: GATE_FAILURE.forbidden,
            message: `role '${decision.approver.role}' may not decide gates; the approver role is required`,
          });
        }
        // Four eyes over identities, not strings: canonical subjects and the tokens' issuance chains.
        // (Validators do not run on replay, so the stricter rule needs no patch.)
        const approverChain = decision.approverChain ? { ...decision.approverChain, subject: decision.approver.subject } : bareChain(decision.approver.subject);
        const refusal = fourEyesRefusal(input.requesterChain ?? bareChain(input.requestedBy), approverChain);
        if (refusal) {
          throw ApplicationFailure.create({ type: GATE_FAILURE.forbidden, message: `run ${input.runId}: ${refusal}` });
        }
        if (decision.decision !== 'approve' && decision.decision !== 'reject') {
          throw ApplicationFailure.create({ type: GATE_FAILURE.badRequest, message: `decision must be approve or reject` });
        }
        if (typeof decision.reason !== 'string' || decision.reason.trim().length < MIN_REASON_LENGTH) {
          throw ApplicationFailure.create({
            type: GATE_FAILURE.badRequest,
            message: `a reason of at least ${MIN_REASON_LENGTH} characters is required`,
          });
        }
        // The approval is bound to what was judged: the packet the approver read, under the policy it was judged by.
        if (decision.decision === 'approve' && typeof decision.packetHash !== 'string') {
          throw ApplicationFailure.create({ type: GATE_FAILURE.badRequest, message: `an approval must carry the packet hash the approver read (packetHash)` });
        }
        if (decision.packetHash !== undefined && decision.packetHash !== status.candidateReportHash) {
          throw ApplicationFailure.create({
            type: GATE_FAILURE.conflict,
            message: `packet hash mismatch: the decision signs ${String(decision.packetHash)}, run ${input.runId} was judged on ${String(status.candidateReportHash)}; read the packet again`,
          });
        }
        const judgedUnder = status.gate?.policyVersion ?? null;
        if (decision.decision === 'approve' && decision.currentPolicyVersion !== undefined && decision.currentPolicyVersion !== judgedUnder) {
          throw ApplicationFailure.create({
            type: GATE_FAILURE.conflict,
            message: `run ${input.runId} was judged under policy version ${String(judgedUnder)}, the model's policy is now version ${String(decision.currentPolicyVersion)}: the judgement is stale; reject this run and start a new one`,
          });
        }
      },
    },
  );

  const enter = async (step: RunStep, runStatus?: 'awaiting_approval' | 'running') => {
    status.step = step;
    upsertSearchAttributes([{ key: stepSearchAttribute, value: step }]);
    await controlActivities.recordRunStep({ runId: input.runId, step, ...(runStatus ? { status: runStatus } : {}) });
  };

  const finish = async (
    outcome: RetrainingRunResult['outcome'],
    gateDecision: RetrainingRunResult['gateDecision'],
    human: RetrainingRunResult['humanDecision'],
    productionVersionId: number | null,
    reason: string,
  ): Promise<RetrainingRunResult> => {
    status.outcome = outcome;
    const result: RetrainingRunResult = {
      runId: input.runId,
      outcome,
      candidateVersionId: status.candidateVersionId,
      candidateVersion: status.candidateVersion,
      gateDecision,
      humanDecision: human,
      productionVersionId,
      reason,
    };
    await controlActivities.finishRun({ runId: input.runId, status: outcome, result: { ...result } });
    status.step = 'done';
    upsertSearchAttributes([{ key: stepSearchAttribute, value: 'done' }]);
    await condition(allHandlersFinished);
    return result;
  };

  try {
    // Runs that ask for labels first sample production traffic, wait for the annotation batch and
    // aggregate it, so the snapshot below includes the new labels. (patched: histories recorded
    // before this step replay unchanged.)
    if (input.annotation && patched('annotation-loop')) {
      await enter('sampling');
      const batch = await controlActivities.sampleForAnnotation({
        runId: input.runId,
        modelId: input.modelId,
        requestedBy: input.requestedBy,
        settings: input.annotation,
      });
      if (batch) {
        status.annotation = { batchId: batch.batchId, tasks: batch.tasks, aggregated: null };
        await enter('annotating');
        await executeChild(annotationBatch, {
          workflowId: batch.batchId,
          args: [
            {
              batchId: batch.batchId,
              modelId: input.modelId,
              tasks: batch.tasks,
              deadlineSeconds: input.annotation.deadlineSeconds,
              assignmentSeconds: input.annotation.assignmentSeconds ?? 600,
            },
          ],
        });
        await enter('aggregating');
        const aggregation = await controlActivities.aggregateAnnotationBatch({ batchId: batch.batchId });
        status.annotation.aggregated = aggregation.aggregated;
      }
    }

    await enter('snapshot');
    // The held-out design rides in the activity's input (absent on runs from before it: the same call).
    const snapshot = await controlActivities.freezeSnapshot({ runId: input.runId, modelId: input.modelId, ...(input.heldOut ? { heldOut: input.heldOut } : {}) });
    status.snapshotId = snapshot.snapshotId;

    // Does more data still help? Nested-subset learning curves and the newest batch's ablation, before
    // the candidate is trained; the gate reads the stored verdict. (patched: older histories replay.)
    if (input.saturation && patched('saturation-check')) {
      await enter('saturation');
      const saturation = await executeChild(saturationCheck, {
        workflowId: `saturation-${input.runId}`,
        args: [
          {
            runId: input.runId,
            modelId: input.modelId,
            snapshotId: snapshot.snapshotId,
            settings: input.saturation,
            ...(input.trainerParams ? { trainerParams: input.trainerParams } : {}),
            trainingTaskQueue: input.trainingTaskQueue ?? TASK_QUEUES.training,
          },
        ],
      });
      status.saturation = { verdict: saturation.verdict, recommendation: saturation.recommendation, reportId: saturation.reportId };
    }

    await enter('training');
    // The trainer contract: the model's trainer trains and scores on its own queue, data by reference;
    // histories recorded before it replay through the direct path. (patched)
    const contract = patched('trainer-contract');
    const trainingTaskQueue = input.trainingTaskQueue ?? TASK_QUEUES.training;
    let candidate: CandidateRef;
    if (contract) {
      const job = await controlActivities.planTraining({
        runId: input.runId,
        modelId: input.modelId,
        snapshotId: snapshot.snapshotId,
        trainingTaskQueue,
        ...(input.trainerParams ? { trainerParams: input.trainerParams } : {}),
      });
      status.trainer = job.trainer;
      const trained = await trainerJob(job.trainer, 'trainer.train', job.input);
      candidate = await controlActivities.recordCandidate({ runId: input.runId, modelId: input.modelId, snapshotId: snapshot.snapshotId, trainer: job.trainer, job: job.input, trained });
    } else {
      candidate = await preContractTrainingOn(input.trainingTaskQueue, '15 seconds').trainCandidate({
        runId: input.runId,
        modelId: input.modelId,
        snapshotId: snapshot.snapshotId,
        ...(input.trainerParams ? { trainerParams: input.trainerParams } : {}),
      });
    }
    status.candidateVersionId = candidate.versionId;
    status.candidateVersion = candidate.version;

    await enter('evaluating');
    let scoreSets: { versionId: number; jobKey: string }[] | undefined;
    if (contract) {
      const jobs = await controlActivities.planEvaluationScoring({
        runId: input.runId,
        modelId: input.modelId,
        snapshotId: snapshot.snapshotId,
        candidateVersionId: candidate.versionId,
        trainingTaskQueue,
      });
      await Promise.all(jobs.map((j) => trainerJob(j.trainer, 'trainer.score', j.input)));
      scoreSets = jobs.map((j) => ({ versionId: j.versionId, jobKey: j.input.jobKey }));
    }
    const evaluation = await trainingActivities.evaluateVersions({
      runId: input.runId,
      modelId: input.modelId,
      snapshotId: snapshot.snapshotId,
      candidateVersionId: candidate.versionId,
      ...(scoreSets ? { scoreSets } : {}),
    });
    status.candidateReportId = evaluation.candidate.reportId;
    // Runs recorded before approval packets carried only the candidate report's hash.
    status.candidateReportHash = evaluation.packetHash ?? evaluation.candidate.contentHash;
    status.championReportId = evaluation.champion?.reportId ?? null;
    status.championVersionId = evaluation.champion?.versionId ?? null;

    await enter('gate');
    const gate = await controlActivities.judgeGate({
      runId: input.runId,
      modelId: input.modelId,
      candidateReportId: evaluation.candidate.reportId,
      championReportId: evaluation.champion?.reportId ?? null,
    });
    status.gate = gate;

    if (gate.decision === 'failed') {
      await enter('rejecting');
      await controlActivities.rejectCandidate({ runId: input.runId, versionId: candidate.versionId });
      return await finish('rejected', 'failed', null, evaluation.champion?.versionId ?? null, gate.reasons.join('; '));
    }

    let approver: string | null = null;
    let human: RetrainingRunResult['humanDecision'] = null;
    if (gate.decision === 'needs_approval') {
      const timeoutMs = input.approvalTimeoutSeconds * 1000;
      status.approval = {
        deadline: new Date(Date.now() + timeoutMs).toISOString(),
        decision: null,
        approver: null,
        reason: null,
      };
      await enter('awaiting_approval', 'awaiting_approval');
      const decided = await condition(() => humanDecision !== undefined, timeoutMs);
      if (!decided || !humanDecision) {
        await controlActivities.recordApproval({
          runId: input.runId,
          decision: 'rejected',
          approver: 'system:deadline',
          reason: `no decision within ${input.approvalTimeoutSeconds} s`,
          reportHash: status.candidateReportHash,
        });
        await enter('rejecting', 'running');
        await controlActivities.rejectCandidate({ runId: input.runId, versionId: candidate.versionId });
        return await finish(
          'rejected',
          'needs_approval',
          'timeout',
          evaluation.champion?.versionId ?? null,
          'approval deadline passed',
        );
      }
      const decision: DecideGateInput = humanDecision;
      await controlActivities.recordApproval({
        runId: input.runId,
        decision: decision.decision === 'approve' ? 'approved' : 'rejected',
        approver: decision.approver.subject,
        reason: decision.reason.trim(),
        reportHash: status.candidateReportHash,
      });
      human = decision.decision;
      approver = decision.approver.subject;
      if (decision.decision === 'reject') {
        await enter('rejecting', 'running');
        await controlActivities.rejectCandidate({ runId: input.runId, versionId: candidate.versionId });
        return await finish(
          'rejected',
          'needs_approval',
          'reject',
          evaluation.champion?.versionId ?? null,
          `rejected by ${approver}: ${decision.reason.trim()}`,
        );
      }
    }

    // A rollout plan stages the change (shadow, canary steps with analysis) and can roll it back;
    // without one the candidate is promoted at once. (patched: older histories replay.)
    if (input.rollout && patched('rollout')) {
      await enter('rolling_out', 'running');
      const rolled = await executeChild(rollout, {
        workflowId: `rollout-${input.runId}`,
        args: [
          {
            runId: input.runId,
            modelId: input.modelId,
            candidateVersionId: candidate.versionId,
            championVersionId: evaluation.champion?.versionId ?? null,
            requestedBy: input.requestedBy,
            plan: input.rollout,
          },
        ],
      });
      if (rolled.outcome === 'rolled_back') {
        return await finish('rolled_back', gate.decision, human, evaluation.champion?.versionId ?? null, rolled.reason);
      }
      return await finish('promoted', gate.decision, human, candidate.versionId, `${approver ? `approved by ${approver}; ` : ''}${rolled.reason}`);
    }

    await enter('promoting', 'running');
    await controlActivities.promoteCandidate({
      runId: input.runId,
      modelId: input.modelId,
      versionId: candidate.versionId,
      approver,
    });
    return await finish(
      'promoted',
      gate.decision,
      human,
      candidate.versionId,
      approver ? `approved by ${approver}` : 'gate passed without human approval',
    );
  } catch (err) {
    if (isCancellation(err)) {
      // Record why in a scope that the cancellation cannot reach, then let the cancellation stand.
      await CancellationScope.nonCancellable(async () => {
        if (status.candidateVersionId !== null) {
          await controlActivities.rejectCandidate({ runId: input.runId, versionId: status.candidateVersionId });
        }
        await controlActivities.finishRun({
          runId: input.runId,
          status: 'cancelled',
          result: { runId: input.runId, outcome: 'cancelled', reason: `cancelled during ${status.step}`, step: status.step },
        });
      });
    } else if (status.step !== 'done') {
      const reason = rootCauseMessage(err);
      await CancellationScope.nonCancellable(() =>
        controlActivities.finishRun({ runId: input.runId, status: 'failed', result: { reason, step: status.step } }),
      );
    }
    throw err;
  }
}

/**
 * The message that says what went wrong: an activity's failure wraps its cause ("Activity task failed"),
 * a trainer's refusal (TrainerBadParams: ...) is the cause's message.
 */
function rootCauseMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
