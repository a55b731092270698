// The built-in trainer, `builtin/hashed-logreg`, as one implementation of the trainer contract: the
// same three activities any trainer serves, reading its data from the data plane and keeping its
// artifact (1 MiB at 2^18 buckets) in the control plane's store. Nothing else in the control plane
// knows how this model trains or scores.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  BINARY_LABELS,
  CONTRACT_VERSION,
  TRAINER_ERRORS,
  type ScoreInput,
  type ScoreOutput,
  type TrainerDescription,
  type TrainInput,
  type TrainOutput,
} from './contract';
import { checkParams } from '../analysis/paramsSchema';
import { createDataPlaneClient, DataPlaneError, type DataPlaneClient } from './dataClient';
import { defaultTrainerParams, type TrainerParams } from './hashedLogReg';
import { runTrainerJob } from './threadPool';
import { PHASES, type JobResult, type ScoreFromData, type ScoreFromDataJob, type TrainFromData, type TrainFromDataJob } from './trainThread';

export const BUILTIN_TRAINER_NAME = 'builtin/hashed-logreg';
const VERSION = '1';

/** What the trainer's code is: the files that decide its artifacts and scores. */
const CODE_DIGEST = `sha256:${createHash('sha256')
  .update(['hashedLogReg.ts', 'builtin.ts', 'trainThread.ts', '../analysis/heldOutDesign.ts'].map((f) => readFileSync(new URL(`./${f}`, import.meta.url))).join('\u0000'))
  .digest('hex')}`;

const PARAMS_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  additionalProperties: false,
  properties: {
    dimsLog2: { type: 'integer', minimum: 10, maximum: 22, default: defaultTrainerParams.dimsLog2, description: 'log2 of the number of hash buckets' },
    epochs: { type: 'integer', minimum: 1, maximum: 1000, default: defaultTrainerParams.epochs },
    learningRate: { type: 'number', exclusiveMinimum: 0, maximum: 10, default: defaultTrainerParams.learningRate },
    l2: { type: 'number', minimum: 0, maximum: 1, default: defaultTrainerParams.l2 },
    ngramMax: { enum: [1, 2], default: defaultTrainerParams.ngramMax },
    recencyHalfLifeDays: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 36500,
      description: "recency weighting: a training row of age a days (at the snapshot's asOf) weighs 0.5^(a / recencyHalfLifeDays); absent: every row weighs 1",
    },
  },
} as const;

export const builtinDescription: TrainerDescription = {
  contractVersion: CONTRACT_VERSION,
  name: BUILTIN_TRAINER_NAME,
  version: VERSION,
  codeDigest: CODE_DIGEST,
  paramsSchema: PARAMS_SCHEMA,
  labelSets: [BINARY_LABELS.kind],
  // Every value is hashed as text: categories and text fields alike.
  featureKinds: ['text', 'category'],
};

const HEARTBEAT_MS = 2000;

function refuse(type: string, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}

/** The params this trainer takes, checked again here against its own schema: a trainer does not trust its caller. */
function trainerParams(params: Record<string, unknown>, seed: number): { model: TrainerParams; recencyHalfLifeDays: number | null } {
  const checked = checkParams(PARAMS_SCHEMA, params);
  if (!checked.ok) refuse(TRAINER_ERRORS.badParams, `${BUILTIN_TRAINER_NAME}: ${checked.errors.join('; ')}`);
  const { recencyHalfLifeDays, ...model } = params as Partial<TrainerParams> & { recencyHalfLifeDays?: number };
  return { model: { ...defaultTrainerParams, ...model, seed }, recencyHalfLifeDays: recencyHalfLifeDays ?? null };
}


function checkContract(input: { contractVersion: unknown }): void {
  if (input.contractVersion !== CONTRACT_VERSION) {
    refuse(TRAINER_ERRORS.unsupportedContract, `${BUILTIN_TRAINER_NAME} speaks trainer contract version ${CONTRACT_VERSION}, not ${JSON.stringify(input.contractVersion)}`);
  }
}

/** A job's progress, which its thread writes and the heartbeat reads: [phase (PHASES), rows]. */
function progressOf(phase: (typeof PHASES)[number]): { shared: Int32Array; details: () => { phase: string; rows: number } } {
  const shared = new Int32Array(new SharedArrayBuffer(8));
  shared[0] = PHASES.indexOf(phase);
  return { shared, details: () => ({ phase: PHASES[Atomics.load(shared, 0)]!, rows: Atomics.load(shared, 1) }) };
}

/** A thread job's result, or its failure thrown here as it was there (a refusal as the contract's badData). */
function outcome<T>(r: JobResult<T>): T {
  if (r.ok) return r;
  if ('refused' in r) refuse(TRAINER_ERRORS.badData, r.refused);
  const err = r.error.status !== undefined ? new DataPlaneError(r.error.message, r.error.status) : new Error(r.error.message);
  err.name = r.error.name;
  throw err;
}

