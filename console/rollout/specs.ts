// Chart specifications for the rollout page: the canary's weight over its steps, and the shadow window's
// comparison as intervals. Observable Plot marks built from runs.rollout's data.
import * as Plot from '@observablehq/plot';
import type { IntervalRow } from '../charts';
import type { Outputs } from '../trpc';

export type RolloutStatus = Outputs['runs']['rollout'];

export interface WeightPoint {
  step: number;
  weight: number;
  /** The analysis phase of the step's window, or 'in progress' for the step now being measured. */
  phase: string;
}

/** The canary's weight at each step reached: judged windows, then the current step while it is measured. */
export function weightPoints(status: RolloutStatus): WeightPoint[] {
  const points: WeightPoint[] = status.analyses.map((a) => ({ step: a.step, weight: a.weight, phase: a.phase }));
  if (status.step > 0 && !points.some((p) => p.step === status.step)) points.push({ step: status.step, weight: status.weight, phase: status.outcome === null ? 'in progress' : 'not judged' });
  return points.sort((a, b) => a.step - b.step);
}

/** Weight over steps: a step line from 0 at the shadow window, a dot per step coloured by its judgement. */
export function weightSpec(points: WeightPoint[]): Plot.PlotOptions {
  const line = [{ step: 0, weight: 0, phase: 'shadow' }, ...points];
  const last = Math.max(1, ...points.map((p) => p.step));
  return {
    height: 200,
    marginLeft: 50,
    marginRight: 30,
    x: { label: 'Canary step (0: before the canary)', domain: [0, last], ticks: Array.from({ length: last + 1 }, (_, i) => i), tickFormat: 'd', inset: 10 },
    y: { label: 'Traffic to the candidate (%)', domain: [0, 100], grid: true },
    color: { domain: ['Successful', 'Inconclusive', 'Failed', 'in progress', 'not judged'], range: ['#1a7f37', '#8a5a00', '#b42318', '#0b5cad', '#4a5361'], legend: true },
    marks: [
      Plot.line(line, { x: 'step', y: (p: WeightPoint) => p.weight * 100, curve: 'step-after', stroke: '#4a5361' }),
      Plot.dot(points, { x: 'step', y: (p: WeightPoint) => p.weight * 100, fill: 'phase', r: 5, tip: true }),
      Plot.text(points, { x: 'step', y: (p: WeightPoint) => p.weight * 100, text: (p: WeightPoint) => `${Math.round(p.weight * 100)}%`, dy: -12, fill: '#1b1f24' }),
    ],
  };
}

/** The shadow window's agreement and flip rates as interval rows (support: the requests compared). */
export function shadowRows(shadow: NonNullable<RolloutStatus['shadow']>): IntervalRow[] {
  const row = (label: string, i: { estimate: number | null; lower: number | null; upper: number | null }): IntervalRow => ({
    label,
    point: i.estimate,
    lower: i.lower,
    upper: i.upper,
    support: shadow.requests,
    insufficient: shadow.phase === 'Inconclusive',
  });
  return [row('Agreement', shadow.agreement), row(`New blocks (${shadow.newBlocks.count})`, shadow.newBlocks), row(`New passes (${shadow.newPasses.count})`, shadow.newPasses)];
}

/** A judgement's badge class (styles.css). */
export const phaseClass = (phase: string): string => ({ Successful: 'pass', Failed: 'fail', Inconclusive: 'warn' })[phase] ?? '';

/** A window's edge to the second (windows last seconds to days; the date is in the row's other edge). */
export const clock = (iso: string): string => new Date(iso).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
