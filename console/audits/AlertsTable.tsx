// The alerts an audit's reports raised: whether the webhook took them (delivered, failed, pending, after
// how many attempts) and what they propose (a started retraining run, a rollback for an approver).
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { Empty, Query } from '../components/states';
import { when } from '../format';
import { useTRPC, type Outputs } from '../trpc';

type AlertRow = Outputs['audits']['alerts'][number];
const STATUS_BADGE: Record<AlertRow['status'], string> = { delivered: 'ok', failed: 'bad', pending: 'warn' };

export function AuditAlerts({ model, auditId }: { model: string; auditId: string }) {
  const trpc = useTRPC();
  const reports = useQuery({ ...trpc.audits.reports.queryOptions({ model, auditId, limit: 200 }), refetchInterval: 5_000 });
  const alerts = useQuery({ ...trpc.audits.alerts.queryOptions({ model, limit: 500 }), refetchInterval: 5_000 });
  const ours = new Set(reports.data?.map((r) => r.reportId));
  return (
    <section aria-labelledby="alerts-heading">
      <h2 id="alerts-heading">Alerts</h2>
      <Query q={alerts} what="alerts">
        {(rows) => {
          const mine = rows.filter((a) => a.reportId !== null && ours.has(a.reportId));
          return mine.length === 0 ? <Empty>No alerts from this audit’s reports.</Empty> : <AlertsTable rows={mine} />;
        }}
      </Query>
    </section>
  );
}

function Proposed({ a }: { a: AlertRow }) {
  if (a.retrainingRunId)
    return (
      <>
        Retraining run <Link href={`/runs/${encodeURIComponent(a.retrainingRunId)}`}>{a.retrainingRunId}</Link>
      </>
    );
  if (a.proposal) return <>{a.proposal}</>;
  return <>—</>;
}

function AlertsTable({ rows }: { rows: AlertRow[] }) {
  return (
    <table>
      <caption className="hint">{rows.length} alerts, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Raised</th>
          <th scope="col">Kind</th>
          <th scope="col">Summary</th>
          <th scope="col">Delivery</th>
          <th scope="col" className="num">
            Attempts
          </th>
          <th scope="col">Last answer</th>
          <th scope="col">Proposed action</th>
          <th scope="col">Report</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => (
          <tr key={a.alertId}>
            <td>{when(a.createdAt)}</td>
            <td>
              {a.kind.replace('_', ' ')} <span className="hint">({a.severity})</span>
            </td>
            <td>{a.summary}</td>
            <td>
              <span className={`badge ${STATUS_BADGE[a.status]}`}>{a.status}</span>
              {a.deliveredAt && <span className="hint"> {when(a.deliveredAt)}</span>}
            </td>
            <td className="num">{a.attempts}</td>
            <td>{a.lastError ?? (a.lastStatus !== null ? `HTTP ${a.lastStatus}` : '—')}</td>
            <td>
              <Proposed a={a} />
            </td>
            <td>{a.reportId === null ? '—' : `#${a.reportId}`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
