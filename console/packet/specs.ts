// The approval packet's charts as Observable Plot specifications, built from the packet's data: points
// with their intervals, the policy's bounds on the same axis, curves with the operating point marked.
// Pure functions of plain data (no React), so a page builds each spec once (useMemo).
import * as Plot from '@observablehq/plot';

const BLUE = '#0b5cad';
const AMBER = '#8a5a00';
const RED = '#b42318';
const GREEN = '#1a7f37';
const GREY = '#4a5361';

/** One row of an interval plot: a point, its interval, its support, and the bound that judges it. */
export interface BoundedRow {
  label: string;
  point: number | null;
  lower: number | null;
  upper: number | null;
  support: number;
  insufficient: boolean;
  /** The policy's bound for this row, when a rule judges it. */
  min?: number | undefined;
  max?: number | undefined;
}

export const rowLabel = (r: BoundedRow) => `${r.label} (n=${r.support}${r.insufficient ? ', insufficient' : ''})`;

/**
 * Points with their intervals, one row each; thin rows hollow and labelled "insufficient"; each row's
 * bound (min or max) as a red tick on its own row, or one dashed rule when every row shares it; a
 * reference line (zero for differences) when asked.
 */
export function boundedIntervalSpec(rows: BoundedRow[], opts: { x: string; domain?: [number, number]; reference?: { value: number; label: string }; width?: number }): Plot.PlotOptions {
  const drawn = rows.filter((r) => r.point !== null && r.lower !== null && r.upper !== null);
  const labels = rows.map(rowLabel);
  const bounds = rows.flatMap((r) => [
    ...(r.min !== undefined ? [{ y: rowLabel(r), x: r.min, kind: 'min' }] : []),
    ...(r.max !== undefined ? [{ y: rowLabel(r), x: r.max, kind: 'max' }] : []),
  ]);
  const colour = (r: BoundedRow) => (r.insufficient ? AMBER : BLUE);
  return {
    ...(opts.width ? { width: opts.width } : {}),
    marginLeft: Math.min(300, 12 + 7 * Math.max(8, ...labels.map((l) => l.length))),
    marginRight: 24,
    height: 44 + 24 * rows.length,
    x: { label: opts.x, grid: true, ...(opts.domain ? { domain: opts.domain } : {}) },
    y: { label: null, domain: labels },
    marks: [
      ...(opts.reference ? [Plot.ruleX([opts.reference.value], { stroke: GREY })] : []),
      Plot.ruleY(drawn, { y: rowLabel, x1: 'lower', x2: 'upper', stroke: colour, strokeWidth: 2 }),
      Plot.tickX(bounds, { x: 'x', y: 'y', stroke: RED, strokeWidth: 2, strokeDasharray: '3,2' }),
      Plot.dot(drawn, { y: rowLabel, x: 'point', fill: (r: BoundedRow) => (r.insufficient ? 'white' : BLUE), stroke: colour, strokeWidth: 1.5, r: 4 }),
    ],
  };
}

export interface CurvePoint {
  threshold: number;
  precision: number;
  recall: number;
}

/** A precision-recall curve with the operating point, the constrained choice and the abstain band's ends marked. */
export function prCurveSpec(points: CurvePoint[], marks: { label: string; recall: number; precision: number; colour: 'operating' | 'chosen' | 'band' }[]): Plot.PlotOptions {
  const colourOf = { operating: BLUE, chosen: GREEN, band: AMBER } as const;
  return {
    width: 560,
    height: 320,
    marginRight: 24,
    x: { label: 'Recall', domain: [0, 1], grid: true },
    y: { label: 'Precision', domain: [0, 1], grid: true },
    marks: [
      Plot.line(points, { x: 'recall', y: 'precision', stroke: GREY, curve: 'step-before' }),
      Plot.dot(marks, { x: 'recall', y: 'precision', r: 5, fill: (m: (typeof marks)[number]) => colourOf[m.colour], stroke: 'white' }),
      // Labels stand apart (the marks sit close together near the curve's knee): each kind at its own offset.
      ...(['band', 'operating', 'chosen'] as const).map((kind, k) =>
        Plot.text(
          marks.filter((m) => m.colour === kind),
          { x: 'recall', y: 'precision', text: 'label', dx: -8, dy: [-10, 16, 32][k]!, textAnchor: 'end', fill: colourOf[kind] },
        ),
      ),
    ],
  };
}

