// Chart specifications of an audit's reports over time: Observable Plot marks built from the reports,
// declared (components/PlotFigure renders them).
import * as Plot from '@observablehq/plot';
import type { FindingPoint, ReportRow } from './findings';

const BLUE = '#0b5cad';
const RED = '#b42318';

/**
 * One finding across the reports: a point per window (red where the policy was crossed), its interval as
 * a vertical rule where the report carries one, a line through the points, and the policy's bound dashed.
 */
export function findingSpec(points: FindingPoint[], measure: string, domain?: [Date, Date]): Plot.PlotOptions {
  const drawn = points.filter((p) => p.estimate !== null);
  const withInterval = drawn.filter((p) => p.lower !== null && p.upper !== null);
  const threshold = points.find((p) => p.threshold !== null)?.threshold ?? null;
  const colour = (p: FindingPoint) => (p.crossed ? RED : BLUE);
  return {
    height: 220,
    marginLeft: 70,
    x: { label: null, type: 'utc', inset: 24, ...(domain ? { domain } : {}) },
    y: { label: measure, grid: true, zero: true, nice: true },
    marks: [
      Plot.ruleY([0], { stroke: '#888' }),
      Plot.lineY(drawn, { x: 'windowTo', y: 'estimate', stroke: '#6b7280' }),
      Plot.ruleX(withInterval, { x: 'windowTo', y1: 'lower', y2: 'upper', stroke: colour, strokeWidth: 2 }),
      Plot.dot(drawn, { x: 'windowTo', y: 'estimate', fill: colour, r: 4, tip: true, title: (p: FindingPoint) => `${p.label}: ${p.estimate?.toFixed(3)}${p.crossed ? ' (crossed)' : ''}` }),
      ...(threshold !== null
        ? [Plot.ruleY([threshold], { stroke: RED, strokeDasharray: '4,3' }), Plot.text([threshold], { y: (t: number) => t, frameAnchor: 'right', text: () => 'policy bound', dy: -6, fill: RED })]
        : []),
    ],
  };
}

/** The span of the reports' windows, so every chart of one audit shares its time axis. */
export function windowSpan(reports: { windowTo: Date }[]): [Date, Date] | undefined {
  if (reports.length === 0) return undefined;
  const t = reports.map((r) => r.windowTo.getTime());
  return [new Date(Math.min(...t)), new Date(Math.max(...t))];
}

/** The verdict of each window: alerted (red) or quiet (blue), on one time axis. */
export function verdictSpec(reports: ReportRow[]): Plot.PlotOptions {
  const verdict = (r: ReportRow) => (r.alert ? 'alerted' : 'quiet');
  return {
    height: 110,
    marginLeft: 70,
    x: { label: null, type: 'utc', inset: 24, domain: windowSpan(reports) },
    y: { label: null, domain: ['quiet', 'alerted'] },
    color: { domain: ['quiet', 'alerted'], range: [BLUE, RED], legend: true },
    marks: [Plot.dot(reports, { x: 'windowTo', y: verdict, fill: verdict, r: 6, symbol: (r: ReportRow) => (r.alert ? 'triangle' : 'circle') })],
  };
}
