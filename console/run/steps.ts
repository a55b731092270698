// A run's steps in the order the workflow walks them (api/outputs RUN_STEPS), and how far a run got.
import type { Outputs } from '../trpc';

export type Run = Outputs['runs']['get'];
export type Live = NonNullable<Run['live']>;
export type RunStep = Live['step'];

/** Every step, in order; the check below fails the build when the API's list changes. */
export const RUN_STEPS = [
  'started',
  'sampling',
  'annotating',
  'aggregating',
  'saturation',
  'snapshot',
  'training',
  'evaluating',
  'gate',
  'awaiting_approval',
  'promoting',
  'rolling_out',
  'rejecting',
  'done',
] as const satisfies readonly RunStep[];
type Missing = Exclude<RunStep, (typeof RUN_STEPS)[number]>;
export const allStepsListed: [Missing] extends [never] ? true : Missing = true;

export type StepState = 'done' | 'current' | 'stopped' | 'pending' | 'not taken';

const isStep = (s: string | undefined): s is RunStep => RUN_STEPS.some((x) => x === s);

/**
 * The ending a run took after its gate: promoting at once, rolling out, or rejecting; the others are not
 * taken. hadRollout: whether the run has a rollout workflow (null: not known).
 */
function notTaken(run: Run, at: RunStep, hadRollout: boolean | null): ReadonlySet<RunStep> {
  const outcome = run.live?.outcome ?? run.result?.outcome ?? null;
  const rejecting = at === 'rejecting' || outcome === 'rejected' || run.status === 'rejected';
  if (rejecting) return new Set<RunStep>(['promoting', 'rolling_out']);
  // A rollout plan stages the change (rolling out); without one the candidate is promoted at once.
  const rolled = at === 'rolling_out' || outcome === 'rolled_back' || hadRollout === true;
  const promotedAtOnce = at === 'promoting' || (hadRollout === false && (outcome === 'promoted' || run.status === 'promoted'));
  if (rolled) return new Set<RunStep>(['rejecting', 'promoting']);
  if (promotedAtOnce) return new Set<RunStep>(['rejecting', 'rolling_out']);
  if (outcome === 'promoted') return new Set<RunStep>(['rejecting']);
  return new Set();
}

/**
 * Each step's state: done before the step the run is at, current at it (while the run runs), stopped at
 * it (a run that failed or was cancelled there), pending after it; the branch not taken after the gate.
 */
export function stepStates(run: Run, hadRollout: boolean | null = null): { step: RunStep; state: StepState }[] {
  const finished = run.finishedAt !== null;
  // While it runs the workflow says where it is; a finished run's result says where it stopped, else done.
  const at: RunStep | null = run.live?.step ?? (finished ? (run.result?.step ?? 'done') : isStep(run.step) ? run.step : null);
  const index = at === null ? -1 : RUN_STEPS.indexOf(at);
  const stoppedEarly = finished && at !== 'done' && (run.status === 'failed' || run.status === 'cancelled');
  const skip = at === null ? new Set<RunStep>() : notTaken(run, at, hadRollout);
  return RUN_STEPS.map((step, i) => {
    if (skip.has(step)) return { step, state: 'not taken' };
    if (i < index) return { step, state: 'done' };
    if (i === index) return { step, state: finished ? (stoppedEarly ? 'stopped' : 'done') : 'current' };
    return { step, state: 'pending' };
  });
}
