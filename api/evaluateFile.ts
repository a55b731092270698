// "Bring your own predictions": teams that train elsewhere get the same evidence and the same gate.
// Used by `retrain eval FILE` and by reports.evaluateFile for an uploaded file.
import { FAIRNESS_GAPS } from '../analysis/fairness';
import { calibrationBinsOf, type GatePolicy } from '../analysis/policy';
import { buildApprovalPacket, defaultEvaluationSettings, evaluateVersion, intersectionPairs, type ApprovalPacket, type HeldOutData } from '../analysis/report';
import { PredictionsFileError, parsePredictions, requireNames, type PredictionsFormat } from './predictionsFile';

export interface EvaluateFileOptions {
  format?: PredictionsFormat;
  fileName?: string;
  /** Columns to slice by; default every column besides label and score. */
  slices?: string[];
  /** Columns to compute fairness on; default none. */
  sensitive?: string[];
  /**
   * Pairs of columns whose intersection cells are evaluated and listed (the worst cells per pair in
   * packet.intersections), besides those the policy's intersection rules name. Their columns are
   * sliced too.
   */
  intersections?: [string, string][];
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

/** The columns of the requested intersections; a pair must name two different columns, neither with '&' or '='. */
function checkIntersections(pairs: readonly (readonly string[])[]): string[] {
  for (const pair of pairs) {
    const shown = pair.join(',');
    if (pair.length !== 2) throw new PredictionsFileError(`--intersections '${shown}' names ${pair.length} column(s): an intersection is two columns, as in format,sender_tld`, null, null);
    if (pair[0] === pair[1]) throw new PredictionsFileError(`--intersections '${shown}' names ${pair[0]} twice: an intersection is two different columns`, null, null);
    const bad = pair.find((c) => /[&=]/.test(c));
    if (bad !== undefined) throw new PredictionsFileError(`--intersections names '${bad}': a column in an intersection cannot contain '&' or '=' (they join cell names)`, null, null);
  }
  return [...new Set(pairs.flat())];
}

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
      const crossed = checkIntersections(opts.intersections ?? []);
      requireNames(columnNames, crossed, '--intersections');
      return [...new Set([...slices, ...sensitive, ...crossed])];
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
  const intersections = intersectionPairs(opts.policy ?? null, data.attributes.map((a) => a.name), opts.intersections ?? []);
  const size = (name: string) => data.attributes.find((a) => a.name === name)!.values.length;
  const cells = intersections.reduce((sum, [a, b]) => sum + size(a) * size(b), 0);
  if (sliceValues + cells > MAX_SLICE_VALUES_TOTAL) {
    throw new PredictionsFileError(
      `the intersections have up to ${cells} cells (${intersections.map(([a, b]) => `${a} × ${b}: ${size(a) * size(b)}`).join(', ')}), which with the ${sliceValues} slice values is more than the ${MAX_SLICE_VALUES_TOTAL} one evaluation reports: intersect columns with fewer values`,
      null,
      null,
    );
  }
  const evaluation = evaluateVersion(data, table.scores, { settings, sensitive, minGroupSupport: 1, undefinedRates: 'zero', intersections, calibrationBins: calibrationBinsOf(opts.policy ?? null) });
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
