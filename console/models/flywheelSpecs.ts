// Chart specifications for a model's flywheel health (feedback.health): slice coverage of feedback
// against traffic, the label-source mix, and the correction trend with its intervals. Observable Plot
// marks built from the API's data.
import * as Plot from '@observablehq/plot';
import type { Outputs } from '../trpc';

export type FlywheelHealth = Outputs['feedback']['health'];

export interface CoverageRow {
  slice: string;
  series: 'traffic' | 'feedback';
  share: number;
  lower: number | null;
  upper: number | null;
  status: string;
}

/** Each slice's share of traffic beside its share of feedback (with the feedback share's 95% interval). */
export function coverageRows(health: FlywheelHealth): CoverageRow[] {
  return health.coverage.attributes.flatMap((a) =>
    a.values.flatMap((v) => {
      const slice = `${a.attribute}=${v.value}${v.status === 'ok' ? '' : ` (${v.status})`}`;
      return [
        ...(v.trafficShare === null ? [] : [{ slice, series: 'traffic' as const, share: v.trafficShare, lower: null, upper: null, status: v.status }]),
        ...(v.feedbackShare === null ? [] : [{ slice, series: 'feedback' as const, share: v.feedbackShare, lower: v.feedbackShareCi95.lower, upper: v.feedbackShareCi95.upper, status: v.status }]),
      ];
    }),
  );
}

export function coverageSpec(rows: CoverageRow[]): Plot.PlotOptions {
  const slices = [...new Set(rows.map((r) => r.slice))];
  const feedback = rows.filter((r) => r.series === 'feedback' && r.lower !== null && r.upper !== null);
  return {
    marginLeft: Math.min(320, 12 + 7 * Math.max(8, ...slices.map((s) => s.length))),
    height: 50 + 26 * slices.length,
    x: { label: 'Share (of traffic, of feedback)', domain: [0, 1], grid: true },
    y: { label: null, domain: slices },
    color: { domain: ['traffic', 'feedback'], range: ['#4a5361', '#0b5cad'], legend: true },
    marks: [
      Plot.ruleY(feedback, { y: 'slice', x1: 'lower', x2: 'upper', stroke: '#0b5cad', strokeWidth: 2 }),
      Plot.dot(rows, { y: 'slice', x: 'share', fill: 'series', symbol: 'series', r: 4.5 }),
    ],
  };
}

/** Where the labels came from (annotation, import, feedback, model), as counts. */
export function labelSourceSpec(mix: FlywheelHealth['labelSources']['overall']['mix']): Plot.PlotOptions {
  return {
    height: 40 + 28 * Math.max(1, mix.length),
    marginLeft: 110,
    marginRight: 90,
    x: { label: 'Labelled examples', grid: true },
    y: { label: null, domain: mix.map((m) => m.source) },
    marks: [
      Plot.barX(mix, { y: 'source', x: 'count', fill: '#0b5cad' }),
      Plot.text(mix, { y: 'source', x: 'count', text: (m: (typeof mix)[number]) => `${m.count}${m.share === null ? '' : ` (${Math.round(m.share * 100)}%)`}`, dx: 4, textAnchor: 'start', fill: '#1b1f24' }),
      Plot.ruleX([0]),
    ],
  };
}

type Bucket = FlywheelHealth['overrideTrend']['buckets'][number];

/** The correction rate per time bucket, its 95% intervals as rules, and the dots where traffic was measured. */
export function correctionTrendSpec(buckets: Bucket[]): Plot.PlotOptions {
  const measured = buckets.filter((b) => b.rate !== null).map((b) => ({ ...b, at: new Date(b.start) }));
  return {
    height: 220,
    marginLeft: 55,
    x: { label: 'Window bucket (start)', type: 'utc' },
    y: { label: 'Corrections per request (%)', grid: true, percent: true, zero: true },
    marks: [
      Plot.ruleX(measured, { x: 'at', y1: (b: (typeof measured)[number]) => b.ci95.lower, y2: (b: (typeof measured)[number]) => b.ci95.upper, stroke: '#0b5cad', strokeOpacity: 0.6, strokeWidth: 2 }),
      Plot.line(measured, { x: 'at', y: 'rate', stroke: '#0b5cad' }),
      Plot.dot(measured, { x: 'at', y: 'rate', fill: '#0b5cad', r: 3.5, tip: true }),
    ],
  };
}
