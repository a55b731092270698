// An audit's reports over time: the verdict of each window, a chart per finding (each PSI, rate change
// and fairness gap across the windows, with its interval where the report carries one), and a table.
import { useQueries, useQuery } from '@tanstack/react-query';
import { PlotFigure } from '../components/PlotFigure';
import { Empty, ErrorState, Loading, Query } from '../components/states';
import { fmt, when } from '../format';
import { useTRPC } from '../trpc';
import { findingSeries, type AuditPolicy, type ReportRow, type WholeReport } from './findings';
import { findingSpec, verdictSpec, windowSpan } from './specs';

/** Most reports whose bodies are read for the charts (the table lists all that audits.reports returns). */
const CHARTED = 30;

export function AuditReports({ model, auditId, policy }: { model: string; auditId: string; policy: AuditPolicy }) {
  const trpc = useTRPC();
  const reports = useQuery({ ...trpc.audits.reports.queryOptions({ model, auditId, limit: 200 }), refetchInterval: 5_000 });
  return (
    <section aria-labelledby="reports-heading">
      <h2 id="reports-heading">Reports over time</h2>
      <Query q={reports} what="reports">
        {(rows) =>
          rows.length === 0 ? (
            <Empty>No reports yet: run the audit now or backfill a past range.</Empty>
          ) : (
            <>
              <PlotFigure
                spec={verdictSpec(rows.slice(0, CHARTED))}
                label="Verdict of each window"
                caption={`Each window's verdict, by the window's end: alerted (the policy was crossed) or quiet${rows.length > CHARTED ? ` (the latest ${CHARTED} windows; the table lists all)` : ''}.`}
              />
              <FindingCharts rows={rows.slice(0, CHARTED)} policy={policy} />
              <ReportsTable rows={rows} />
            </>
          )
        }
      </Query>
    </section>
  );
}

function FindingCharts({ rows, policy }: { rows: ReportRow[]; policy: AuditPolicy }) {
  const trpc = useTRPC();
  const wholes = useQueries({ queries: rows.map((r) => ({ ...trpc.audits.report.queryOptions({ reportId: r.reportId }), staleTime: Infinity })) });
  const failed = wholes.find((q) => q.isError);
  if (failed) return <ErrorState error={failed.error} what="report findings" />;
  const loaded = wholes.map((q) => q.data).filter((d): d is WholeReport => d !== undefined);
  if (loaded.length < rows.length) return <Loading what="report findings" />;
  const series = findingSeries(loaded, policy);
  const span = windowSpan(rows);
  if (series.length === 0) return <Empty>These reports hold no findings to chart.</Empty>;
  return (
    <div className="finding-charts">
      <h3>Findings</h3>
      {series.map((s) => (
        <div key={s.key}>
          <h4>{s.label}</h4>
          <PlotFigure
            spec={findingSpec(s.points, s.measure, span)}
            label={`${s.label} across reports`}
            caption={`${s.measure}: one point per window, placed at the window's end, red where the policy was crossed${s.points.some((p) => p.lower !== null) ? ', with its 95% interval' : ''}${s.points.some((p) => p.threshold !== null) ? '; the dashed line is the policy’s bound' : ''}.`}
          />
        </div>
      ))}
    </div>
  );
}

function ReportsTable({ rows }: { rows: ReportRow[] }) {
  return (
    <table>
      <caption className="hint">{rows.length} reports, newest window first</caption>
      <thead>
        <tr>
          <th scope="col">Report</th>
          <th scope="col">Window</th>
          <th scope="col">Version</th>
          <th scope="col">Verdict</th>
          <th scope="col" className="num">
            Requests
          </th>
          <th scope="col" className="num">
            Labelled
          </th>
          <th scope="col">Reasons</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.reportId}>
            <td>#{r.reportId}</td>
            <td>
              {when(r.windowFrom)} – {when(r.windowTo)}
            </td>
            <td>{r.version === null ? '—' : `v${r.version}`}</td>
            <td>
              <span className={`badge ${r.alert ? 'bad' : 'ok'}`}>{r.alert ? 'alerted' : 'quiet'}</span>
            </td>
            <td className="num">{fmt(r.requests, 0)}</td>
            <td className="num">{fmt(r.labelled, 0)}</td>
            <td>{r.reasons.length ? r.reasons.join('; ') : '—'}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
