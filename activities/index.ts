// Every side effect a workflow needs, built over injected dependencies so tests can pass their own db.
import { createAlertActivities } from './alerts';
import { createAnnotationActivities } from './annotation';
import { createRetrainingActivities, type ActivityDeps } from './retraining';
import { createAuditActivities } from './audits';
import { failingWithoutQueryParameters } from './errors';
import { createRolloutActivities } from './rollout';
import { createSaturationActivities } from './saturation';

export type { ActivityDeps } from './retraining';
export type * from './retraining';
export type * from './annotation';
export type * from './saturation';
// The serving scorer is built beside the activities so whoever starts the API can hand it over.
export { createScorer } from '../trainers/scorer';
// Training threads outlive single activities; whoever stops the workers closes them.
export { closeTrainingPool, setTrainingThreads } from '../trainers/threadPool';

export function createActivities(deps: ActivityDeps) {
  return failingWithoutQueryParameters({
    ...createRetrainingActivities(deps),
    ...createAnnotationActivities(deps),
    ...createSaturationActivities(deps),
    ...createRolloutActivities(deps),
    ...createAuditActivities(deps),
    ...createAlertActivities(deps),
  });
}

export type Activities = ReturnType<typeof createActivities>;
