// Chart specifications built from the API's data: Observable Plot marks, declared, never drawn by hand.
// Each builder returns Plot options for components/PlotFigure.
import * as Plot from '@observablehq/plot';

export interface IntervalRow {
  /** What the row is (a slice value, a group, a metric). */
  label: string;
  point: number | null;
  lower: number | null;
  upper: number | null;
  /** Examples behind the estimate. */
  support: number;
  /** Too few examples to judge: drawn apart and marked. */
  insufficient: boolean;
}

/**
 * Points with their 95% intervals, one row each, on one axis with the policy's bound (a dashed rule):
 * what a slice rule judges, drawn. Thin slices are hollow and labelled "insufficient".
 */
export function intervalSpec(rows: IntervalRow[], opts: { x: string; bound?: { value: number; label: string } | null; domain?: [number, number] }): Plot.PlotOptions {
  const drawn = rows.filter((r) => r.point !== null);
  const label = (r: IntervalRow) => `${r.label} (n=${r.support}${r.insufficient ? ', insufficient' : ''})`;
  return {
    marginLeft: Math.min(320, 12 + 7 * Math.max(8, ...rows.map((r) => label(r).length))),
    height: 40 + 26 * rows.length,
    x: { label: opts.x, grid: true, ...(opts.domain ? { domain: opts.domain } : {}) },
    y: { label: null, domain: rows.map(label) },
    marks: [
      Plot.ruleY(drawn, { y: label, x1: (r: IntervalRow) => r.lower, x2: (r: IntervalRow) => r.upper, stroke: (r: IntervalRow) => (r.insufficient ? '#8a5a00' : '#0b5cad'), strokeWidth: 2 }),
      Plot.dot(drawn, { y: label, x: (r: IntervalRow) => r.point, fill: (r: IntervalRow) => (r.insufficient ? 'white' : '#0b5cad'), stroke: (r: IntervalRow) => (r.insufficient ? '#8a5a00' : '#0b5cad'), r: 4 }),
      ...(opts.bound ? [Plot.ruleX([opts.bound.value], { stroke: '#b42318', strokeDasharray: '4,3' }), Plot.text([opts.bound], { x: 'value', frameAnchor: 'top', text: 'label', dy: -2, fill: '#b42318' })] : []),
    ],
  };
}
