// Training off the event loop: a pool of worker threads (piscina), one per core by default, so the
// saturation check's parallel trainings use every core of a training worker, and the worker keeps
// heartbeating while they run.
import os from 'node:os';
import { Piscina } from 'piscina';
import type { LabelledInput, TrainerParams } from './hashedLogReg';

let pool: Piscina | undefined;
let threads = os.availableParallelism();

/**
 * Threads the pool starts with: the worker factory sets one per training activity it takes at once
 * (RETRAIN_TRAINING_THREADS). A pool already started keeps its size until closeTrainingPool().
 */
export function setTrainingThreads(n: number): void {
  threads = n;
}

function trainingPool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./trainThread.ts', import.meta.url).href,
    maxThreads: threads,
    // All threads start with the pool (a fresh thread costs ~0.5 s of module loading), and stay.
    minThreads: threads,
  });
  return pool;
}

/**
 * Trains in a worker thread; resolves to the serialised artifact (same bytes as training in-process).
 * An aborted signal stops the training: a queued job leaves the queue, a running one's thread is ended
 * (the pool starts a fresh one), so a cancelled job stops using the core.
 */
export async function trainInThread(examples: LabelledInput[], params: Partial<TrainerParams>, signal?: AbortSignal): Promise<Uint8Array> {
  return (await trainingPool().run({ examples, params }, signal ? { signal } : {})) as Uint8Array;
}

/**
 * Runs one of trainThread.ts's named jobs (trainFromData, scoreFromData) in a thread; an aborted signal
 * ends it as it ends a training (the thread, and with it the job's data-plane read).
 */
export async function runTrainerJob<T>(name: 'trainFromData' | 'scoreFromData', task: unknown, signal?: AbortSignal): Promise<T> {
  return (await trainingPool().run(task, { name, ...(signal ? { signal } : {}) })) as T;
}

/**
 * Runs `filename`'s default export on `task` in the same threads (a run's evaluation, for one), so the
 * CPU-bound steps of a training worker share its threads instead of its event loop.
 */
export async function runInThread<T>(filename: URL, task: unknown): Promise<T> {
  return (await trainingPool().run(task, { filename: filename.href })) as T;
}

/** Jobs waiting for a thread and threads in use, for progress reports. */
export function trainingPoolLoad(): { queued: number; threads: number } {
  return { queued: pool?.queueSize ?? 0, threads: pool?.threads.length ?? 0 };
}

export async function closeTrainingPool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}
