// Every side effect a workflow needs, built over injected dependencies so tests can pass their own db.
import { createAlertActivities } from './alerts';
import { createAnnotationActivities } from './annotation';
import { createRetrainingActivities, type ActivityDeps } from './retraining';
import { createAuditActivities } from './audits';
import { failingWithoutQueryParameters } from './errors';
import { createRolloutActivities } from './rollout';
import { createSaturationActivities } from './saturation';
import { createTrainerJobActivities } from './trainerJobs';

export type { ActivityDeps } from './retraining';
export type * from './retraining';
export type * from './annotation';
export type * from './saturation';
export type * from './trainerJobs';
// The serving scorer is built beside the activities so whoever starts the API can hand it over.
export { createScorer } from '../trainers/scorer';
// The built-in trainer serves the trainer contract on the control plane's training queue.
export { builtinDescription, createBuiltinTrainer } from '../trainers/builtin';
export { trainerDescription } from '../trainers/contract';
// Training threads outlive single activities; whoever stops the workers closes them.
export { closeTrainingPool, setTrainingThreads } from '../trainers/threadPool';

export function createActivities(deps: ActivityDeps) {
  return failingWithoutQueryParameters({
    ...createRetrainingActivities(deps),
    ...createAnnotationActivities(deps),
    ...createSaturationActivities(deps),
    ...createTrainerJobActivities(deps),
    ...createRolloutActivities(deps),
    ...createAuditActivities(deps),
    ...createAlertActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
