// "Bring your own predictions": teams that train elsewhere get the same evidence and the same gate.
// Used by `retrain eval FILE` and by reports.evaluateFile for an uploaded file.
import { FAIRNESS_GAPS } from '../analysis/fairness';
import { calibrationBinsOf, type GatePolicy } from '../analysis/policy';
import { buildApprovalPacket, defaultEvaluationSettings, evaluateVersion, type ApprovalPacket, type HeldOutData } from '../analysis/report';
import { PredictionsFileError, parsePredictions, requireNames, type PredictionsFormat } from './predictionsFile';

export interface EvaluateFileOptions {
  format?: PredictionsFormat;
  fileName?: string;
  /** Columns to slice by; default every column besides label and score. */
  slices?: string[];
  /** Columns to compute fairness on; default none. */
  sensitive?: string[];
  threshold?: number;
  policy?: GatePolicy | null;
  B?: number;
  seed?: number;
  /** Rows the file may have (default the parser's MAX_ROWS). */
  maxRows?: number;
}

/** Fairlearn's names, so a Python user can compare with MetricFrame and fairlearn.metrics directly. */
export interface FairlearnCompatibleFairness {
  demographic_parity_difference: number | null;
  demographic_parity_ratio: number | null;
  equal_opportunity_difference: number | null;
  equalized_odds_difference: number | null;
  intervals: Record<string, { lower: number | null; upper: number | null }>;
  by_group: Record<string, { selection_rate: number | null; tpr: number | null; fpr: number | null; count: number }>;
}

export interface FileEvaluation {
  rows: number;
  threshold: number;
  packet: ApprovalPacket;
  fairness: Record<string, FairlearnCompatibleFairness>;
}

/** Slice values over all slice and sensitive columns together: each is evaluated and reported (~1 KB of packet each). */
export const MAX_SLICE_VALUES_TOTAL = 2000;

export function evaluatePredictionsFile(text: string, opts: EvaluateFileOptions = {}): FileEvaluation {
  let sensitive: string[] = [];
  const table = parsePredictions(text, {
    ...(opts.format ? { format: opts.format } : {}),
    ...(opts.fileName ? { fileName: opts.fileName } : {}),
    ...(opts.maxRows !== undefined ? { maxRows: opts.maxRows } : {}),
    // Checked against the header before any row is read; only these columns are kept.
    keep: (columnNames) => {
      const slices = opts.slices ?? columnNames;
      requireNames(columnNames, slices, '--slices');
      sensitive = opts.sensitive ?? [];
      requireNames(columnNames, sensitive, '--sensitive');
      return [...new Set([...slices, ...sensitive])];
    },
  });
  const sliceValues = table.attributes.reduce((sum, a) => sum + a.values.length, 0);
  if (sliceValues > MAX_SLICE_VALUES_TOTAL) {
    throw new PredictionsFileError(
      `the slice columns have ${sliceValues} distinct values together (${table.attributes.map((a) => `${a.name}: ${a.values.length}`).join(', ')}), more than the ${MAX_SLICE_VALUES_TOTAL} one evaluation reports: name fewer columns to slice by (slices, or --slices in the CLI)`,
      null,
      null,
    );
  }
  // encodeHeldOut's layout (attributes in name order), built from the parser's encoding without a copy.
  const data: HeldOutData = { labels: table.labels, attributes: [...table.attributes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  const settings = {
    ...defaultEvaluationSettings,
    ...(opts.threshold !== undefined ? { threshold: opts.threshold } : {}),
    ...(opts.B !== undefined ? { B: opts.B } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.policy ? { confidence: opts.policy.confidence } : {}),
  };
  // Fairlearn's conventions here (every group, an undefined rate counts as 0), so the numbers compare one to one.
  // Calibration for the bins the policy's calibration rules judge (and the always-on 10), so the rules are judged here too.
  const evaluation = evaluateVersion(data, table.scores, { settings, sensitive, minGroupSupport: 1, undefinedRates: 'zero', calibrationBins: calibrationBinsOf(opts.policy ?? null) });
  const packet = buildApprovalPacket({
    runId: 'file',
    model: opts.fileName ?? 'predictions',
    data,
    policy: opts.policy ?? null,
    policyVersion: null,
    candidate: { versionId: 0, version: 0, reportHash: '', scores: table.scores, evaluation },
    champion: null,
    traffic: [],
    settings,
  });
  const fairness = Object.fromEntries(
    evaluation.fairness.map((f) => [
      f.attribute,
      {
        demographic_parity_difference: f.demographic_parity_difference.estimate,
        demographic_parity_ratio: f.demographic_parity_ratio.estimate,
        equal_opportunity_difference: f.equal_opportunity_difference.estimate,
        equalized_odds_difference: f.equalized_odds_difference.estimate,
        intervals: Object.fromEntries(
          FAIRNESS_GAPS.map((k) => [k, { lower: f[k].lower, upper: f[k].upper }]),
        ),
        by_group: Object.fromEntries(f.groups.map((g) => [g.group, { selection_rate: g.selection_rate, tpr: g.tpr, fpr: g.fpr, count: g.count }])),
      },
    ]),
  );
  return { rows: table.rows, threshold: settings.threshold, packet, fairness };
}
