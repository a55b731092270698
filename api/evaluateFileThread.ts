// Runs in the worker thread of api/evaluateFileWorker: parses and evaluates one uploaded predictions
// file, off the API's event loop. A bad file is an answer, not a crash: its error comes back as data
// (a thrown error would lose its line and column crossing the thread boundary).
import { evaluatePredictionsFile, type EvaluateFileOptions, type FileEvaluation } from './evaluateFile';
import { PredictionsFileError } from './predictionsFile';

export interface EvaluateFileJob {
  /** The file as UTF-8 bytes in slices (transferred, not copied, from the API's thread). */
  utf8: Uint8Array[];
  opts: EvaluateFileOptions;
}

export type EvaluateFileThreadResult =
  | { ok: true; evaluation: FileEvaluation }
  | { ok: false; error: { reason: string; line: number | null; column: string | null } };

const EMPTY = new Uint8Array(0);

export default function evaluateInThread(job: EvaluateFileJob): EvaluateFileThreadResult {
  // Each slice's bytes are let go as soon as they are decoded, so the file is held about twice, not three times.
  const decoder = new TextDecoder();
  let text = '';
  for (let i = 0; i < job.utf8.length; i++) {
    text += decoder.decode(job.utf8[i], { stream: true });
    job.utf8[i] = EMPTY;
  }
  text += decoder.decode();
  try {
    return { ok: true, evaluation: evaluatePredictionsFile(text, job.opts) };
  } catch (err) {
    if (err instanceof PredictionsFileError) return { ok: false, error: { reason: err.reason, line: err.line, column: err.column } };
    throw err;
  }
}
