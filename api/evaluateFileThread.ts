// Runs in the worker thread of api/evaluateFileWorker: parses and evaluates one uploaded predictions
// file, off the API's event loop. A bad file is an answer, not a crash: its error comes back as data
// (a thrown error would lose its line and column crossing the thread boundary).
import { evaluatePredictionsFile, type EvaluateFileOptions, type FileEvaluation } from './evaluateFile';
import { PredictionsFileError } from './predictionsFile';

export interface EvaluateFileJob {
  text: string;
  opts: EvaluateFileOptions;
}

export type EvaluateFileThreadResult =
  | { ok: true; evaluation: FileEvaluation }
  | { ok: false; error: { reason: string; line: number | null; column: string | null } };

export default function evaluateInThread(job: EvaluateFileJob): EvaluateFileThreadResult {
  try {
    return { ok: true, evaluation: evaluatePredictionsFile(job.text, job.opts) };
  } catch (err) {
    if (err instanceof PredictionsFileError) return { ok: false, error: { reason: err.reason, line: err.line, column: err.column } };
    throw err;
  }
}