/**
 * Heartbeats while work is in flight (a thread reads and trains or scores; the event loop stays free to
 * beat), and gives up at once when the job is cancelled (cancellation arrives through the heartbeat): the
 * thread is ended, and with it its read. A cancelled training has stored nothing; a cancelled score job
 * has stored nothing, or (cancelled during its upload) the whole score set, which a retry finds kept.
 */
function beating<T>(details: () => unknown, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat(details());
  const timer = setInterval(() => ctx.heartbeat(details()), HEARTBEAT_MS);
  // The work is told too, so a training thread stops instead of running on for nobody.
  const stop = new AbortController();
  const cancelled = (ctx.cancelled as Promise<never>).catch((err: unknown) => {
    stop.abort(err);
    throw err;
  });
  const working = work(stop.signal);
  working.catch(() => {}); // an aborted thread's rejection once the race is lost
  return Promise.race([working, cancelled]).finally(() => clearInterval(timer));
}

export interface BuiltinTrainerDeps {
  /** The trainer's bearer token (role trainer) on the data plane. */
  token: () => string;
  /** The control plane's base URL, for the artifact store (score reads retrain-store: artifacts from it). */
  apiUrl: () => string;
}

export function createBuiltinTrainer(deps: BuiltinTrainerDeps) {
  const client = (store?: { url: string }): DataPlaneClient =>
    createDataPlaneClient({ token: deps.token(), artifactStoreUrl: () => store?.url ?? `${deps.apiUrl()}/api/trainer/artifacts` });
  // Artifacts' bytes by hash, most recent last: a run scores its candidate and champion, a saturation
  // check twenty points; each is read from the store once.
  const loaded = new Map<string, Uint8Array>();
  function remember(sha256: string, bytes: Uint8Array): void {
    loaded.set(sha256, bytes);
    while (loaded.size > 8) loaded.delete(loaded.keys().next().value!);
  }
  async function artifactOf(c: DataPlaneClient, ref: ScoreInput['artifact']): Promise<Uint8Array> {
    let bytes = loaded.get(ref.sha256);
    if (bytes) {
      loaded.delete(ref.sha256);
    } else {
      bytes = await c.getArtifact(ref.uri, ref.sha256);
    }
    remember(ref.sha256, bytes);
    return bytes;
  }

  return {
    async 'trainer.describe'(): Promise<TrainerDescription> {
      return builtinDescription;
    },

    async 'trainer.train'(input: TrainInput): Promise<TrainOutput> {
      checkContract(input);
      const { model: params, recencyHalfLifeDays } = trainerParams(input.params, input.seed);
      const started = Date.now();
      const c = client();
      // The thread reads the rows, featurising each as it comes, and trains: the rows never reach this event loop.
      const progress = progressOf('reading');
      const job: TrainFromDataJob = { data: input.data.train, token: deps.token(), params, recencyHalfLifeDays, progress: progress.shared };
      const { bytes, trainedOn, weightSum } = outcome(await beating(progress.details, (signal) => runTrainerJob<TrainFromData>('trainFromData', job, signal)));
      const artifact = await c.putArtifact(input.artifactStore.url, bytes);
      // A run scores what it just trained: the worker that trained it need not read it back.
      remember(artifact.sha256, bytes);
      return {
        contractVersion: CONTRACT_VERSION,
        jobKey: input.jobKey,
        artifact,
        trainedOn,
        trainer: { name: BUILTIN_TRAINER_NAME, version: VERSION, codeDigest: CODE_DIGEST },
        metrics: {
          seconds: (Date.now() - started) / 1000,
          // Under a half-life, the effective number of rows (sum of weights): how much the old data still counts.
          ...(weightSum !== null ? { weightSum } : {}),
        },
      };
    },

    async 'trainer.score'(input: ScoreInput): Promise<ScoreOutput> {
      checkContract(input);
      const c = client(input.artifactStore);
      const artifact = await artifactOf(c, input.artifact);
      // The thread reads the rows, scores them and PUTs the score set.
      const progress = progressOf('scoring');
      const job: ScoreFromDataJob = { data: input.data.examples, token: deps.token(), artifact, scoresUrl: input.scores.url, progress: progress.shared };
      const stored = outcome(await beating(progress.details, (signal) => runTrainerJob<ScoreFromData>('scoreFromData', job, signal)));
      return { contractVersion: CONTRACT_VERSION, jobKey: input.jobKey, scored: stored.scored, sha256: stored.sha256 };
    },
  };
}

export type BuiltinTrainerActivities = ReturnType<typeof createBuiltinTrainer>;
