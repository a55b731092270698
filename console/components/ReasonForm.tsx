// A decision with a reason: the reason is required (the server keeps it with the decision), the
// server's refusal is shown as it said it.
import { useId, useState, type FormEvent } from 'react';
import { errorMessage } from '../trpc';

export interface ReasonAction {
  label: string;
  /** Danger actions (reject, roll back) are drawn as such. */
  danger?: boolean;
  run(reason: string): Promise<unknown>;
}

const MIN_REASON = 3;

export function ReasonForm({ title, actions, onDone }: { title: string; actions: ReasonAction[]; onDone?(label: string): void }) {
  const id = useId();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const act = async (e: FormEvent, action: ReasonAction) => {
    e.preventDefault();
    setBusy(action.label);
    setError(null);
    try {
      await action.run(reason.trim());
      setDone(action.label);
      onDone?.(action.label);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };
  return (
    <form className="reason-form" aria-label={title} onSubmit={(e) => e.preventDefault()}>
      <h3>{title}</h3>
      <label htmlFor={`${id}-reason`}>Reason</label>
      <textarea id={`${id}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} rows={2} required minLength={MIN_REASON} />
      <div className="actions">
        {actions.map((a) => (
          <button key={a.label} type="submit" className={a.danger ? 'danger' : undefined} disabled={busy !== null || reason.trim().length < MIN_REASON} onClick={(e) => act(e, a)}>
            {busy === a.label ? `${a.label}…` : a.label}
          </button>
        ))}
      </div>
      {reason.trim().length < MIN_REASON && <p className="hint">A reason of at least {MIN_REASON} characters is kept with the decision.</p>}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {done && (
        <p role="status" className="ok">
          {done}: done.
        </p>
      )}
    </form>
  );
}
