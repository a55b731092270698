/**
 * The shapes the gate reads (analysis/policy EvidenceSlice, IntervalLike) from the evaluation's own: shared by
 * the packet's sections (report, calibrationReport, intersectionReport). Pure.
 */
import type { BootstrapInterval } from './bootstrap';
import type { SliceEvaluation } from './classification';
import type { EvidenceSlice, IntervalLike } from './policy';

export const toInterval = (b: BootstrapInterval): IntervalLike => ({ estimate: b.estimate, lower: b.lower, upper: b.upper });

/** A slice's rates as the gate judges them; `auc` when the caller has its interval (overall only). */
export const sliceEvidence = (s: SliceEvaluation, auc?: IntervalLike): EvidenceSlice => ({
  attribute: s.attribute,
  value: s.value,
  support: s.rates.support,
  positives: s.rates.positives,
  negatives: s.rates.negatives,
  metrics: {
    accuracy: s.rates.accuracy,
    precision: s.rates.precision,
    recall: s.rates.recall,
    fpr: s.rates.fpr,
    fnr: s.rates.fnr,
    selectionRate: s.rates.selectionRate,
    ...(auc ? { auc } : {}),
  },
});
