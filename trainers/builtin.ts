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
import { recencyWeight } from '../analysis/heldOutDesign';
import { createDataPlaneClient, type DataPlaneClient } from './dataClient';
import { defaultTrainerParams, deserializeArtifact, featuresFor, predictFromFeatures, type HashedLogRegArtifact, type LabelledInput, type TrainerParams } from './hashedLogReg';
import { trainInThread } from './threadPool';

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

const SCORE_BATCH = 2000;
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

/** A row's input as the hashed model reads it: every value as text, missing values left out. */
function textInput(input: Record<string, string | number | boolean | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null) out[k] = String(v);
  return out;
}

/**
 * Heartbeats while work is in flight (a thread trains; the event loop stays free to beat), and gives
 * up at once when the job is cancelled (cancellation arrives through the heartbeat): nothing has been
 * stored yet, so a cancelled job leaves nothing behind.
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
  // Loaded artifacts by hash, most recent last: a run scores its candidate and champion, a saturation
  // check twenty points; each is loaded once.
  const loaded = new Map<string, HashedLogRegArtifact>();
  function remember(sha256: string, a: HashedLogRegArtifact): void {
    loaded.set(sha256, a);
    while (loaded.size > 8) loaded.delete(loaded.keys().next().value!);
  }
  async function artifactOf(c: DataPlaneClient, ref: ScoreInput['artifact']): Promise<HashedLogRegArtifact> {
    let a = loaded.get(ref.sha256);
    if (a) {
      loaded.delete(ref.sha256);
    } else {
      a = deserializeArtifact(await c.getArtifact(ref.uri, ref.sha256));
    }
    remember(ref.sha256, a);
    return a;
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
      let read = 0;
      const rows = await beating(
        () => ({ phase: 'reading', rows: read }),
        async () => {
          const out: LabelledInput[] = [];
          for await (const row of c.rows(input.data.train)) {
            if (row.label === undefined) refuse(TRAINER_ERRORS.badData, `training row ${row.externalId} has no label`);
            // A line's own weight, times its recency weight under a half-life (neither: unweighted, as before).
            const weight = (row.weight ?? 1) * recencyWeight(row.ageDays, recencyHalfLifeDays);
            out.push({ input: textInput(row.input), label: row.label, ...(row.weight !== undefined || recencyHalfLifeDays !== null ? { weight } : {}) });
            read++;
          }
          return out;
        },
      );
      const positives = rows.reduce((s, r) => s + r.label, 0);
      if (positives === 0 || positives === rows.length) {
        refuse(TRAINER_ERRORS.badData, `the training data has ${rows.length} rows of one class only (${positives} positive): nothing to learn`);
      }
      // Deterministic: the same rows, params and seed give the same bytes, so a retried job stores one artifact.
      const bytes = await beating(() => ({ phase: 'training', rows: rows.length }), (signal) => trainInThread(rows, params, signal));
      const artifact = await c.putArtifact(input.artifactStore.url, bytes);
      // A run scores what it just trained: the worker that trained it need not read it back.
      remember(artifact.sha256, deserializeArtifact(bytes));
      return {
        contractVersion: CONTRACT_VERSION,
        jobKey: input.jobKey,
        artifact,
        trainedOn: rows.length,
        trainer: { name: BUILTIN_TRAINER_NAME, version: VERSION, codeDigest: CODE_DIGEST },
        metrics: {
          seconds: (Date.now() - started) / 1000,
          // Under a half-life, the effective number of rows (sum of weights): how much the old data still counts.
          ...(recencyHalfLifeDays !== null ? { weightSum: rows.reduce((s, r) => s + (r.weight ?? 1), 0) } : {}),
        },
      };
    },

    async 'trainer.score'(input: ScoreInput): Promise<ScoreOutput> {
      checkContract(input);
      const c = client(input.artifactStore);
      const artifact = await artifactOf(c, input.artifact);
      const scores: { exampleId: number; score: number }[] = [];
      await beating(
        () => ({ phase: 'scoring', rows: scores.length }),
        async () => {
          let n = 0;
          for await (const row of c.rows(input.data.examples)) {
            scores.push({ exampleId: row.exampleId, score: predictFromFeatures(artifact, featuresFor(artifact, textInput(row.input))) });
            // Let the heartbeat timer run on long sets.
            if (++n % SCORE_BATCH === 0) await new Promise((r) => setImmediate(r));
          }
        },
      );
      const stored = await c.putScores(input.scores.url, scores);
      return { contractVersion: CONTRACT_VERSION, jobKey: input.jobKey, scored: stored.scored, sha256: stored.sha256 };
    },
  };
}

export type BuiltinTrainerActivities = ReturnType<typeof createBuiltinTrainer>;
