// saturationCheck: does more data still help? Trains nested subsets of the run's training snapshot
// (fractions × seeds, hyperparameters fixed) and, when the snapshot holds a newest labelled batch, the
// full set without it (paired by seed), all as parallel activities on the training queue; then fits
// the learning curve and stores the verdict. Each point is stored by its activity, so a worker killed
// midway through the fan-out loses only the points in flight: the retried check finds the rest stored.
import { patched, setHandler } from '@temporalio/workflow';
import {
  DEFAULT_SATURATION_FRACTIONS,
  DEFAULT_SATURATION_SEEDS,
  saturationProgressQuery,
  type SaturationCheckInput,
  type SaturationSummary,
} from './messages';
import { TASK_QUEUES } from './names';
import { controlActivities as control, preContractTrainingOn, trainerJob } from './proxies';

/** Share of each half (newest, oldest) a recency point trains on: below 1, so seeds draw different samples. */
const RECENCY_FRACTION = 0.8;

export async function saturationCheck(input: SaturationCheckInput): Promise<SaturationSummary> {
  // Points train and score through the model's trainer (trainer contract); histories recorded before it
  // replay through the direct path. (patched)
  const contract = patched('trainer-contract');
  const trainingTaskQueue = input.trainingTaskQueue ?? TASK_QUEUES.training;
  // The full set (1.0) is always a point: the ablation pairs it with the full set minus the newest batch.
  const fractions = [...new Set([...(input.settings.fractions ?? DEFAULT_SATURATION_FRACTIONS), 1])].sort((a, b) => a - b);
  const seeds = Array.from({ length: input.settings.seeds ?? DEFAULT_SATURATION_SEEDS }, (_, i) => i + 1);
  const newest = await control.newestLabelledBatch({ modelId: input.modelId, snapshotId: input.snapshotId });
  // Does data go stale? Newest vs oldest half of the dated training rows (same size, same seeds), when the
  // snapshot has enough dated rows and the run trains through the contract. (patched: older histories replay.)
  const recencyHalf = contract && patched('recency-halves') ? await control.recencyHalfSize({ snapshotId: input.snapshotId }) : 0;

  const common = { runId: input.runId, snapshotId: input.snapshotId, ...(input.trainerParams ? { trainerParams: input.trainerParams } : {}) };
  const points = [
    ...fractions.flatMap((fraction) => seeds.map((seed) => ({ ...common, variant: 'curve' as const, fraction, seed }))),
    ...(newest ? seeds.map((seed) => ({ ...common, variant: 'without_newest' as const, fraction: 1, seed, excludeBatchId: newest.batchId })) : []),
    // Each seed trains on the same fraction of each half (its nested order), so seeds vary the sample as well as the training.
    ...(recencyHalf > 0
      ? seeds.flatMap((seed) => (['newest_half', 'oldest_half'] as const).map((variant) => ({ ...common, variant, fraction: RECENCY_FRACTION, seed })))
      : []),
  ];
  // One point: stored by an earlier attempt, or trained on its nested subset, scored on the held-out split
  // by the same trainer, and judged from the scores it put back.
  const trainedPoint = async (p: (typeof points)[number]): Promise<{ reused: boolean }> => {
    const key = { runId: p.runId, variant: p.variant, fraction: p.fraction, seed: p.seed };
    if (await control.storedSaturationPoint(key)) return { reused: true };
    const job = await control.planSaturationTraining({ ...p, modelId: input.modelId, trainingTaskQueue });
    const trained = await trainerJob(job.trainer, 'trainer.train', job.input);
    const scoring = await control.planArtifactScoring({ modelId: input.modelId, snapshotId: input.snapshotId, jobKey: `${job.input.jobKey}/heldout`, artifact: trained.artifact });
    await trainerJob(job.trainer, 'trainer.score', scoring);
    await control.recordSaturationPoint({ ...key, snapshotId: input.snapshotId, scoreJobKey: scoring.jobKey, trainSize: trained.trainedOn, seconds: trained.metrics?.seconds ?? 0 });
    return { reused: false };
  };
  let done = 0;
  let reused = 0;
  setHandler(saturationProgressQuery, () => ({ points: points.length, done }));
  await Promise.all(
    points.map(async (p) => {
      const r = contract ? await trainedPoint(p) : await preContractTrainingOn(input.trainingTaskQueue, '30 seconds').trainSaturationPoint(p);
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
