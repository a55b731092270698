// One audit schedule: what it runs and when, its state, what an operator may do to it, its reports over
// time (a chart per finding) and the alerts they raised.
import { useQuery } from '@tanstack/react-query';
import { Link, useParams } from 'wouter';
import { AuditActions } from '../audits/AuditActions';
import { AuditAlerts } from '../audits/AlertsTable';
import { AuditReports } from '../audits/AuditReports';
import { KIND_LABEL, policyText, specText } from '../audits/labels';
import { Query } from '../components/states';
import { when } from '../format';
import { useSession } from '../session';
import { useTRPC, type Outputs } from '../trpc';

type Audit = Outputs['audits']['describe'];

export function AuditPage() {
  const { scheduleId = '' } = useParams<{ scheduleId: string }>();
  const trpc = useTRPC();
  const { can } = useSession();
  const audit = useQuery({ ...trpc.audits.describe.queryOptions({ id: scheduleId }), refetchInterval: 10_000 });
  return (
    <section>
      <p>
        <Link href="/audits">← All audits</Link>
      </p>
      <h1>Audit {scheduleId}</h1>
      <Query q={audit} what="the audit">
        {(a) => (
          <>
            <Facts a={a} />
            {can('operator') && <AuditActions audit={a} />}
            {a.model ? (
              <>
                <AuditReports model={a.model} auditId={a.id} policy={a.policy} />
                <AuditAlerts model={a.model} auditId={a.id} />
              </>
            ) : (
              <p className="hint">This schedule names no model, so it has no reports to show.</p>
            )}
          </>
        )}
      </Query>
    </section>
  );
}

function Facts({ a }: { a: Audit }) {
  const last = a.recentActions.at(-1);
  return (
    <dl className="facts">
      <dt>Kind</dt>
      <dd>{KIND_LABEL[a.kind]}</dd>
      <dt>Model</dt>
      <dd>{a.model ? <Link href={`/models/${encodeURIComponent(a.model)}`}>{a.model}</Link> : '—'}</dd>
      <dt>Runs</dt>
      <dd>
        {specText(a.spec)}, over the {a.windowDays === 1 ? 'day' : `${a.windowDays ?? '?'} days`} before each run; if one is still going: {a.overlap.replace('_', ' ')}
      </dd>
      <dt>State</dt>
      <dd>
        <span className={`badge ${a.paused ? 'warn' : 'ok'}`}>{a.paused ? 'paused' : 'active'}</span>
        {a.note && <span className="hint"> {a.note}</span>}
      </dd>
      <dt>Next run</dt>
      <dd>{a.paused ? '— (paused)' : when(a.nextActionTimes[0])}</dd>
      <dt>Last run</dt>
      <dd>{last ? `${when(last.scheduledAt)} (${last.workflowId})` : '—'}</dd>
      <dt>Runs taken</dt>
      <dd>
        {a.actionsTaken} ({a.actionsSkippedOverlap} skipped for overlap, {a.actionsMissedCatchupWindow} missed); {a.runningWorkflowIds.length} running
      </dd>
      <dt>Policy</dt>
      <dd>
        {a.policy ? policyText(a.policy) : '—'}
      </dd>
      <dt>Created</dt>
      <dd>
        {when(a.createdAt)} by {a.createdBy ?? '—'}
      </dd>
    </dl>
  );
}
