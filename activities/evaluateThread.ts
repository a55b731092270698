// Runs in a thread of the training pool (trainers/threadPool): evaluates one version's scores on the
// held-out rows, off the worker's event loop. The bootstraps behind the packet's intervals (calibration's
// above all) are the heaviest CPU of a small run; on the event loop they serialised every training slot's
// evaluation on one core and delayed every other activity of the worker behind them.
import { evaluateVersion, type HeldOutData, type VersionEvaluation } from '../analysis/report';
import { collectAfterJob } from '../trainers/threadGc';

export interface EvaluateJob {
  data: HeldOutData;
  scores: Float64Array;
  opts: Parameters<typeof evaluateVersion>[2];
}

export default function evaluate(job: EvaluateJob): VersionEvaluation {
  try {
    return evaluateVersion(job.data, job.scores, job.opts);
  } finally {
    collectAfterJob();
  }
}
