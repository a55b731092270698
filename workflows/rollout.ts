// rollout: shadow window (the candidate scores traffic silently; its decisions are compared with the
// served ones) → canary steps, each followed by an analysis window judged against the version it may
// replace → production. A failed analysis rolls back at once; an inconclusive one pauses for a human
// instead of guessing (Argo Rollouts' analysis semantics); the shadow comparison is treated the same
// way. Updates at any time: rollback (the fast path, any operator or approver: it restores the approved
// champion), promoteNow (an approver who did not request the run), pause, resume.
import { ApplicationFailure, condition, patched, setHandler } from '@temporalio/workflow';
import { nextRolloutAction, type MeasurementPhase } from '../analysis/rollout';
import {
  DEFAULT_ROLLOUT_RULES,
  DEFAULT_ROLLOUT_STEPS,
  MIN_REASON_LENGTH,
  ROLLOUT_FAILURE,
  canonicalSubject,
  pauseUpdate,
  promoteNowUpdate,
  resumeUpdate,
  rollbackUpdate,
  roleAllows,
  rolloutStatusQuery,
  type RoleName,
  type RolloutCommand,
  type RolloutInput,
  type RolloutResult,
  type RolloutShadowView,
  type RolloutStatus,
} from './messages';
import { controlActivities as activities } from './proxies';

