// A model's flywheel health (feedback.health over the last 28 days): the explicit-feedback rate, slice
// coverage of feedback against traffic, the label-source mix and the correction trend, with the alerts
// analysis/flywheel raises.
import { useQuery } from '@tanstack/react-query';
import { PlotFigure } from '../components/PlotFigure';
import { intervalSpec } from '../charts';
import { Empty, Query } from '../components/states';
import { interval, pct } from '../format';
import { useTRPC } from '../trpc';
import { correctionTrendSpec, coverageRows, coverageSpec, labelSourceSpec, type FlywheelHealth } from './flywheelSpecs';

export function Flywheel({ model }: { model: string }) {
  const trpc = useTRPC();
  const health = useQuery(trpc.feedback.health.queryOptions({ model }));
  return <Query q={health} what="flywheel health">{(h) => <FlywheelView h={h} />}</Query>;
}

function FlywheelView({ h }: { h: FlywheelHealth }) {
  const coverage = coverageRows(h);
  const rate = h.explicitRate;
  const rateText = `${pct(rate.rate)} ${interval(rate.ci95.lower, rate.ci95.upper)}`;
  const measured = h.overrideTrend.buckets.filter((b) => b.rate !== null);
  return (
    <>
      <p className="hint">
        Window {h.window.from.slice(0, 10)} to {h.window.to.slice(0, 10)}; {h.feedback.events} feedback events, {h.feedback.linkedToTraffic} linked to logged traffic.
      </p>
      {h.alerts.length > 0 && (
        <ul aria-label="Flywheel alerts">
          {h.alerts.map((a) => (
            <li key={a} className="error">
              {a}
            </li>
          ))}
        </ul>
      )}
      <h3>Explicit feedback rate</h3>
      <p>
        {pct(rate.rate)} of {rate.requests} requests had explicit feedback ({rate.withExplicit} requests; 95% interval {interval(rate.ci95.lower, rate.ci95.upper)}).
      </p>
      {rate.requests > 0 && (
        <PlotFigure
          spec={intervalSpec([{ label: 'Requests with explicit feedback', point: rate.rate, lower: rate.ci95.lower, upper: rate.ci95.upper, support: rate.requests, insufficient: false }], { x: 'Share of requests', domain: [0, 1] })}
          label={`Explicit feedback rate: ${rateText} of ${rate.requests} requests`}
          caption={`Explicit kinds: ${rate.kinds.join(', ')}.`}
        />
      )}
      <h3>Feedback coverage per slice</h3>
      {coverage.length === 0 ? (
        <Empty>No traffic with slice attributes in the window.</Empty>
      ) : (
        <PlotFigure
          spec={coverageSpec(coverage)}
          label="Feedback coverage per slice: each slice's share of traffic beside its share of feedback, with the feedback share's 95% interval"
          caption={h.coverage.rule}
        />
      )}
      <h3>Label sources</h3>
      {h.labelSources.overall.mix.length === 0 ? (
        <Empty>No labelled examples yet.</Empty>
      ) : (
        <PlotFigure
          spec={labelSourceSpec(h.labelSources.overall.mix)}
          label={`Label sources: ${h.labelSources.overall.mix.map((m) => `${m.source} ${m.count}`).join(', ')}`}
          caption={`Self-selected share of the latest snapshot's training labels (source or selector 'model') ${pct(h.labelSources.selfLabelShare)} (limit ${pct(h.labelSources.selfLabelLimit)}); user-selected (feedback corrections) ${pct(h.labelSources.userSelectedShare)}. ${h.labelSources.rule}`}
        />
      )}
      <h3>Correction trend</h3>
      {measured.length === 0 ? (
        <Empty>No traffic in the window to measure corrections against.</Empty>
      ) : (
        <PlotFigure
          spec={correctionTrendSpec(h.overrideTrend.buckets)}
          label={`Correction trend: corrections per request in ${measured.length} time buckets, latest ${pct(h.overrideTrend.staleness.latestRate)}; staleness ${h.overrideTrend.staleness.status}`}
          caption={h.overrideTrend.staleness.detail}
        />
      )}
    </>
  );
}
