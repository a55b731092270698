// saturationCheck: does more data still help? Trains nested subsets of the run's training snapshot
// (fractions × seeds, hyperparameters fixed) and, when the snapshot holds a newest labelled batch, the
// full set without it (paired by seed), all as parallel activities on the training queue; then fits
// the learning curve and stores the verdict. Each point is stored by its activity, so a worker killed
// midway through the fan-out loses only the points in flight: the retried check finds the rest stored.
import { setHandler } from '@temporalio/workflow';
import {
  DEFAULT_SATURATION_FRACTIONS,
  DEFAULT_SATURATION_SEEDS,
  saturationProgressQuery,
  type SaturationCheckInput,
  type SaturationSummary,
} from './messages';
import { controlActivities as control, saturationTrainingActivitiesOn } from './proxies';

export async function saturationCheck(input: SaturationCheckInput): Promise<SaturationSummary> {
  const training = saturationTrainingActivitiesOn(input.trainingTaskQueue);
  // The full set (1.0) is always a point: the ablation pairs it with the full set minus the newest batch.
  const fractions = [...new Set([...(input.settings.fractions ?? DEFAULT_SATURATION_FRACTIONS), 1])].sort((a, b) => a - b);
  const seeds = Array.from({ length: input.settings.seeds ?? DEFAULT_SATURATION_SEEDS }, (_, i) => i + 1);
  const newest = await control.newestLabelledBatch({ modelId: input.modelId, snapshotId: input.snapshotId });

  const common = { runId: input.runId, snapshotId: input.snapshotId, ...(input.trainerParams ? { trainerParams: input.trainerParams } : {}) };
  const points = [
    ...fractions.flatMap((fraction) => seeds.map((seed) => ({ ...common, variant: 'curve' as const, fraction, seed }))),
    ...(newest ? seeds.map((seed) => ({ ...common, variant: 'without_newest' as const, fraction: 1, seed, excludeBatchId: newest.batchId })) : []),
  ];
  let done = 0;
  let reused = 0;
  setHandler(saturationProgressQuery, () => ({ points: points.length, done }));
  await Promise.all(
    points.map(async (p) => {
      const r = await training.trainSaturationPoint(p);
      done++;
      if (r.reused) reused++;
    }),
  );
  const report = await control.storeSaturationReport({
    runId: input.runId,
    modelId: input.modelId,
    snapshotId: input.snapshotId,
    fractions,
    seeds: seeds.length,
    ...(input.settings.minGainFromDoubling !== undefined ? { minGainFromDoubling: input.settings.minGainFromDoubling } : {}),
    newest,
    trainerParams: input.trainerParams ?? {},
  });
  return { ...report, points: points.length, reused };
}
