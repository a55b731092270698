// The fleet bench's floor (bench/fleet.bench.ts): a workflow with a run's shape and none of its work.
// It schedules the same activities a retraining run schedules, step by step on the same task queues
// (parallel where the run's are parallel), and each activity returns at once. Bundled only by the
// bench's floor worker; never registered on the control plane's workers.
import { proxyActivities } from '@temporalio/workflow';

export interface FloorStep {
  taskQueue: string;
  /** Activities scheduled together in this step (a run's scoring jobs run side by side). */
  parallel: number;
}

export interface FloorActivities {
  floorStep(input: { step: number }): Promise<null>;
}

export async function fleetFloor(input: { steps: FloorStep[] }): Promise<number> {
  let done = 0;
  for (const [i, step] of input.steps.entries()) {
    const { floorStep } = proxyActivities<FloorActivities>({ startToCloseTimeout: '2 minutes', taskQueue: step.taskQueue });
    await Promise.all(Array.from({ length: step.parallel }, () => floorStep({ step: i })));
    done += step.parallel;
  }
  return done;
}
