// Audits: the scheduled bias re-audits and drift monitors, their state and their next and last runs; an
// operator may schedule one here.
import { useQuery } from '@tanstack/react-query';
import { Link } from 'wouter';
import { CreateAuditForm } from '../audits/CreateAuditForm';
import { KIND_LABEL, specText } from '../audits/labels';
import { Empty, Query } from '../components/states';
import { when } from '../format';
import { useSession } from '../session';
import { useTRPC, type Outputs } from '../trpc';

type AuditRow = Outputs['audits']['list'][number];

export function AuditsPage() {
  const trpc = useTRPC();
  const { can } = useSession();
  const audits = useQuery({ ...trpc.audits.list.queryOptions({}), refetchInterval: 10_000 });
  return (
    <section>
      <h1>Audits</h1>
      <p className="hint">Scheduled bias re-audits and drift monitors of production models. Each is a Temporal Schedule.</p>
      <Query q={audits} what="audits">
        {(rows) => (rows.length === 0 ? <Empty>No audits are scheduled yet.</Empty> : <AuditsTable rows={rows} />)}
      </Query>
      {can('operator') && <CreateAuditForm />}
    </section>
  );
}

function AuditsTable({ rows }: { rows: AuditRow[] }) {
  return (
    <table>
      <caption className="hint">{rows.length} scheduled audits</caption>
      <thead>
        <tr>
          <th scope="col">Audit</th>
          <th scope="col">Kind</th>
          <th scope="col">Model</th>
          <th scope="col">Runs</th>
          <th scope="col">State</th>
          <th scope="col">Next run</th>
          <th scope="col">Last run</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((a) => (
          <tr key={a.id}>
            <td>
              <Link href={`/audits/${encodeURIComponent(a.id)}`}>{a.id}</Link>
            </td>
            <td>{KIND_LABEL[a.kind]}</td>
            <td>{a.model ? <Link href={`/models/${encodeURIComponent(a.model)}`}>{a.model}</Link> : '—'}</td>
            <td>{specText(a.spec)}</td>
            <td>
              <span className={`badge ${a.paused ? 'warn' : 'ok'}`}>{a.paused ? 'paused' : 'active'}</span>
            </td>
            <td>{a.paused ? '— (paused)' : when(a.nextActionTimes[0])}</td>
            <td>{when(a.recentActions.at(-1)?.scheduledAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
