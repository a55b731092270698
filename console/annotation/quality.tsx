// The operators' view of annotation: a model's batches with their progress, and its annotators'
// quality (labels, gold accuracy with its interval and drift, slice-bias flags), as tables and a chart.
import { useMemo } from 'react';
import { Link } from 'wouter';
import { intervalSpec, type IntervalRow } from '../charts';
import { Empty } from '../components/states';
import { PlotFigure } from '../components/PlotFigure';
import { fmt, interval, pct, when } from '../format';
import type { Outputs } from '../trpc';

type Batch = Outputs['annotation']['batches'][number];
type Annotator = Outputs['annotation']['annotators'][number];

const STATUS_TONE: Record<string, string> = { open: 'warn', complete: 'ok', deadline: 'bad', cancelled: 'bad' };

export function BatchesTable({ rows }: { rows: Batch[] }) {
  if (rows.length === 0) return <Empty>No annotation batches for this model yet: a run with annotation creates one.</Empty>;
  return (
    <table>
      <caption className="hint">{rows.length === 1 ? '1 batch' : `${rows.length} batches, newest first`}</caption>
      <thead>
        <tr>
          <th scope="col">Batch</th>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Done
          </th>
          <th scope="col" className="num">
            Open
          </th>
          <th scope="col" className="num">
            Adjudication
          </th>
          <th scope="col" className="num">
            Labels
          </th>
          <th scope="col" className="num">
            Reassigned
          </th>
          <th scope="col">Deadline</th>
          <th scope="col">Closed</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((b) => (
          <tr key={b.batchId}>
            <th scope="row">{b.batchId}</th>
            <td>{b.runId ? <Link href={`/runs/${encodeURIComponent(b.runId)}`}>{b.runId}</Link> : '—'}</td>
            <td>
              <span className={`badge ${STATUS_TONE[b.status] ?? ''}`}>{b.status}</span>
            </td>
            <td className="num">
              {b.progress.done} / {b.progress.tasks}
            </td>
            <td className="num">{b.progress.open}</td>
            <td className="num">{b.progress.adjudication}</td>
            <td className="num">{b.progress.labels}</td>
            <td className="num">{b.progress.reassigned}</td>
            <td>{when(b.deadline)}</td>
            <td>{when(b.closedAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Gold accuracy of the latest batch with gold, per annotator. */
function latestGold(a: Annotator) {
  return a.gold.series.filter((s) => s.gold > 0).at(-1) ?? null;
}

export function AnnotatorsTable({ rows }: { rows: Annotator[] }) {
  return (
    <table>
      <caption className="hint">Gold accuracy is the latest batch with gold items (Wilson 95% interval); drift compares it with the earlier batches pooled.</caption>
      <thead>
        <tr>
          <th scope="col">Annotator</th>
          <th scope="col">Attributes</th>
          <th scope="col" className="num">
            Labels
          </th>
          <th scope="col" className="num">
            Gold accuracy
          </th>
          <th scope="col">95% interval</th>
          <th scope="col">Earlier batches</th>
          <th scope="col">Drift</th>
          <th scope="col">Bias flags</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => {
          const g = latestGold(a);
          return (
            <tr key={a.subject}>
              <th scope="row">
                {a.subject}
                {a.adjudicator && <span className="badge">adjudicator</span>}
              </th>
              <td>
                {Object.entries(a.attributes)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(', ') || '—'}
              </td>
              <td className="num">{a.labels}</td>
              <td className="num">{g ? `${pct(g.accuracy.estimate)} (${g.correct}/${g.gold})` : 'no gold'}</td>
              <td>{g ? interval(g.accuracy.lower, g.accuracy.upper) : '—'}</td>
              <td>{a.gold.baseline ? `${pct(a.gold.baseline.estimate)} ${interval(a.gold.baseline.lower, a.gold.baseline.upper)}` : '—'}</td>
              <td title={a.gold.rule}>
                {a.gold.drifted ? <span className="badge bad">drifted</span> : <span className="badge ok">no drift</span>}
                {a.gold.p !== null && <span className="hint"> p={fmt(a.gold.p, 4)}</span>}
              </td>
              <td>
                {a.biasFlags.length === 0 ? (
                  'none'
                ) : (
                  <ul className="flags">
                    {a.biasFlags.map((f) => (
                      <li key={`${f.slice}=${f.value}`}>
                        <span className="badge warn">
                          {f.slice}={f.value}
                        </span>{' '}
                        disagrees {pct(f.disagreement)} vs {pct(f.rest)} elsewhere (n={f.n}, p={fmt(f.p, 4)})
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** One row per annotator and batch with gold: the accuracy and its interval. */
export function goldRows(rows: Annotator[]): IntervalRow[] {
  return rows.flatMap((a) =>
    a.gold.series
      .filter((s) => s.gold > 0)
      .map((s) => ({
        label: a.gold.series.filter((x) => x.gold > 0).length > 1 ? `${a.subject} · ${when(s.at)}` : a.subject,
        point: s.accuracy.estimate,
        lower: s.accuracy.lower,
        upper: s.accuracy.upper,
        support: s.gold,
        insufficient: s.gold < 10,
      })),
  );
}

export function GoldChart({ rows }: { rows: Annotator[] }) {
  const data = useMemo(() => goldRows(rows), [rows]);
  const spec = useMemo(() => intervalSpec(data, { x: 'Gold accuracy →', domain: [0, 1] }), [data]);
  if (data.length === 0) return <Empty>No gold items labelled yet, so no gold accuracy to chart.</Empty>;
  return (
    <PlotFigure
      spec={spec}
      label="Gold accuracy per annotator with 95% intervals"
      caption="Each annotator's accuracy on gold items, batch by batch, with its Wilson 95% interval; hollow points rest on fewer than 10 gold labels."
    />
  );
}
