// The control plane's side of the trainer contract: which trainer a model's jobs go to and on which
// queue, the jobs' inputs (data by reference: data-plane URLs, never rows), the pending score sets a
// trainer's scores land in, and the candidate version a trained artifact becomes. The trainer's own
// activities (trainer.train, trainer.score) run on its queue, in any language.
import { ApplicationFailure } from '@temporalio/common';
import { eq } from 'drizzle-orm';
import { subsetSize } from '../analysis/nestedSubset';
import type { Db } from '../db/index';
import { insertRunVersion, productionVersionId } from '../db/models';
import { snapshotLabelSources } from '../db/queries';
import { models, modelVersions } from '../db/schema';
import { ensurePendingScoreSet, snapshotSplitCount } from '../db/trainerData';
import { BINARY_LABELS, CONTRACT_VERSION, type ArtifactRef, type ScoreInput, type TrainInput, type TrainOutput } from '../trainers/contract';
import { BUILTIN_TRAINER_NAME } from '../trainers/builtin';

/** Where the trainer's jobs go: its name, its task queue, and how long a job may wait for a worker. */
export interface TrainerRef {
  name: string;
  taskQueue: string;
  timeToStartSeconds: number;
}

export interface TrainingJob {
  trainer: TrainerRef;
  input: TrainInput;
}

export interface ScoringJob {
  versionId: number;
  trainer: TrainerRef;
  input: ScoreInput;
}

export interface CandidateRef {
  versionId: number;
  version: number;
  artifactHash: string;
  trainedOn: number;
}

export interface DataPlaneDeps {
  /** The control plane's base URL as trainers reach it (the API server's). */
  apiUrl(): string;
}

/** A subset of a snapshot's training split, as the saturation check trains on (nested per seed). */
export interface TrainSubset {
  fraction: number;
  seed: number;
  excludeBatchId?: string | null;
  /** The newest or oldest half of the dated training rows, before the nested subset (the recency comparison). */
  window?: 'newest' | 'oldest' | null;
}

type ModelRow = typeof models.$inferSelect;

