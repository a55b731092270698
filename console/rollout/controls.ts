// Which rollout controls make sense, and for whom: pure, shared by the page and its tests.
import type { ROLLOUT_ROLES } from '../../api/routers/runs';
import type { RolloutStatus } from './specs';

/** The server's table, restated for the browser; a change there breaks this file's build until it follows. */
export const ROLES: typeof ROLLOUT_ROLES = {
  rollback: ['operator', 'approver'],
  'promote-now': ['approver'],
  pause: ['operator', 'approver'],
  resume: ['operator', 'approver'],
};

export type RolloutControl = keyof typeof ROLES;

/** The controls that make sense in this state of the rollout, before roles are considered. */
export function controlsFor(status: Pick<RolloutStatus, 'phase' | 'outcome'>): RolloutControl[] {
  if (status.outcome !== null || !['shadow', 'canary', 'paused'].includes(status.phase)) return [];
  return status.phase === 'paused' ? ['rollback', 'promote-now', 'resume'] : ['rollback', 'promote-now', 'pause'];
}

