// Uploaded predictions files are evaluated off the event loop: one worker thread (piscina) parses and
// evaluates them one at a time, so a 50 MB upload costs the API's other callers nothing but the
// thread's core. Two more files may wait; beyond that the caller is told to come back (429) rather
// than the process holding ever more 50 MB strings. The thread's JavaScript heap is capped, so a file
// whose evaluation keeps growing fails its own request (413), not the process.
import { Piscina } from 'piscina';
import type { EvaluateFileOptions, FileEvaluation } from './evaluateFile';
import type { EvaluateFileJob, EvaluateFileThreadResult } from './evaluateFileThread';
import { PredictionsFileError } from './predictionsFile';

/** Files evaluated at once (each takes a core for a few seconds at the largest size). */
export const EVALUATE_FILE_THREADS = 1;
/** Files that may wait for the thread; one more is refused with EvaluationBusyError. */
export const EVALUATE_FILE_QUEUE = 2;
/**
 * The thread's JavaScript heap cap: a failsafe, far above what an accepted file needs (its text
 * twice while decoding, ~100 MB at 50M characters; rows and slices live in typed arrays, off the
 * heap). A thread growing past it is stopped and its request answered 413, the process unharmed.
 * Node stops a thread that grows step by step; one allocation far past the cap aborts the process
 * instead, which is why the parser bounds every allocation (rows, distinct values, JSONL line
 * length) and the cap sits well above them.
 */
export const EVALUATE_FILE_HEAP_MB = 1024;

/** Too many files are being evaluated or waiting: try again shortly. */
export class EvaluationBusyError extends Error {
  constructor(readonly inFlight: number) {
    super(`${inFlight} uploaded files are being evaluated or waiting (at most ${EVALUATE_FILE_THREADS} at a time, ${EVALUATE_FILE_QUEUE} waiting): retry in a few seconds`);
    this.name = 'EvaluationBusyError';
  }
}

/** The evaluation needed more memory than a file may use. */
export class EvaluationMemoryError extends Error {
  constructor() {
    super(`evaluating this file needed more than the ${EVALUATE_FILE_HEAP_MB} MB heap an evaluation may use: send fewer rows or fewer slice columns`);
    this.name = 'EvaluationMemoryError';
  }
}

let pool: Piscina | undefined;
let inFlight = 0;

function evaluationPool(): Piscina {
  pool ??= new Piscina({
    filename: new URL('./evaluateFileThread.ts', import.meta.url).href,
    maxThreads: EVALUATE_FILE_THREADS,
    // Started on the first upload (module loading costs ~0.5 s), and ended 15 s after the last one: its
    // heap still holds the last file's garbage, which an idle thread does not collect; ending it hands
    // the memory back.
    minThreads: 0,
    idleTimeout: 15_000,
    resourceLimits: { maxOldGenerationSizeMb: EVALUATE_FILE_HEAP_MB },
  });
  return pool;
}

const SLICE_CHARACTERS = 1 << 20;

/**
 * The text as UTF-8 bytes, a million characters at a time with the event loop free between slices:
 * handing 50M characters to the thread as one structured clone holds the loop for 30-50 ms; this way
 * no step takes more than about a millisecond, and the bytes move to the thread without a copy.
 */
async function utf8Slices(text: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let start = 0; start < text.length; ) {
    let end = Math.min(text.length, start + SLICE_CHARACTERS);
    // A surrogate pair stays in one slice.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end--;
    // Its own ArrayBuffer (never a view of a shared pool), so it can be transferred.
    const bytes = new TextEncoder().encode(text.slice(start, end));
    out.push(bytes);
    start = end;
    if (start < text.length) await new Promise((resolve) => setImmediate(resolve));
  }
  return out;
}

/** Evaluates a predictions file in the worker thread; the same result as evaluatePredictionsFile in-process. */
export function evaluateFileInThread(text: string, opts: EvaluateFileOptions): Promise<FileEvaluation> {
  return evaluateFileBytesInThread(() => utf8Slices(text), opts);
}

/**
 * Evaluates a file that arrives as UTF-8 bytes (the streamed upload, api/uploadRoute): `collect` reads
 * them (its slices must own their ArrayBuffers, so they can be transferred); the thread decodes them
 * with a streaming TextDecoder, so a character split between slices is whole again. A slot is taken
 * before `collect` reads anything, so a busy pool refuses the upload before its body is read.
 */
export async function evaluateFileBytesInThread(collect: () => Promise<Uint8Array[]>, opts: EvaluateFileOptions): Promise<FileEvaluation> {
  if (inFlight >= EVALUATE_FILE_THREADS + EVALUATE_FILE_QUEUE) throw new EvaluationBusyError(inFlight);
  inFlight++;
  try {
    const utf8 = await collect();
    const job: EvaluateFileJob = { utf8, opts };
    const out = (await evaluationPool().run(job, { transferList: utf8.map((b) => b.buffer as ArrayBuffer) })) as EvaluateFileThreadResult;
    if (!out.ok) throw new PredictionsFileError(out.error.reason, out.error.line, out.error.column);
    return out.evaluation;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') throw new EvaluationMemoryError();
    throw err;
  } finally {
    inFlight--;
  }
}

/** Uploads being evaluated or waiting, for tests and metrics. */
export function evaluationsInFlight(): number {
  return inFlight;
}

export async function closeEvaluateFilePool(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}
