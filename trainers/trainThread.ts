// Runs in a worker thread of trainers/threadPool: the built-in trainer's jobs, data and all. A training
// job reads its rows from the data plane here, featurising each line as it arrives (the activity's event
// loop, which also serves the API in a one-process deployment, never parses or holds a row), trains, and
// hands back the serialised artifact; a scoring job reads its rows here too and PUTs the scores. What
// stays in the thread after a job is garbage (collected once jobs have left 16 MB of it: threadGc):
// nothing is kept between jobs.
import { recencyWeight } from '../analysis/heldOutDesign';
import type { DataRef } from './contract';
import { createDataPlaneClient, DataPlaneError, exampleLinesIn } from './dataClient';
import { collectAfterJob } from './threadGc';
import { deserializeArtifact, featureBuilder, featuresFor, predictFromFeatures, serializeArtifact, trainHashedLogReg, trainOnFeatures, type LabelledInput, type TrainerParams } from './hashedLogReg';

export default async function train(job: { examples: LabelledInput[]; params: Partial<TrainerParams> }): Promise<Uint8Array> {
  try {
    return serializeArtifact(await trainHashedLogReg(job.examples, job.params));
  } finally {
    collectAfterJob();
  }
}

/** A row's input as the hashed model reads it: every value as text, missing values left out. */
export function textInput(input: Record<string, string | number | boolean | null>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(input)) if (v !== null) out[k] = String(v);
  return out;
}

/** Progress shared with the activity (its heartbeat reads it): [phase, rows]. */
export const PHASES = ['reading', 'training', 'scoring'] as const;

/** What went wrong in a job, as plain data (an error's class and fields do not cross threads). */
export type JobFailure =
  /** The data is unusable: the job is refused (TRAINER_ERRORS.badData), not retried. */
  | { refused: string }
  /** Anything else, as it was thrown: a data-plane error keeps its status. */
  | { error: { name: string; message: string; status?: number } };

export type JobResult<T> = ({ ok: true } & T) | ({ ok: false } & JobFailure);

function failed(err: unknown): { ok: false } & JobFailure {
  const e = err instanceof Error ? err : new Error(String(err));
  return { ok: false, error: { name: e.name, message: e.message, ...(e instanceof DataPlaneError ? { status: e.status } : {}) } };
}

export interface TrainFromDataJob {
  data: DataRef;
  token: string;
  params: TrainerParams;
  recencyHalfLifeDays: number | null;
  progress: Int32Array;
}

export type TrainFromData = JobResult<{ bytes: Uint8Array; trainedOn: number; weightSum: number | null }>;

/**
 * Reads the training rows (resuming a dropped stream), featurising each piece of whole lines as it
 * arrives and letting its bytes go, then trains. Only the features are kept: at 800k rows about 40 MB
 * where the raw lines kept until the end of the read added 72 MB a job (two jobs at once in a saturation
 * check). The data plane's writes wait for this thread's parsing (backpressure), which its reads allow:
 * it holds about two parts of lines, whatever the pace.
 */
export async function trainFromData(job: TrainFromDataJob): Promise<TrainFromData> {
  const { data, params, recencyHalfLifeDays, progress } = job;
  try {
    const rows = featureBuilder(params, data.rows);
    let positives = 0;
    let weightSum = 0;
    let read = 0;
    for await (const chunk of createDataPlaneClient({ token: job.token }).lineChunks(data)) {
      for (const row of exampleLinesIn(chunk.bytes)) {
        if (row.label === undefined) return { ok: false, refused: `training row ${row.externalId} has no label` };
        // A line's own weight, times its recency weight under a half-life (neither: unweighted, as before).
        const weighted = row.weight !== undefined || recencyHalfLifeDays !== null;
        const weight = (row.weight ?? 1) * recencyWeight(row.ageDays, recencyHalfLifeDays);
        rows.add(textInput(row.input), row.label, weighted ? weight : undefined);
        positives += row.label;
        weightSum += weighted ? weight : 1;
      }
      Atomics.store(progress, 1, (read += chunk.lines));
    }
    Atomics.store(progress, 0, PHASES.indexOf('training'));
    const n = rows.rows;
    if (positives === 0 || positives === n) return { ok: false, refused: `the training data has ${n} rows of one class only (${positives} positive): nothing to learn` };
    // Deterministic: the same rows, params and seed give the same bytes, so a retried job stores one artifact.
    const bytes = serializeArtifact(await trainOnFeatures(rows.finish(), params));
    return { ok: true, bytes, trainedOn: n, weightSum: recencyHalfLifeDays !== null ? weightSum : null };
  } catch (err) {
    return failed(err);
  } finally {
    collectAfterJob();
  }
}

export interface ScoreFromDataJob {
  data: DataRef;
  token: string;
  artifact: Uint8Array;
  scoresUrl: string;
  progress: Int32Array;
}

export type ScoreFromData = JobResult<{ scored: number; sha256: string }>;

/** Scores every row of the data reference with the artifact and PUTs the score set. */
export async function scoreFromData(job: ScoreFromDataJob): Promise<ScoreFromData> {
  try {
    const artifact = deserializeArtifact(job.artifact);
    const client = createDataPlaneClient({ token: job.token });
    let exampleIds = new Float64Array(Math.max(16, job.data.rows));
    let scores = new Float64Array(exampleIds.length);
    let n = 0;
    for await (const row of client.rows(job.data)) {
      // More rows than the reference says: the client refuses them once the stream ends.
      if (n === exampleIds.length) {
        const grow = (a: Float64Array) => {
          const b = new Float64Array(a.length * 2);
          b.set(a);
          return b;
        };
        exampleIds = grow(exampleIds);
        scores = grow(scores);
      }
      exampleIds[n] = row.exampleId;
      scores[n] = predictFromFeatures(artifact, featuresFor(artifact, textInput(row.input)));
      Atomics.store(job.progress, 1, ++n);
    }
    const stored = await client.putScores(job.scoresUrl, Array.from({ length: n }, (_, i) => ({ exampleId: exampleIds[i]!, score: scores[i]! })));
    return { ok: true, scored: stored.scored, sha256: stored.sha256 };
  } catch (err) {
    return failed(err);
  } finally {
    collectAfterJob();
  }
}