/** Precision and recall against the threshold, the abstain band shaded, the operating and chosen thresholds as rules. */
export function thresholdSpec(
  points: CurvePoint[],
  opts: { operating: number; chosen: number | null; band: { lower: number; upper: number } | null },
): Plot.PlotOptions {
  const long = points.flatMap((p) => [
    { threshold: p.threshold, value: p.precision, measure: 'precision' },
    { threshold: p.threshold, value: p.recall, measure: 'recall' },
  ]);
  const rules = [{ x: opts.operating, label: `operating ${opts.operating.toFixed(3)}`, colour: BLUE }, ...(opts.chosen !== null ? [{ x: opts.chosen, label: `chosen ${opts.chosen.toFixed(3)}`, colour: GREEN }] : [])];
  return {
    width: 560,
    height: 260,
    marginRight: 24,
    x: { label: 'Threshold', domain: [0, 1], grid: true },
    y: { label: 'Rate', domain: [0, 1], grid: true },
    color: { domain: ['precision', 'recall'], range: [BLUE, RED], legend: true },
    marks: [
      ...(opts.band ? [Plot.rectX([opts.band], { x1: 'lower', x2: 'upper', y1: 0, y2: 1, fill: AMBER, fillOpacity: 0.18 })] : []),
      Plot.line(long, { x: 'threshold', y: 'value', stroke: 'measure', z: 'measure' }),
      Plot.ruleX(rules, { x: 'x', stroke: 'colour', strokeDasharray: '4,3' }),
      Plot.text(rules, { x: 'x', frameAnchor: 'top', text: 'label', dy: -4, dx: 4, textAnchor: 'start', fill: 'colour' }),
    ],
  };
}

/** The learning curve: each seed's held-out error, the mean per size, and the fitted inverse power law (to twice the data). */
export function learningCurveSpec(seeds: { n: number; error: number }[], means: { n: number; error: number }[], fitted: { n: number; error: number }[]): Plot.PlotOptions {
  return {
    height: 300,
    marginRight: 24,
    x: { label: 'Training examples', grid: true },
    y: { label: 'Held-out error', grid: true, zero: true },
    marks: [
      Plot.line(fitted, { x: 'n', y: 'error', stroke: RED, strokeDasharray: '5,3' }),
      Plot.dot(seeds, { x: 'n', y: 'error', stroke: GREY, r: 3 }),
      Plot.line(means, { x: 'n', y: 'error', stroke: BLUE }),
      Plot.dot(means, { x: 'n', y: 'error', fill: BLUE, r: 4 }),
    ],
  };
}

/** Traffic share per untested segment as bars. */
export function shareSpec(rows: { label: string; share: number; reason: string }[]): Plot.PlotOptions {
  return {
    marginLeft: Math.min(300, 12 + 7 * Math.max(8, ...rows.map((r) => r.label.length))),
    marginRight: 48,
    height: 44 + 22 * rows.length,
    x: { label: 'Share of the attribute’s traffic', domain: [0, Math.max(0.05, ...rows.map((r) => r.share))], tickFormat: '.0%', grid: true },
    y: { label: null, domain: rows.map((r) => r.label) },
    marks: [
      Plot.barX(rows, { y: 'label', x: 'share', fill: (r: (typeof rows)[number]) => (r.reason === 'absent' ? RED : AMBER) }),
      Plot.text(rows, { y: 'label', x: 'share', text: (r: (typeof rows)[number]) => `${(r.share * 100).toFixed(1)}%`, dx: 4, textAnchor: 'start' }),
    ],
  };
}

/** One bin of a reliability curve: the bin's mean score, its fraction of positives and its rows. */
export interface ReliabilityBin {
  confidence: number;
  accuracy: number;
  count: number;
}

/**
 * A reliability curve: each non-empty bin's fraction of positives against its mean score, the dot's
 * area its rows (so a bin resting on a handful of rows looks like it; the counts themselves are in
 * the table beside it), the diagonal a perfectly calibrated model would follow dashed.
 */
export function reliabilitySpec(bins: ReliabilityBin[], opts: { width?: number } = {}): Plot.PlotOptions {
  return {
    width: opts.width ?? 420,
    height: 380,
    marginRight: 24,
    x: { label: 'Mean score in the bin (confidence)', domain: [0, 1], grid: true },
    y: { label: 'Fraction positive (accuracy)', domain: [0, 1], grid: true },
    r: { range: [2, 9] },
    marks: [
      Plot.line(
        [
          { x: 0, y: 0 },
          { x: 1, y: 1 },
        ],
        { x: 'x', y: 'y', stroke: GREY, strokeDasharray: '4,3' },
      ),
      Plot.line(bins, { x: 'confidence', y: 'accuracy', stroke: BLUE }),
      Plot.dot(bins, { x: 'confidence', y: 'accuracy', r: 'count', fill: BLUE, fillOpacity: 0.6, stroke: 'white', title: (b: ReliabilityBin) => `mean score ${b.confidence.toFixed(3)}, fraction positive ${b.accuracy.toFixed(3)}, ${b.count} rows` }),
    ],
  };
}
