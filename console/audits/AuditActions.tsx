// What an operator may do to an audit: pause or resume it (with a reason, kept as its note), run it now,
// backfill a past range, or delete it (after a confirmation). Each refusal is shown as the server said it.
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent } from 'react';
import { useLocation } from 'wouter';
import { ReasonForm } from '../components/ReasonForm';
import { errorMessage, useTRPC, type Outputs } from '../trpc';

type Audit = Outputs['audits']['describe'];
const DAY = 86_400_000;
const isoDay = (t: number) => new Date(t).toISOString().slice(0, 10);

export function AuditActions({ audit }: { audit: Audit }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const refresh = () => qc.invalidateQueries({ queryKey: trpc.audits.pathKey() });
  const pause = useMutation(trpc.audits.pause.mutationOptions({ onSuccess: refresh }));
  const resume = useMutation(trpc.audits.resume.mutationOptions({ onSuccess: refresh }));
  return (
    <section className="panel" aria-labelledby="audit-actions">
      <h2 id="audit-actions">Operate</h2>
      <ReasonForm
        key={audit.paused ? 'resume' : 'pause'}
        title={audit.paused ? 'Resume this audit' : 'Pause this audit'}
        actions={[
          audit.paused
            ? { label: 'Resume', run: (reason) => resume.mutateAsync({ id: audit.id, reason }) }
            : { label: 'Pause', run: (reason) => pause.mutateAsync({ id: audit.id, reason }) },
        ]}
      />
      <TriggerNow id={audit.id} onDone={refresh} />
      <BackfillForm id={audit.id} onDone={refresh} />
      <DeleteAudit id={audit.id} />
    </section>
  );
}

function TriggerNow({ id, onDone }: { id: string; onDone(): void }) {
  const trpc = useTRPC();
  const trigger = useMutation(trpc.audits.trigger.mutationOptions({ onSuccess: onDone }));
  return (
    <div className="action">
      <h3>Run now</h3>
      <p className="hint">One run over the window ending now, beside any run under way.</p>
      <button type="button" disabled={trigger.isPending} onClick={() => trigger.mutate({ id })}>
        {trigger.isPending ? 'Starting…' : 'Run now'}
      </button>
      {trigger.isError && (
        <p role="alert" className="error">
          {errorMessage(trigger.error)}
        </p>
      )}
      {trigger.data && (
        <p role="status" className="ok">
          Started {trigger.data.workflowId ?? '(the schedule has not reported the run yet)'}.
        </p>
      )}
    </div>
  );
}

function BackfillForm({ id, onDone }: { id: string; onDone(): void }) {
  const trpc = useTRPC();
  const f = useId();
  const today = Math.floor(Date.now() / DAY) * DAY;
  const [from, setFrom] = useState(isoDay(today - 14 * DAY));
  const [to, setTo] = useState(isoDay(today));
  const [overlap, setOverlap] = useState<'allow_all' | 'skip' | 'buffer_all'>('allow_all');
  const backfill = useMutation(trpc.audits.backfill.mutationOptions({ onSuccess: onDone }));
  const submit = (e: FormEvent) => {
    e.preventDefault();
    backfill.mutate({ id, from: `${from}T00:00:00Z`, to: `${to}T00:00:00Z`, overlap });
  };
  return (
    <form className="action" aria-label="Backfill" onSubmit={submit}>
      <h3>Backfill a past range</h3>
      <p className="hint">One run for every scheduled time in [from, to), as if the schedule had fired then (UTC days).</p>
      <div className="filters">
        <div>
          <label htmlFor={`${f}-from`}>From (UTC day, included)</label>
          <input id={`${f}-from`} type="date" value={from} required onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div>
          <label htmlFor={`${f}-to`}>To (UTC day, excluded)</label>
          <input id={`${f}-to`} type="date" value={to} required onChange={(e) => setTo(e.target.value)} />
        </div>
        <div>
          <label htmlFor={`${f}-overlap`}>Backfilled runs</label>
          <select id={`${f}-overlap`} value={overlap} onChange={(e) => setOverlap(e.target.value === 'skip' ? 'skip' : e.target.value === 'buffer_all' ? 'buffer_all' : 'allow_all')}>
            <option value="allow_all">run side by side</option>
            <option value="buffer_all">run one after another</option>
            <option value="skip">skip while one runs</option>
          </select>
        </div>
      </div>
      <button type="submit" disabled={backfill.isPending}>
        {backfill.isPending ? 'Backfilling…' : 'Backfill'}
      </button>
      {backfill.isError && (
        <p role="alert" className="error">
          {errorMessage(backfill.error)}
        </p>
      )}
      {backfill.data && (
        <p role="status" className="ok">
          Backfill of {backfill.data.from.toISOString().slice(0, 10)} to {backfill.data.to.toISOString().slice(0, 10)} requested; reports appear as its runs finish.
        </p>
      )}
    </form>
  );
}

function DeleteAudit({ id }: { id: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [, navigate] = useLocation();
  const [confirming, setConfirming] = useState(false);
  const del = useMutation(
    trpc.audits.delete.mutationOptions({
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: trpc.audits.list.queryKey() });
        navigate('/audits');
      },
    }),
  );
  return (
    <div className="action">
      <h3>Delete</h3>
      {!confirming ? (
        <button type="button" className="danger" onClick={() => setConfirming(true)}>
          Delete audit…
        </button>
      ) : (
        <div role="group" aria-label="Confirm deletion">
          <p>
            Delete <strong>{id}</strong>? It runs no more; runs already started finish, and its reports stay.
          </p>
          <button type="button" className="danger" disabled={del.isPending} onClick={() => del.mutate({ id })}>
            Confirm delete
          </button>{' '}
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {del.isError && (
        <p role="alert" className="error">
          {errorMessage(del.error)}
        </p>
      )}
    </div>
  );
}
