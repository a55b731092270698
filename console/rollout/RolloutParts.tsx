// The rollout page's parts: the shadow window's comparison, the canary's weight over its steps, and every
// analysis window's judgement.
import { PlotFigure } from '../components/PlotFigure';
import { Empty } from '../components/states';
import { intervalSpec } from '../charts';
import { interval, pct } from '../format';
import { clock, phaseClass, shadowRows, weightPoints, weightSpec, type RolloutStatus } from './specs';

export function ShadowComparison({ shadow }: { shadow: RolloutStatus['shadow'] }) {
  if (!shadow) return <Empty>No shadow comparison: the plan has no shadow window, or it has not closed yet.</Empty>;
  return (
    <>
      <dl className="facts">
        <dt>Judgement</dt>
        <dd>
          <span className={`badge ${phaseClass(shadow.phase)}`}>{shadow.phase}</span>
        </dd>
        <dt>Window</dt>
        <dd>
          {clock(shadow.from)} – {clock(shadow.to)}
        </dd>
        <dt>Requests compared</dt>
        <dd>
          {shadow.requests} of {shadow.servedRequests} served (coverage {pct(shadow.coverage)})
        </dd>
        <dt>Agreement</dt>
        <dd>
          {pct(shadow.agreement.estimate)} {interval(shadow.agreement.lower, shadow.agreement.upper)}
        </dd>
        <dt>New blocks</dt>
        <dd>
          {shadow.newBlocks.count} ({pct(shadow.newBlocks.estimate)} {interval(shadow.newBlocks.lower, shadow.newBlocks.upper)})
        </dd>
        <dt>New passes</dt>
        <dd>
          {shadow.newPasses.count} ({pct(shadow.newPasses.estimate)} {interval(shadow.newPasses.lower, shadow.newPasses.upper)})
        </dd>
        <dt>Failed slices</dt>
        <dd>{shadow.failedSlices.length === 0 ? 'none' : shadow.failedSlices.join(', ')}</dd>
      </dl>
      {shadow.reasons.length > 0 && (
        <ul>
          {shadow.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
      )}
      {shadow.requests > 0 && (
        <PlotFigure
          spec={intervalSpec(shadowRows(shadow), { x: 'Share of compared requests', domain: [0, 1] })}
          label="Shadow comparison: agreement with production and the shares of new blocks and new passes, with 95% intervals"
          caption="Points with 95% intervals over the requests both versions decided."
        />
      )}
    </>
  );
}

export function WeightChart({ status }: { status: RolloutStatus }) {
  const points = weightPoints(status);
  if (points.length === 0) return <Empty>No canary step yet: the candidate takes no traffic.</Empty>;
  return (
    <PlotFigure
      spec={weightSpec(points)}
      label={`Canary weight over steps: ${points.map((p) => `step ${p.step} at ${Math.round(p.weight * 100)}% (${p.phase})`).join(', ')}`}
      caption="The candidate's share of traffic at each canary step, coloured by its analysis window's judgement."
    />
  );
}

export function AnalysisTable({ analyses }: { analyses: RolloutStatus['analyses'] }) {
  if (analyses.length === 0) return <Empty>No analysis window has closed yet.</Empty>;
  return (
    <table>
      <caption className="hint">Every analysis window's judgement, in order</caption>
      <thead>
        <tr>
          <th scope="col" className="num">
            Step
          </th>
          <th scope="col" className="num">
            Weight
          </th>
          <th scope="col">From</th>
          <th scope="col">To</th>
          <th scope="col">Judgement</th>
          <th scope="col">Reasons</th>
        </tr>
      </thead>
      <tbody>
        {analyses.map((a) => (
          <tr key={`${a.step}-${a.from}`}>
            <td className="num">{a.step}</td>
            <td className="num">{pct(a.weight, 0)}</td>
            <td>{clock(a.from)}</td>
            <td>{clock(a.to)}</td>
            <td>
              <span className={`badge ${phaseClass(a.phase)}`}>{a.phase}</span>
            </td>
            <td>{a.reasons.length === 0 ? '—' : a.reasons.join('; ')}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