export async function rollout(input: RolloutInput): Promise<RolloutResult> {
  const steps = input.plan.steps ?? DEFAULT_ROLLOUT_STEPS;
  const rules = input.plan.rules ?? DEFAULT_ROLLOUT_RULES;
  const status: RolloutStatus = { phase: 'shadow', step: 0, weight: 0, analyses: [], shadow: null, pausedBecause: null, outcome: null, reason: null };
  let rollbackBy: RolloutCommand | undefined;
  let promoteBy: RolloutCommand | undefined;
  let paused = false;

  const refuse = (type: string, message: string) => {
    throw ApplicationFailure.create({ type, message });
  };
  /** Refuses a command unless the caller's role allows one of `roles`. */
  const validate = (roles: readonly RoleName[], what: string) => (cmd: RolloutCommand) => {
    if (status.outcome !== null) refuse(ROLLOUT_FAILURE.conflict, `the rollout of run ${input.runId} has ended (${status.outcome})`);
    if (!roles.some((role) => roleAllows(cmd.caller.role, role))) refuse(ROLLOUT_FAILURE.forbidden, `role '${cmd.caller.role}' may not ${what}`);
    if (typeof cmd.reason !== 'string' || cmd.reason.trim().length < MIN_REASON_LENGTH) refuse(ROLLOUT_FAILURE.badRequest, `a reason of at least ${MIN_REASON_LENGTH} characters is required`);
  };
  setHandler(rolloutStatusQuery, () => status);
  setHandler(
    rollbackUpdate,
    (cmd) => {
      rollbackBy = cmd;
      return status;
    },
    // Rolling back restores the approved champion (the safe direction): operators steer rollouts, as
    // Argo Rollouts lets them abort. Rejected updates are not in history, so widening it needs no patch.
    { validator: validate(['operator', 'approver'], 'roll back') },
  );
  setHandler(
    promoteNowUpdate,
    (cmd) => {
      promoteBy = cmd;
      return status;
    },
    {
      validator: (cmd) => {
        validate(['approver'], 'promote now')(cmd);
        // Canonical, as the gate's four eyes compare ('Operator1' is 'operator1'); validators do not run on replay.
        if (canonicalSubject(cmd.caller.subject) === canonicalSubject(input.requestedBy)) refuse(ROLLOUT_FAILURE.forbidden, `${cmd.caller.subject} requested run ${input.runId} and may not promote it early (four eyes)`);
      },
    },
  );
  setHandler(
    pauseUpdate,
    (cmd) => {
      paused = true;
      status.pausedBecause = `paused by ${cmd.caller.subject}: ${cmd.reason.trim()}`;
      return status;
    },
    { validator: validate(['operator', 'approver'], 'pause a rollout') },
  );
  setHandler(
    resumeUpdate,
    (cmd) => {
      paused = false;
      status.pausedBecause = null;
      void cmd;
      return status;
    },
    { validator: validate(['operator', 'approver'], 'resume a rollout') },
  );

  const interrupted = () => rollbackBy !== undefined || promoteBy !== undefined;
  /** Waits `ms` (or forever when paused) unless a rollback or promoteNow arrives; a pause stops the clock. */
  const wait = async (ms: number) => {
    let left = ms;
    for (;;) {
      if (paused) await condition(() => !paused || interrupted());
      if (interrupted() || left <= 0) return;
      const started = Date.now();
      await condition(() => paused || interrupted(), left);
      left -= Date.now() - started;
    }
  };
  const rollBack = async (actor: string, reason: string): Promise<RolloutResult> => {
    status.phase = 'rolling_back';
    await activities.rollbackRollout({ runId: input.runId, modelId: input.modelId, versionId: input.candidateVersionId, championVersionId: input.championVersionId, actor, reason });
    status.phase = 'done';
    status.outcome = 'rolled_back';
    status.reason = reason;
    return { outcome: 'rolled_back', reason, analyses: status.analyses, shadow: status.shadow };
  };
  const promote = async (approver: string | null, reason: string): Promise<RolloutResult> => {
    status.phase = 'promoting';
    await activities.completeRollout({ runId: input.runId, modelId: input.modelId, versionId: input.candidateVersionId, approver });
    status.phase = 'done';
    status.outcome = 'promoted';
    status.reason = reason;
    return { outcome: 'promoted', reason, analyses: status.analyses, shadow: status.shadow };
  };
  const ended = async (): Promise<RolloutResult | null> => {
    if (rollbackBy) return rollBack(rollbackBy.caller.subject, `rolled back by ${rollbackBy.caller.subject}: ${rollbackBy.reason.trim()}`);
    if (promoteBy) return promote(promoteBy.caller.subject, `promoted early by ${promoteBy.caller.subject}: ${promoteBy.reason.trim()}`);
    return null;
  };
  /** An inconclusive analysis: a human looks, then resumes (the analysis counts as passed), rolls back or promotes. */
  const holdForHuman = async (because: string): Promise<RolloutResult | null> => {
    paused = true;
    status.phase = 'paused';
    status.pausedBecause = because;
    await condition(() => !paused || interrupted());
    return ended();
  };

  // Nothing in production to compare with: the first version goes straight in.
  if (input.championVersionId === null) return promote(null, 'no production version to compare with');

  const shadowMs = (input.plan.shadowSeconds ?? 0) * 1000;
  if (shadowMs > 0) {
    await activities.setRolloutRoute({ runId: input.runId, modelId: input.modelId, versionId: input.candidateVersionId, kind: 'shadow', weight: 1 });
    const from = new Date(Date.now()).toISOString();
    await wait(shadowMs);
    const end = await ended();
    if (end) return end;
    // patched: histories recorded before the comparison existed went straight on to the canary.
    if (patched('shadow-comparison')) {
      const to = new Date(Date.now()).toISOString();
      const judged = await activities.analyzeShadowWindow({
        modelId: input.modelId,
        shadowVersionId: input.candidateVersionId,
        servingVersionId: input.championVersionId,
        from,
        to,
        ...(input.plan.shadowRules ? { rules: input.plan.shadowRules } : {}),
      });
      const flips = (f: typeof judged.newBlocks) => ({ count: f.count, ...f.rate });
      const view: RolloutShadowView = {
        from,
        to,
        phase: judged.phase,
        reasons: judged.reasons,
        requests: judged.requests,
        servedRequests: judged.servedRequests,
        coverage: judged.coverage,
        agreement: { estimate: judged.agreement.estimate, lower: judged.agreement.lower, upper: judged.agreement.upper },
        newBlocks: flips(judged.newBlocks),
        newPasses: flips(judged.newPasses),
        failedSlices: judged.slices.filter((sl) => sl.phase === 'Failed').map((sl) => sl.slice),
      };
      status.shadow = view;
      if (judged.phase === 'Failed') return rollBack('analysis', `the shadow window failed its comparison with production: ${judged.reasons.join('; ')}`);
      if (judged.phase === 'Inconclusive') {
        const after = await holdForHuman(`shadow comparison inconclusive: ${judged.reasons.join('; ')}`);
        if (after) return after;
      }
    }
  }

  status.phase = 'canary';
  const history: MeasurementPhase[] = [];
  for (const [i, step] of steps.entries()) {
    status.step = i + 1;
    status.weight = step.weight;
    await activities.setRolloutRoute({ runId: input.runId, modelId: input.modelId, versionId: input.candidateVersionId, kind: 'canary', weight: step.weight });
    const from = new Date(Date.now()).toISOString();
    await wait(step.analysisSeconds * 1000);
    const end = await ended();
    if (end) return end;
    const to = new Date(Date.now()).toISOString();
    const judged = await activities.analyzeCanaryWindow({
      modelId: input.modelId,
      canaryVersionId: input.candidateVersionId,
      baselineVersionId: input.championVersionId,
      from,
      to,
      rules,
    });
    status.analyses.push({ step: i + 1, weight: step.weight, from, to, phase: judged.phase, reasons: judged.reasons });
    history.push(judged.phase);
    const action = nextRolloutAction(history, {
      ...(input.plan.failureLimit !== undefined ? { failureLimit: input.plan.failureLimit } : {}),
      ...(input.plan.inconclusiveLimit !== undefined ? { inconclusiveLimit: input.plan.inconclusiveLimit } : {}),
    });
    if (action === 'rollback') return rollBack('analysis', `canary step ${i + 1} (${Math.round(step.weight * 100)}%) failed its analysis: ${judged.reasons.join('; ')}`);
    if (action === 'pause') {
      // Inconclusive: a human looks, then resumes (the step counts as passed), rolls back or promotes.
      const after = await holdForHuman(`analysis of step ${i + 1} inconclusive: ${judged.reasons.join('; ')}`);
      if (after) return after;
      status.phase = 'canary';
      history.splice(0, history.length, ...history.filter((p) => p !== 'Inconclusive'));
    }
  }
  return promote(null, `all ${steps.length} canary steps passed their analysis`);
}
