// One task in front of an annotator: the batch's progress, the guidelines in force, the input (drawn
// safely), a button per label and Skip, each with its key shown. Focus goes to the task's heading when
// a task arrives, so a keyboard-only person labels one after another without reaching for Tab.
import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { SafeInput } from '../components/SafeInput';
import { when } from '../format';
import type { Outputs } from '../trpc';
import { labelKey, SKIP_KEY, useShortcuts } from './shortcuts';

type Next = Outputs['annotation']['next'];
export type HeldTask = NonNullable<Next['task']>;
export type BatchProgress = NonNullable<Next['progress']>;

export function Progress({ progress, mine }: { progress: BatchProgress | null; mine: number }) {
  return (
    <div className="progress-line">
      {progress && (
        <>
          <label htmlFor="batch-progress" className="inline">
            Batch: {progress.done} of {progress.tasks} tasks done
          </label>
          <progress id="batch-progress" max={Math.max(1, progress.tasks)} value={progress.done} />
        </>
      )}
      <span>
        You labelled <strong>{mine}</strong> {mine === 1 ? 'task' : 'tasks'} in this session.
      </span>
    </div>
  );
}

function Guidelines({ spec, changed }: { spec: HeldTask['spec']; changed: boolean }) {
  return (
    <details className="panel guidelines" open={changed || undefined}>
      <summary>
        Guidelines, version {spec.version}
        {changed && <span className="badge warn">changed since your last task</span>}
      </summary>
      <div className="guidelines-text">{spec.guidelines}</div>
      <p className="hint">Labels: {spec.labels.join(', ')}.</p>
    </details>
  );
}

export function Workspace({
  task,
  busy,
  guidelinesChanged,
  onLabel,
  onSkip,
}: {
  task: HeldTask;
  busy: boolean;
  guidelinesChanged: boolean;
  onLabel(label: number): void;
  onSkip(reason: string): void;
}) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  const [reason, setReason] = useState('');
  const labels = task.spec.labels;

  // A new task: its heading takes focus (and is read out), the reason field starts empty.
  useEffect(() => {
    setReason('');
    heading.current?.focus();
  }, [task.taskId]);

  const keys: Record<string, () => void> = { [SKIP_KEY]: () => onSkip(reason.trim()) };
  labels.forEach((_, i) => {
    const k = labelKey(i);
    if (k) keys[k] = () => onLabel(i);
  });
  useShortcuts(keys, !busy);

  const skip = (e: FormEvent) => {
    e.preventDefault();
    if (!busy) onSkip(reason.trim());
  };
  // Escape leaves the reason field for the task, where the shortcuts work again.
  const leaveField = (e: KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Escape') heading.current?.focus();
  };

  return (
    <article className="task" aria-labelledby={`${id}-h`} aria-busy={busy}>
      <h2 id={`${id}-h`} ref={heading} tabIndex={-1}>
        Task {task.taskId}
        {task.adjudication && <span className="badge warn">adjudication: annotators disagreed</span>}
      </h2>
      <p className="hint">
        Held for you until {when(task.expiresAt)}. Keys: {labels.length > 1 ? `1–${Math.min(9, labels.length)}` : '1'} label, <kbd>S</kbd> skip (not while typing in a
        field; <kbd>Esc</kbd> leaves it).
      </p>
      <div className="label-actions" role="group" aria-label="Labels">
        {labels.map((name, i) => {
          const k = labelKey(i);
          return (
            <button key={name} type="button" className="label-button" disabled={busy} onClick={() => onLabel(i)} aria-keyshortcuts={k ?? undefined}>
              {k && <kbd aria-hidden="true">{k}</kbd>} {name}
            </button>
          );
        })}
      </div>
      <form className="skip-form" aria-label="Skip this task" onSubmit={skip}>
        <label htmlFor={`${id}-reason`}>Reason for skipping (optional)</label>
        <input id={`${id}-reason`} value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} onKeyDown={leaveField} autoComplete="off" />
        <button type="submit" disabled={busy} aria-keyshortcuts="S">
          <kbd aria-hidden="true">S</kbd> Skip
        </button>
      </form>
      <Guidelines spec={task.spec} changed={guidelinesChanged} />
      <SafeInput input={task.example.input} />
    </article>
  );
}
