// trainerCall: one activity of a trainer (trainer contract: describe, train or score) on the trainer's
// task queue, as a workflow of its own. How the API asks a trainer to describe itself when it is
// registered, and how `retrain trainer check` drives a trainer through the conformance suite: only a
// workflow can schedule an activity on another worker's queue.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { TrainerActivities } from '../trainers/contract';
import type { TrainerCallInput } from './messages';

export async function trainerCall(call: TrainerCallInput): Promise<unknown> {
  const trainer = proxyActivities<TrainerActivities>({
    taskQueue: call.taskQueue,
    scheduleToStartTimeout: `${call.timeToStartSeconds ?? 60} seconds`,
    startToCloseTimeout: `${call.startToCloseSeconds ?? 3600} seconds`,
    heartbeatTimeout: `${call.heartbeatSeconds ?? 30} seconds`,
    retry: { maximumAttempts: call.maximumAttempts ?? 1 },
    // A cancelled call waits for the trainer to acknowledge: the conformance suite checks it does.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const activity = trainer[call.activity] as (input?: unknown) => Promise<unknown>;
  return call.activity === 'trainer.describe' ? activity() : activity(call.input);
}
