// Every side effect a workflow needs, built over injected dependencies so tests can pass their own db.
import { createRetrainingActivities, type ActivityDeps } from './retraining';

export type { ActivityDeps } from './retraining';
export type * from './retraining';

export function createActivities(deps: ActivityDeps) {
  return {
    ...createRetrainingActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
