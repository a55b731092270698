// The worst cells of each attribute combination the policy judges (or the evaluation was asked for):
// a cell can fail while both of its attributes' slices pass. One table per combination and metric:
// the cell, its rows, the metric with its 95% Wilson interval, and the outcome the policy's rules gave it.
import { fmt, interval } from '../format';
import { METRIC_NAMES, isRateMetric, type Packet } from './model';

type IntersectionReport = NonNullable<Packet['intersections']>[number];

function metricName(metric: IntersectionReport['metric']): string {
  return isRateMetric(metric) ? METRIC_NAMES[metric] : metric;
}

function CellsTable({ report }: { report: IntersectionReport }) {
  const combination = report.attributes.join(' × ');
  const name = metricName(report.metric);
  const by = report.worstBy === 'upper' ? 'highest upper bound first' : 'lowest lower bound first';
  return (
    <table>
      <caption>
        Worst cells of {combination} by {name.toLowerCase()} ({by}): {report.cells} cells
        {report.belowMinSupport > 0 ? `, ${report.belowMinSupport} below the minimum support (insufficient, not ranked)` : ''}.{' '}
        {report.rules.length > 0 ? `Judged by ${report.rules.join(', ')}.` : 'Not judged by a rule.'}
      </caption>
      <thead>
        <tr>
          <th scope="col">Cell</th>
          <th scope="col" className="num">
            Rows
          </th>
          <th scope="col" className="num">
            {name} (95% interval)
          </th>
          <th scope="col">Outcome</th>
        </tr>
      </thead>
      <tbody>
        {report.worst.map((c) => (
          <tr key={c.cell}>
            <th scope="row">{c.cell.replaceAll('&', ' & ')}</th>
            <td className="num">{c.support}</td>
            <td className="num">
              {fmt(c.interval.estimate)} {interval(c.interval.lower, c.interval.upper)}
            </td>
            <td>{c.outcome ? <span className={`badge ${c.outcome}`}>{c.outcome.replace('_', ' ')}</span> : 'not judged'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function IntersectionsSection({ packet }: { packet: Packet }) {
  const reports = packet.intersections ?? [];
  if (reports.length === 0) return null;
  return (
    <section aria-labelledby="packet-intersections">
      <h2 id="packet-intersections">Intersections</h2>
      <p className="hint">Cells of two attributes together: a cell can fail while each attribute's slices pass.</p>
      {reports.map((r) => (
        <CellsTable key={`${r.attributes.join('&')}|${r.metric}|${r.worstBy}`} report={r} />
      ))}
    </section>
  );
}