export function createTrainerJobActivities({ db, dataPlane }: { db: Db; dataPlane: DataPlaneDeps }) {
  const base = () => `${dataPlane.apiUrl().replace(/\/$/, '')}/api/trainer`;

  async function modelOf(modelId: number): Promise<ModelRow> {
    const [model] = await db.select().from(models).where(eq(models.id, modelId));
    if (!model) throw ApplicationFailure.nonRetryable(`model ${modelId} not found`, 'NotFound');
    return model;
  }

  /** The model's trainer; the built-in one (no queue of its own) trains on the run's training queue. */
  function trainerOf(model: ModelRow, trainingTaskQueue: string): TrainerRef {
    return { name: model.trainerName, taskQueue: model.trainerQueue ?? trainingTaskQueue, timeToStartSeconds: model.trainerTimeToStartSeconds };
  }

  const modelRef = (model: ModelRow): TrainInput['model'] => ({ id: model.id, name: model.name, features: model.featureSchema ?? null, labelSet: BINARY_LABELS });

  /** The URL of a snapshot split's rows; a subset adds its fraction, seed and left-out batch. */
  function examplesUrl(snapshotId: number, split: 'train' | 'heldout', subset?: TrainSubset): string {
    const q = new URLSearchParams({ split });
    if (subset) {
      q.set('fraction', String(subset.fraction));
      q.set('seed', String(subset.seed));
      if (subset.excludeBatchId) q.set('excludeBatch', subset.excludeBatchId);
      if (subset.window) q.set('window', subset.window);
    }
    return `${base()}/snapshots/${snapshotId}/examples?${q}`;
  }

  async function trainRows(snapshotId: number, subset?: TrainSubset): Promise<number> {
    const n = await snapshotSplitCount(db, snapshotId, 'train', subset?.excludeBatchId ?? null, subset?.window ?? null);
    return subset ? subsetSize(n, subset.fraction) : n;
  }

  /** A score job's input, with its score set waiting for the trainer's PUT (one per job key). */
  async function scoringInput(model: ModelRow, jobKey: string, snapshotId: number, artifact: ArtifactRef, versionId: number | null): Promise<ScoreInput> {
    const rows = await snapshotSplitCount(db, snapshotId, 'heldout');
    await ensurePendingScoreSet(db, { jobKey, snapshotId, split: 'heldout', artifactSha256: artifact.sha256, versionId, expectedRows: rows });
    return {
      contractVersion: CONTRACT_VERSION,
      jobKey,
      model: modelRef(model),
      artifact,
      data: { examples: { url: examplesUrl(snapshotId, 'heldout'), rows, labelled: false } },
      scores: { url: `${base()}/score-sets/${encodeURIComponent(jobKey)}` },
      artifactStore: { url: `${base()}/artifacts` },
    };
  }

  /** The params a job trains with: the model's, the run's over them; a `seed` among them is the job's seed. */
  function paramsAndSeed(model: ModelRow, runParams: Record<string, unknown> | undefined, seed?: number): { params: Record<string, unknown>; seed: number } {
    const { seed: paramSeed, ...params } = { ...model.trainerParams, ...(runParams ?? {}) } as Record<string, unknown>;
    return { params, seed: seed ?? (typeof paramSeed === 'number' ? paramSeed : 1) };
  }

  function trainInput(model: ModelRow, jobKey: string, snapshotId: number, rows: number, params: Record<string, unknown>, seed: number, subset?: TrainSubset): TrainInput {
    return {
      contractVersion: CONTRACT_VERSION,
      jobKey,
      model: modelRef(model),
      params,
      seed,
      data: { train: { url: examplesUrl(snapshotId, 'train', subset), rows, labelled: true } },
      artifactStore: { url: `${base()}/artifacts` },
    };
  }

  return {
    /** The candidate's training job: the model's trainer and queue, and the snapshot's training split by reference. */
    async planTraining(input: { runId: string; modelId: number; snapshotId: number; trainerParams?: Record<string, unknown>; trainingTaskQueue: string }): Promise<TrainingJob> {
      const model = await modelOf(input.modelId);
      const { params, seed } = paramsAndSeed(model, input.trainerParams);
      return {
        trainer: trainerOf(model, input.trainingTaskQueue),
        input: trainInput(model, `${input.runId}/candidate`, input.snapshotId, await trainRows(input.snapshotId), params, seed),
      };
    },

    /**
     * The trained artifact becomes the run's candidate version (one per run: a retried step returns the
     * version recorded first), with its lineage: trainer, version, code digest, queue, label sources.
     */
    async recordCandidate(input: { runId: string; modelId: number; snapshotId: number; trainer: TrainerRef; job: TrainInput; trained: TrainOutput }): Promise<CandidateRef> {
      const [already] = await db.select().from(modelVersions).where(eq(modelVersions.runId, input.runId));
      if (already) {
        return { versionId: already.id, version: already.version, artifactHash: already.artifactHash, trainedOn: (already.params as { trainedOn?: number }).trainedOn ?? 0 };
      }
      const { trained } = input;
      const row = await insertRunVersion(db, {
        modelId: input.modelId,
        status: 'candidate',
        trainer: trained.trainer.name,
        trainerVersion: trained.trainer.version,
        codeDigest: trained.trainer.codeDigest,
        // The built-in trainer's versions are scored wherever the control plane's training queue is.
        trainerQueue: trained.trainer.name === BUILTIN_TRAINER_NAME ? null : input.trainer.taskQueue,
        params: { ...input.job.params, seed: input.job.seed, trainedOn: trained.trainedOn },
        snapshotId: input.snapshotId,
        artifact: null,
        artifactHash: trained.artifact.sha256,
        artifactUri: trained.artifact.uri,
        artifactSize: trained.artifact.size,
        parentVersionId: await productionVersionId(db, input.modelId),
        runId: input.runId,
        labelSources: await snapshotLabelSources(db, input.snapshotId),
      });
      return { versionId: row.id, version: row.version, artifactHash: row.artifactHash, trainedOn: trained.trainedOn };
    },

    /**
     * Score jobs for the run's evaluation: the candidate, and the champion when there is one, each on
     * its own trainer's queue (a champion may be another trainer's), over the snapshot's held-out split.
     */
    async planEvaluationScoring(input: { runId: string; modelId: number; snapshotId: number; candidateVersionId: number; trainingTaskQueue: string }): Promise<ScoringJob[]> {
      const model = await modelOf(input.modelId);
      const championId = await productionVersionId(db, input.modelId);
      const ids = championId === null || championId === input.candidateVersionId ? [input.candidateVersionId] : [input.candidateVersionId, championId];
      const jobs: ScoringJob[] = [];
      for (const versionId of ids) {
        const [v] = await db.select().from(modelVersions).where(eq(modelVersions.id, versionId));
        if (!v) throw ApplicationFailure.nonRetryable(`model version ${versionId} not found`, 'NotFound');
        const builtin = v.trainerQueue === null;
        const trainer: TrainerRef = {
          name: builtin ? BUILTIN_TRAINER_NAME : v.trainer,
          taskQueue: v.trainerQueue ?? input.trainingTaskQueue,
          timeToStartSeconds: model.trainerTimeToStartSeconds,
        };
        // Versions from before the contract keep their bytes in their row; the store serves them by hash.
        const artifact: ArtifactRef = { uri: v.artifactUri ?? `retrain-store:${v.artifactHash}`, sha256: v.artifactHash, size: v.artifactSize ?? v.artifact?.length ?? 0 };
        jobs.push({ versionId, trainer, input: await scoringInput(model, `${input.runId}/score/v${versionId}/heldout`, input.snapshotId, artifact, versionId) });
      }
      return jobs;
    },

    /** A saturation point's training job (a nested subset of the training split, the point's seed). */
    async planSaturationTraining(input: {
      runId: string;
      modelId: number;
      snapshotId: number;
      variant: 'curve' | 'without_newest' | 'newest_half' | 'oldest_half';
      fraction: number;
      seed: number;
      excludeBatchId?: string | null;
      trainerParams?: Record<string, unknown>;
      trainingTaskQueue: string;
    }): Promise<TrainingJob> {
      const model = await modelOf(input.modelId);
      const { params } = paramsAndSeed(model, input.trainerParams);
      const window = input.variant === 'newest_half' ? 'newest' : input.variant === 'oldest_half' ? 'oldest' : null;
      const subset: TrainSubset = {
        fraction: input.fraction,
        seed: input.seed,
        ...(input.variant === 'without_newest' && input.excludeBatchId ? { excludeBatchId: input.excludeBatchId } : {}),
        ...(window ? { window } : {}),
      };
      const jobKey = `${input.runId}/saturation/${input.variant}/${input.fraction}/${input.seed}`;
      return {
        trainer: trainerOf(model, input.trainingTaskQueue),
        input: trainInput(model, jobKey, input.snapshotId, await trainRows(input.snapshotId, subset), params, input.seed, subset),
      };
    },

    /** The score job of an artifact that is no version (a saturation point's): the held-out split. */
    async planArtifactScoring(input: { modelId: number; snapshotId: number; jobKey: string; artifact: ArtifactRef }): Promise<ScoreInput> {
      return scoringInput(await modelOf(input.modelId), input.jobKey, input.snapshotId, input.artifact, null);
    },
  };
}
